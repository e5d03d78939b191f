/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * WebSocket (RFC 6455) frame parser with permessage-deflate (RFC 7692), and BitChat JSON
 * message fields (DESIGN.md, "BitChat"). Pure: no I/O, no globals; the only heap is zlib's
 * inflate state of a connection that negotiated permessage-deflate (ws__free releases it).
 *
 * One struct ws_conn per TCP connection, fed after the HTTP upgrade with the bytes of each
 * direction in order, as chunks seen at read/write syscalls. A chunk may be captured only
 * in part: its first `captured` bytes are known, the remaining `total - captured` bytes
 * passed but are unknown (a gap). Payload bytes in a gap are counted off by length; a
 * frame header in a gap loses the framing (WS_EV_ERROR "desync") and that direction stops.
 *
 * Client->server frames must be masked, server->client frames must not (RFC 6455 5.1).
 * Data messages (text, binary, and their continuation frames) are reported once whole;
 * control frames (ping, pong, close) are reported as they end, also between fragments.
 *
 * permessage-deflate (RFC 7692), once ws__set_deflate() gave the parameters the server's
 * 101 agreed to, sets RSV1 on the first frame of a compressed message. Its payload (all its
 * frames, unmasked, plus 00 00 ff ff: RFC 7692 7.2.2) is inflated through one raw-inflate
 * zlib stream per direction, with a 32 KiB window (see websocket.c), reset before each message
 * when that direction has no context takeover, and the message is reported as an
 * uncompressed one would be (compressed set, data_len the inflated length). The stream is
 * followed only while every byte of it was captured: a compressed message partly in a gap,
 * data zlib refuses, or ws__inflate_drop() ends it for that direction (WS_EV_INFLATE_LOST,
 * once); later compressed messages of that direction are not reported, the framing and the
 * uncompressed messages go on. A message that inflates past max_message is not reported
 * (WS_EV_TOO_BIG); with context takeover the stream is then lost as well.
 * Without permessage-deflate, RSV1 is WS_EV_ERROR "reserved_bits", as RSV1 on a
 * continuation or control frame and RSV2/RSV3 always are (no other extension is known).
 */
#ifndef FOGPROBE_MODEL_PROTO_WEBSOCKET_H
#define FOGPROBE_MODEL_PROTO_WEBSOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WS_TEXT_MAX 1024 /* bytes of a text message kept for JSON extraction */
#define WS_ID_MAX 64 /* type / room / message_id strings, incl. NUL */
#define WS_ROOMS_MAX 8 /* rooms listed in one subscribe/unsubscribe */
#define WS_HDR_MAX 14 /* 2 + 8-byte extended length + 4-byte masking key */
#define WS_CONTROL_MAX 125 /* RFC 6455 5.5: control frame payload limit */

enum ws_event_type {
	WS_EV_MESSAGE, /* a whole data message (text or binary; fragments reassembled) */
	WS_EV_PING, /* control frames */
	WS_EV_PONG,
	WS_EV_CLOSE, /* a close frame */
	WS_EV_ERROR, /* protocol violation or lost framing: that direction stops */
	WS_EV_INFLATE_LOST, /* that direction's compressed messages cannot be followed any more:
			       reason "desync" (bytes of one were not captured, or the stream
			       was given up) or "bad_deflate" (zlib refused the data); once */
	WS_EV_TOO_BIG, /* a compressed message inflated past max_message: not reported
			  (msg.data_len is max_message + 1: no more is inflated) */
};

#define WS_WBITS_MIN 9 /* RFC 7692 allows 8; zlib's deflate uses 9 for 8 (zlib.h) */
#define WS_WBITS_MAX 15

/* permessage-deflate as the server's response agreed (RFC 7692 7.1), per direction. */
struct ws_deflate {
	bool on; /* negotiated: RSV1 marks compressed messages */
	bool unknown; /* an extension was agreed that the probe cannot follow (not parsed,
			 cut, or not permessage-deflate): compressed messages are lost */
	uint8_t wbits[2]; /* [from_client]: LZ77 window of that direction's messages
			     (client_max_window_bits for the client's, server_max_window_bits
			     for the server's; 15 when absent). Parsed and kept for what it
			     says; the inflater's window is always 15 bits (websocket.c) */
	bool no_takeover[2]; /* [from_client]: client_/server_no_context_takeover */
};

struct ws_message {
	bool text;
	uint64_t len; /* payload bytes of the whole message (of the frame for PING/PONG/CLOSE) */
	uint32_t fragments; /* frames of the message, first one included */
	bool compressed; /* RSV1 (permessage-deflate): the JSON fields come from the inflated
			    payload */
	uint64_t data_len; /* payload bytes after inflating (len when not compressed) */
	bool gap; /* some payload bytes were not captured */
	/*
	 * From JSON text messages (top-level object); "" when absent or not extractable.
	 * Extraction works on the first WS_TEXT_MAX bytes even if the message is longer or
	 * partly in a gap (a truncated JSON prefix still yields the keys fully seen).
	 */
	char type[WS_ID_MAX]; /* "type" */
	char group_id[WS_ID_MAX]; /* "group_id" (string or number, as text) */
	char message_id[WS_ID_MAX]; /* "message_id" at top level, else data.message_id */
	char rooms[WS_ROOMS_MAX][WS_ID_MAX]; /* "rooms": [...] strings (subscribe) */
	uint8_t nrooms;
	bool json; /* the kept text parsed as (a prefix of) a JSON object */
};

