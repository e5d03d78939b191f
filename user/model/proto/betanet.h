/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Betanet wire parser (DESIGN.md, "Betanet mixnode"). Pure: no I/O, no globals.
 *
 * One parser per TCP connection, fed the bytes of each direction in order as chunks
 * seen at read/write syscalls. A chunk may be captured only in part: its first
 * `captured` bytes are known, the remaining `total - captured` bytes passed but are
 * unknown (a gap). Frame bodies may fall in gaps; a length prefix or header that falls in
 * a gap loses the frame boundary (BETANET_ERR_DESYNC) and that direction stops parsing.
 *
 * Wire format, each direction:
 *   handshake: u32 BE length n, then n bytes of JSON advertisement (n <= 4096; the
 *              server's comes first), then one version byte 0x1M (0x12 = v1.2)
 *   frames:    u32 BE length L, then L bytes of body. Client->server (request) bodies
 *              start with an 8-byte header: version 0x01, type (1 data, 2 control,
 *              3 cover), flags, layer, u16 BE payload length, u16 reserved.
 *              Server->client (response) bodies are a raw packet (no header).
 *              A body is at most BETANET_MAX_BODY bytes.
 */
#ifndef FOGPROBE_MODEL_PROTO_BETANET_H
#define FOGPROBE_MODEL_PROTO_BETANET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BETANET_MAX_ADVERT 4096
#define BETANET_MAX_PACKET 2048
#define BETANET_HEADER_LEN 8
#define BETANET_MAX_BODY (BETANET_MAX_PACKET + BETANET_HEADER_LEN)

enum betanet_frame_type {
	BETANET_DATA = 1,
	BETANET_CONTROL = 2,
	BETANET_COVER = 3,
	BETANET_RESPONSE = 4, /* server -> client */
};

enum betanet_error {
	BETANET_ERR_NONE = 0,
	BETANET_ERR_ADVERT_TOO_BIG, /* advertisement length > 4096 */
	BETANET_ERR_BAD_HANDSHAKE, /* length 0, advert not a JSON object, bad version byte */
	BETANET_ERR_VERSION_MISMATCH, /* the two sides' version bytes differ */
	BETANET_ERR_BAD_FRAME, /* body length 0 or > BETANET_MAX_BODY, bad header */
	BETANET_ERR_DESYNC, /* a length or header fell in an uncaptured gap */
};

enum betanet_event_type {
	BETANET_EV_HANDSHAKE_DONE, /* both version bytes seen and equal */
	BETANET_EV_FRAME, /* a whole frame (its last byte) passed */
	BETANET_EV_ERROR, /* the direction (or the connection) stops parsing */
};

struct betanet_event {
	enum betanet_event_type type;
	bool from_server; /* direction of the bytes that completed the event */
	uint64_t ts_ns; /* timestamp of the chunk that completed it */
	/* FRAME */
	enum betanet_frame_type frame_type;
	uint32_t wire_len; /* 4 + body length */
	uint8_t layer; /* requests only */
	uint16_t payload_len; /* requests only, from the header */
	/* HANDSHAKE_DONE */
	uint8_t version; /* the agreed version byte */
	/* ERROR */
	enum betanet_error error;
};

typedef void (*betanet_event_fn)(void *ctx, const struct betanet_event *ev);

/* Per-direction decoder state; opaque to callers but sized so it can be embedded. */
struct betanet_dir {
	uint8_t state;
	uint8_t need; /* bytes still needed for the current fixed-size field (<= 8) */
	uint8_t buf[8];
	uint32_t len; /* current advert or body length */
	uint32_t left; /* body bytes still to pass */
	uint8_t version;
	bool stopped;
};

struct betanet_parser {
	struct betanet_dir dir[2]; /* [0] client->server, [1] server->client */
	bool handshake_done;
	bool failed; /* an ERROR was reported for the connection */
};

void betanet__init(struct betanet_parser *p);

/*
 * Feed one chunk of one direction. data holds the first `captured` bytes of a chunk of
 * `total` bytes (captured <= total). Calls fn for each event completed by the chunk, in
 * order. Never reads beyond data[captured - 1]; bounded time in total.
 */
void betanet__feed(struct betanet_parser *p, bool from_server, const uint8_t *data,
		   size_t captured, size_t total, uint64_t ts_ns, betanet_event_fn fn, void *ctx);

/*
 * True once from_server's direction stopped parsing: after its ERROR, or after a handshake
 * error of either direction (p->failed stops both). Later chunks of it produce no events.
 */
bool betanet__stopped(const struct betanet_parser *p, bool from_server);

const char *betanet__error_name(enum betanet_error e); /* "advert_too_big", ... */
const char *betanet__frame_type_name(enum betanet_frame_type t); /* "data", ... */

#endif
