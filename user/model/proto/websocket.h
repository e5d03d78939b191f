/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * WebSocket (RFC 6455) frame parser and BitChat JSON message fields (DESIGN.md, "BitChat").
 * Pure: no I/O, no globals, no heap.
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
 * permessage-deflate (RFC 7692) sets RSV1 on the first frame of a compressed message. Such
 * a message is counted (WS_EV_MESSAGE with compressed set) but its payload is not
 * inflated: type and the other JSON fields stay "" and json is false. RSV1 anywhere else,
 * and RSV2/RSV3 always, are WS_EV_ERROR "reserved_bits" (no other extension is known).
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
};

struct ws_message {
	bool text;
	uint64_t len; /* payload bytes of the whole message (of the frame for PING/PONG/CLOSE) */
	uint32_t fragments; /* frames of the message, first one included */
	bool compressed; /* RSV1 (permessage-deflate): payload not inspected */
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
	                       "too_long" (static strings) */
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
};

struct ws_conn {
	struct ws_dir dir[2]; /* indexed by from_client: [0] server->client, [1] client->server */
};

/* A zeroed struct ws_conn is equally ready to use. */
void ws__init(struct ws_conn *c);

/*
 * Feed one chunk of one direction. data holds the first `captured` bytes of a chunk of
 * `total` bytes (captured <= total; a larger captured raises total). Calls fn for each
 * event completed by the chunk, in order. Never reads beyond data[captured - 1]; time is
 * linear in captured and constant in the gap.
 */
void ws__feed(struct ws_conn *c, bool from_client, const uint8_t *data, size_t captured,
	      size_t total, uint64_t ts_ns, ws_event_fn fn, void *ctx);

/* True once from_client's direction stopped parsing (after its ERROR). */
bool ws__stopped(const struct ws_conn *c, bool from_client);

/*
 * Extract the keys above from a JSON text (possibly a truncated prefix: complete false).
 * Sets only the JSON fields of m (type .. json); text, len, fragments, compressed and gap
 * are left as they are. Pure, exposed for tests and fuzzing. Never reads past len.
 */
void ws__json_extract(const uint8_t *text, size_t len, bool complete, struct ws_message *m);

#endif