struct ws_event {
	enum ws_event_type type;
	bool from_client;
	uint64_t ts_ns; /* ts of the chunk completing the event */
	struct ws_message msg; /* MESSAGE; for PING/PONG/CLOSE only msg.len and msg.gap */
	/*
	 * CLOSE: the code as sent; 0 if the frame had no code (1005 "no status") or its code
	 * bytes were not captured. The parser never makes up 1006 (abnormal closure): a
	 * connection that ends without a close frame simply has no CLOSE event.
	 */
	uint16_t close_code;
	const char *reason; /* ERROR: "unmasked_client_frame", "masked_server_frame",
	                       "bad_opcode", "reserved_bits", "control_too_long",
	                       "fragmented_control", "bad_continuation", "desync",
	                       "too_long"; INFLATE_LOST: "desync", "bad_deflate" (static
	                       strings) */
};

typedef void (*ws_event_fn)(void *ctx, const struct ws_event *ev);

/* Per-direction decoder state; opaque to callers but sized so it can be embedded. */
struct ws_dir {
	uint8_t state;
	uint8_t hlen; /* header bytes collected in hdr */
	uint8_t hneed; /* header size, known once its first 2 bytes are in */
	uint8_t hdr[WS_HDR_MAX];
	uint8_t mask_i; /* payload offset in the frame, mod 4 */
	uint64_t flen; /* payload length of the current frame */
	uint64_t left; /* payload bytes of the current frame still to pass */
	/* current control frame */
	uint8_t ctl[2]; /* close code bytes, unmasked */
	uint8_t ctl_n;
	bool ctl_gap; /* some payload bytes of the control frame were not captured */
	/* current data message */
	bool in_msg;
	bool msg_text;
	bool msg_compressed;
	bool msg_gap;
	bool text_cut; /* a gap came before WS_TEXT_MAX bytes of text were kept */
	uint32_t frags;
	uint64_t msg_len;
	uint16_t text_len;
	uint8_t text[WS_TEXT_MAX];
	bool stopped;
	/* permessage-deflate */
	uint8_t z_state; /* off, on, lost */
	bool z_drop; /* the current compressed message is not reported (too big, lost) */
	bool z_end; /* the sender ended the deflate stream (BFINAL) inside this message */
	bool z_big; /* the current compressed message inflated past max_message */
	uint64_t z_out; /* inflated bytes of the current message */
	void *z; /* z_stream *, while a message is inflated or context is taken over */
};

struct ws_conn {
	struct ws_dir dir[2]; /* indexed by from_client: [0] server->client, [1] client->server */
	struct ws_deflate deflate;
	uint64_t max_message; /* inflated bytes of one message at most */
	uint64_t mem; /* bytes zlib holds for this connection now */
};

/* A zeroed struct ws_conn is equally ready to use (without permessage-deflate). */
void ws__init(struct ws_conn *c);

/* Release the inflate state (accepts a conn that never had one); c may then be re-inited. */
void ws__free(struct ws_conn *c);

/*
 * Parse a 101 response's Sec-WebSocket-Extensions value (NULL: unknown; "": none) into
 * what the connection agreed. Extension names and parameters are case-insensitive
 * tokens, values tokens or quoted strings (RFC 6455 9.1). Returns false when the value
 * is not understood (out->unknown is then set).
 */
bool ws__parse_extensions(const char *value, struct ws_deflate *out);

/*
 * permessage-deflate for the frames to come (set before the first one: right after the
 * 101). max_message: inflated bytes of one message at most; past it a message is dropped.
 */
void ws__set_deflate(struct ws_conn *c, const struct ws_deflate *p, uint64_t max_message);

/*
 * Give up inflating (the memory is needed elsewhere): the state is freed and each
 * direction that inflates stops following its compressed messages, silently (the caller
 * reports it). Returns whether any direction was following its stream.
 */
bool ws__inflate_drop(struct ws_conn *c);

/*
 * Feed one chunk of one direction. data holds the first `captured` bytes of a chunk of
 * `total` bytes (captured <= total; a larger captured raises total). Calls fn for each
 * event completed by the chunk, in order. Never reads beyond data[captured - 1]; time is
 * linear in captured and constant in the gap.
 */
void ws__feed(struct ws_conn *c, bool from_client, const uint8_t *data, size_t captured,
	      size_t total, uint64_t ts_ns, ws_event_fn fn, void *ctx);

/* True while some direction follows its compressed messages (or will, at its first one). */
bool ws__inflating(const struct ws_conn *c);

/* True once from_client's direction stopped parsing (after its ERROR). */
bool ws__stopped(const struct ws_conn *c, bool from_client);

/*
 * Extract the keys above from a JSON text (possibly a truncated prefix: complete false).
 * Sets only the JSON fields of m (type .. json); text, len, fragments, compressed and gap
 * are left as they are. Pure, exposed for tests and fuzzing. Never reads past len.
 */
void ws__json_extract(const uint8_t *text, size_t len, bool complete, struct ws_message *m);

#endif
