// SPDX-License-Identifier: GPL-2.0-only
/*
 * user/model/proto/betanet.c: byte streams built as DESIGN.md ("Betanet mixnode") describes
 * them, fed whole, split, coalesced and with uncaptured gaps; every event is checked field
 * by field and a mismatch prints both event lists.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/proto/betanet.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define SERVER true
#define CLIENT false

/* The keys DESIGN.md lists for an advertisement. */
#define ADVERT                                                                                 \
	"{\"version\":{\"major\":1,\"minor\":2,\"patch\":0},\"features\":{\"cover_traffic\":" \
	"true},\"capabilities\":[\"mix\",\"entry\"],"                                        \
	"\"node_id\":\"node-6f1c2a7e-94d3-4b8a-a1f0-3c5d9e2b7a10\"}"

#define SPHINX_LEN 1200 /* a Sphinx packet: 176-byte header + 1024 payload */
#define DATA_BODY (BETANET_HEADER_LEN + SPHINX_LEN)
#define DATA_WIRE (4 + DATA_BODY) /* 1212, the typical data frame */
#define RESP_WIRE (4 + SPHINX_LEN)

/* ---- byte streams ---- */

struct stream {
	uint8_t b[64 * 1024];
	size_t n;
};

static void put(struct stream *s, const void *p, size_t n)
{
	assert_true(s->n + n <= sizeof(s->b));
	memcpy(&s->b[s->n], p, n);
	s->n += n;
}

static void put_u8(struct stream *s, uint8_t v)
{
	put(s, &v, 1);
}

static void put_u32(struct stream *s, uint32_t v)
{
	uint8_t b[4] = { v >> 24, v >> 16, v >> 8, v };

	put(s, b, sizeof(b));
}

static void put_filler(struct stream *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		put_u8(s, (uint8_t)(0xa5 ^ i)); /* never mistaken for a zero length */
}

static void put_advert(struct stream *s, const char *json)
{
	put_u32(s, (uint32_t)strlen(json));
	put(s, json, strlen(json));
}

/* u32 length + 8-byte header + (body_len - 8) payload bytes. */
static void put_request_raw(struct stream *s, uint8_t hver, uint8_t type, uint8_t layer,
			    uint16_t payload_len, uint32_t body_len)
{
	uint8_t h[BETANET_HEADER_LEN] = { hver, type, 0, layer, payload_len >> 8, payload_len };

	put_u32(s, body_len);
	put(s, h, sizeof(h));
	put_filler(s, body_len - BETANET_HEADER_LEN);
}

static void put_request(struct stream *s, uint8_t type, uint8_t layer, uint16_t payload_len,
			uint32_t body_len)
{
	put_request_raw(s, 0x01, type, layer, payload_len, body_len);
}

static void put_response(struct stream *s, uint32_t body_len)
{
	put_u32(s, body_len);
	put_filler(s, body_len);
}

/* ---- the parser under test and what it reported ---- */

#define MAX_EVENTS 512

struct rec {
	struct betanet_parser p;
	struct betanet_event ev[MAX_EVENTS];
	size_t n;
	const char *what; /* names the case in failure messages */
};

static void on_event(void *ctx, const struct betanet_event *ev)
{
	struct rec *r = ctx;

	if (r->n == MAX_EVENTS)
		fail_msg("%s: more than %d events", r->what, MAX_EVENTS);
	r->ev[r->n++] = *ev;
}

static void rec_init(struct rec *r, const char *what)
{
	memset(r, 0, sizeof(*r));
	r->what = what;
	betanet__init(&r->p);
}

/*
 * Feed s->b[off, off + total) of which the first `captured` bytes are known. The captured
 * bytes are copied to a buffer of exactly that size so that valgrind sees any over-read.
 */
static void feed_part(struct rec *r, bool from_server, const struct stream *s, size_t off,
		      size_t captured, size_t total, uint64_t ts)
{
	uint8_t *copy = NULL;

	assert_true(off + captured <= s->n);
	if (captured) {
		copy = malloc(captured);
		assert_non_null(copy);
		memcpy(copy, &s->b[off], captured);
	}
	betanet__feed(&r->p, from_server, copy, captured, total, ts, on_event, r);
	free(copy);
}

static void feed(struct rec *r, bool from_server, const struct stream *s, uint64_t ts)
{
	feed_part(r, from_server, s, 0, s->n, s->n, ts);
}

static void describe(const struct betanet_event *ev, char *buf, size_t len)
{
	const char *dir = ev->from_server ? "server" : "client";

	switch (ev->type) {
	case BETANET_EV_HANDSHAKE_DONE:
		snprintf(buf, len, "HANDSHAKE_DONE %s ts=%llu version=0x%02x", dir,
			 (unsigned long long)ev->ts_ns, ev->version);
		return;
	case BETANET_EV_FRAME:
		snprintf(buf, len, "FRAME %s ts=%llu %s wire_len=%u layer=%u payload_len=%u", dir,
			 (unsigned long long)ev->ts_ns, betanet__frame_type_name(ev->frame_type),
			 ev->wire_len, ev->layer, ev->payload_len);
		return;
	case BETANET_EV_ERROR:
		snprintf(buf, len, "ERROR %s ts=%llu %s", dir, (unsigned long long)ev->ts_ns,
			 betanet__error_name(ev->error));
		return;
	}
	snprintf(buf, len, "event type %d", (int)ev->type);
}

static bool same_event(const struct betanet_event *a, const struct betanet_event *b)
{
	if (a->type != b->type || a->from_server != b->from_server || a->ts_ns != b->ts_ns)
		return false;
	switch (a->type) {
	case BETANET_EV_HANDSHAKE_DONE:
		return a->version == b->version;
	case BETANET_EV_FRAME:
		return a->frame_type == b->frame_type && a->wire_len == b->wire_len &&
		       a->layer == b->layer && a->payload_len == b->payload_len;
	case BETANET_EV_ERROR:
		return a->error == b->error;
	}
	return false;
}

static void print_events(const char *title, const struct betanet_event *ev, size_t n)
{
	char buf[160];
	size_t i;

	print_error("  %s (%zu):\n", title, n);
	for (i = 0; i < n; i++) {
		describe(&ev[i], buf, sizeof(buf));
		print_error("    [%zu] %s\n", i, buf);
	}
}

/* The events reported since the last check must be exactly want[0..n); then forget them. */
static void expect_events(struct rec *r, const struct betanet_event *want, size_t n,
			  const char *file, int line)
{
	size_t i;
	bool ok = r->n == n;

	for (i = 0; ok && i < n; i++)
		ok = same_event(&r->ev[i], &want[i]);
	if (!ok) {
		print_error("%s:%d: %s: events differ\n", file, line, r->what);
		print_events("got", r->ev, r->n);
		print_events("want", want, n);
		fail();
	}
	r->n = 0;
}

#define EXPECT_EVENTS(r, ...)                                                                  \
	do {                                                                                   \
		const struct betanet_event want_[] = { __VA_ARGS__ };                          \
		expect_events(r, want_, ARRAY_SIZE(want_), __FILE__, __LINE__);                \
	} while (0)
#define EXPECT_NO_EVENTS(r) expect_events(r, NULL, 0, __FILE__, __LINE__)

#define EV_DONE(srv, ts, v)                                                                    \
	{                                                                                      \
		.type = BETANET_EV_HANDSHAKE_DONE, .from_server = (srv), .ts_ns = (ts),        \
		.version = (v)                                                                 \
	}
#define EV_REQ(ts, t, wire, lay, plen)                                                         \
	{                                                                                      \
		.type = BETANET_EV_FRAME, .from_server = CLIENT, .ts_ns = (ts),                \
		.frame_type = (t), .wire_len = (wire), .layer = (lay), .payload_len = (plen)   \
	}
#define EV_RESP(ts, wire)                                                                      \
	{                                                                                      \
		.type = BETANET_EV_FRAME, .from_server = SERVER, .ts_ns = (ts),                \
		.frame_type = BETANET_RESPONSE, .wire_len = (wire)                             \
	}
#define EV_ERR(srv, ts, e)                                                                     \
	{                                                                                      \
		.type = BETANET_EV_ERROR, .from_server = (srv), .ts_ns = (ts), .error = (e)    \
	}

static void expect_state(struct rec *r, bool client_stopped, bool server_stopped, bool failed,
			 int line)
{
	bool c = betanet__stopped(&r->p, CLIENT), s = betanet__stopped(&r->p, SERVER);

	if (c != client_stopped || s != server_stopped || r->p.failed != failed)
		fail_msg("line %d: %s: stopped client=%d server=%d failed=%d, want %d %d %d", line,
			 r->what, c, s, r->p.failed, client_stopped, server_stopped, failed);
}

#define EXPECT_STATE(r, c, s, f) expect_state(r, c, s, f, __LINE__)

/* Server advert (ts 1), client advert (2), server version (3), client version (4). */
static void handshake(struct rec *r)
{
	struct stream s = { .n = 0 };

	put_advert(&s, ADVERT);
	feed(r, SERVER, &s, 1);
	feed(r, CLIENT, &s, 2);
	s.n = 0;
	put_u8(&s, 0x12);
	feed(r, SERVER, &s, 3);
	EXPECT_NO_EVENTS(r);
	feed(r, CLIENT, &s, 4);
	EXPECT_EVENTS(r, EV_DONE(CLIENT, 4, 0x12));
	if (!r->p.handshake_done)
		fail_msg("%s: handshake_done not set", r->what);
}

/* After anything that stopped both directions: valid bytes on either side report nothing. */
static void expect_ignored(struct rec *r, bool from_server)
{
	struct stream s = { .n = 0 };

	if (from_server)
		put_response(&s, SPHINX_LEN);
	else
		put_request(&s, BETANET_DATA, 0, SPHINX_LEN, DATA_BODY);
	feed(r, from_server, &s, 99);
	feed_part(r, from_server, &s, 0, 10, s.n + 5000, 99); /* gaps too */
	EXPECT_NO_EVENTS(r);
}

/* ---- tests ---- */

static void test_full_session(void **state)
{
	struct rec *r = *state;
	struct stream s = { .n = 0 };

	rec_init(r, "full session");
	handshake(r);
	EXPECT_STATE(r, false, false, false);

	put_request(&s, BETANET_DATA, 0, SPHINX_LEN, DATA_BODY);
	feed(r, CLIENT, &s, 10);
	EXPECT_EVENTS(r, EV_REQ(10, BETANET_DATA, DATA_WIRE, 0, SPHINX_LEN));

	s.n = 0;
	put_request(&s, BETANET_CONTROL, 1, 16, 24);
	feed(r, CLIENT, &s, 11);
	EXPECT_EVENTS(r, EV_REQ(11, BETANET_CONTROL, 28, 1, 16));

	s.n = 0;
	put_request(&s, BETANET_COVER, 2, SPHINX_LEN, DATA_BODY);
	feed(r, CLIENT, &s, 12);
	EXPECT_EVENTS(r, EV_REQ(12, BETANET_COVER, DATA_WIRE, 2, SPHINX_LEN));

	/* the node writes queued packets back after a read: two responses in one write */
	s.n = 0;
	put_response(&s, SPHINX_LEN);
	put_response(&s, 100);
	feed(r, SERVER, &s, 20);
	EXPECT_EVENTS(r, EV_RESP(20, RESP_WIRE), EV_RESP(20, 104));
	EXPECT_STATE(r, false, false, false);
}

/* The client's version byte and first request arrive before the server's version byte. */
static void test_frames_before_peer_version(void **state)
{
	struct rec *r = *state;
	struct stream s = { .n = 0 };

	rec_init(r, "frames before the peer's version");
	put_advert(&s, ADVERT);
	feed(r, SERVER, &s, 1);
	feed(r, CLIENT, &s, 2);
	s.n = 0;
	put_u8(&s, 0x12);
	put_request(&s, BETANET_DATA, 3, 5, 13);
	feed(r, CLIENT, &s, 3);
	EXPECT_EVENTS(r, EV_REQ(3, BETANET_DATA, 17, 3, 5));
	if (r->p.handshake_done)
		fail_msg("handshake_done set with one version byte");

	s.n = 0;
	put_u8(&s, 0x12);
	put_response(&s, 1);
	feed(r, SERVER, &s, 4);
	EXPECT_EVENTS(r, EV_DONE(SERVER, 4, 0x12), EV_RESP(4, 5));
}

/* Handshake and frames, every byte its own chunk: an event carries its last byte's ts. */
static void test_one_byte_chunks(void **state)
{
	struct rec *r = *state;
	struct stream adv = { .n = 0 }, req = { .n = 0 }, resp = { .n = 0 };
	uint64_t ts = 1000;
	size_t i;

	rec_init(r, "one-byte chunks");
	put_advert(&adv, ADVERT);
	put_u8(&adv, 0x13);
	for (i = 0; i < adv.n; i++)
		feed_part(r, SERVER, &adv, i, 1, 1, ts++);
	for (i = 0; i < adv.n; i++)
		feed_part(r, CLIENT, &adv, i, 1, 1, ts++);
	EXPECT_EVENTS(r, EV_DONE(CLIENT, ts - 1, 0x13));

	put_request(&req, BETANET_CONTROL, 2, 7, 15);
	put_request(&req, BETANET_DATA, 1, SPHINX_LEN, DATA_BODY);
	for (i = 0; i < req.n; i++) {
		feed_part(r, CLIENT, &req, i, 1, 1, ts++);
		if (i == 18) /* the last byte of the 19-byte control frame */
			EXPECT_EVENTS(r, EV_REQ(ts - 1, BETANET_CONTROL, 19, 2, 7));
	}
	EXPECT_EVENTS(r, EV_REQ(ts - 1, BETANET_DATA, DATA_WIRE, 1, SPHINX_LEN));

	put_response(&resp, SPHINX_LEN);
	for (i = 0; i < resp.n; i++)
		feed_part(r, SERVER, &resp, i, 1, 1, ts++);
	EXPECT_EVENTS(r, EV_RESP(ts - 1, RESP_WIRE));
}

/* A whole direction in one chunk: advertisement, version and 40 frames. */
static void test_coalesced(void **state)
{
	struct rec *r = *state;
	struct stream s = { .n = 0 };
	struct betanet_event want[41];
	size_t i;

	rec_init(r, "coalesced");
	put_advert(&s, ADVERT);
	put_u8(&s, 0x12);
	feed(r, SERVER, &s, 1);
	EXPECT_NO_EVENTS(r);

	want[0] = (struct betanet_event)EV_DONE(CLIENT, 2, 0x12);
	for (i = 0; i < 40; i++) {
		uint8_t type = BETANET_DATA + i % 3;
		uint32_t body = BETANET_HEADER_LEN + (uint32_t)i * 7;

		put_request(&s, type, (uint8_t)(i % 4), (uint16_t)(i * 7), body);
		want[i + 1] = (struct betanet_event)EV_REQ(2, type, 4 + body, i % 4, i * 7);
	}
	feed(r, CLIENT, &s, 2);
	expect_events(r, want, ARRAY_SIZE(want), __FILE__, __LINE__);

	/* responses: many in one chunk, the last one ending exactly at the chunk's end */
	s.n = 0;
	for (i = 0; i < 40; i++) {
		put_response(&s, 1 + (uint32_t)i * 51);
		want[i] = (struct betanet_event)EV_RESP(3, 5 + i * 51);
	}
	feed(r, SERVER, &s, 3);
	expect_events(r, want, 40, __FILE__, __LINE__);
}

/* Length prefixes and headers split across chunks. */
static void test_split_fields(void **state)
{
	struct rec *r = *state;
	struct stream s = { .n = 0 };

	rec_init(r, "split length prefix");
	handshake(r);
	put_request(&s, BETANET_COVER, 4, SPHINX_LEN, DATA_BODY);
	feed_part(r, CLIENT, &s, 0, 2, 2, 10);
	feed_part(r, CLIENT, &s, 2, 2, 2, 11);
	EXPECT_NO_EVENTS(r);
	feed_part(r, CLIENT, &s, 4, 3, 3, 12); /* header split 3 + 5 */
	feed_part(r, CLIENT, &s, 7, 5, 5, 13);
	EXPECT_NO_EVENTS(r);
	feed_part(r, CLIENT, &s, 12, s.n - 12, s.n - 12, 14);
	EXPECT_EVENTS(r, EV_REQ(14, BETANET_COVER, DATA_WIRE, 4, SPHINX_LEN));

	s.n = 0;
	put_response(&s, SPHINX_LEN);
	feed_part(r, SERVER, &s, 0, 2, 2, 20);
	feed_part(r, SERVER, &s, 2, 2, 2, 21);
	feed_part(r, SERVER, &s, 4, s.n - 4, s.n - 4, 22);
	EXPECT_EVENTS(r, EV_RESP(22, RESP_WIRE));

	/* the advertisement's length split too */
	rec_init(r, "split advert length");
	s.n = 0;
	put_advert(&s, ADVERT);
	put_u8(&s, 0x12);
	feed_part(r, SERVER, &s, 0, 2, 2, 1);
	feed_part(r, SERVER, &s, 2, s.n - 2, s.n - 2, 2);
	feed_part(r, CLIENT, &s, 0, 3, 3, 3);
	feed_part(r, CLIENT, &s, 3, s.n - 3, s.n - 3, 4);
	EXPECT_EVENTS(r, EV_DONE(CLIENT, 4, 0x12));
}

/* Gaps that cover only body bytes keep the frame boundaries. */
static void test_gap_in_body(void **state)
{
	struct rec *r = *state;
	struct stream s = { .n = 0 };

	rec_init(r, "gap in body");
	handshake(r);

	/* one 1212-byte write, 256 bytes captured */
	put_request(&s, BETANET_DATA, 2, SPHINX_LEN, DATA_BODY);
	feed_part(r, CLIENT, &s, 0, 256, s.n, 10);
	EXPECT_EVENTS(r, EV_REQ(10, BETANET_DATA, DATA_WIRE, 2, SPHINX_LEN));

	/* a frame written in two parts, its end in the second, uncaptured one */
	feed_part(r, CLIENT, &s, 0, 256, 700, 11);
	EXPECT_NO_EVENTS(r);
	feed_part(r, CLIENT, &s, 700, 0, s.n - 700, 12);
	EXPECT_EVENTS(r, EV_REQ(12, BETANET_DATA, DATA_WIRE, 2, SPHINX_LEN));

	/* only the length prefix and header captured: the gap is exactly the payload */
	feed_part(r, CLIENT, &s, 0, 12, s.n, 13);
	EXPECT_EVENTS(r, EV_REQ(13, BETANET_DATA, DATA_WIRE, 2, SPHINX_LEN));

	/* still in sync: a captured frame after the gaps */
	s.n = 0;
	put_request(&s, BETANET_CONTROL, 0, 1, 9);
	feed(r, CLIENT, &s, 14);
	EXPECT_EVENTS(r, EV_REQ(14, BETANET_CONTROL, 13, 0, 1));

	/* responses: two frames in one write, the gap ending inside the second body */
	s.n = 0;
	put_response(&s, 100);
	put_response(&s, SPHINX_LEN);
	feed_part(r, SERVER, &s, 0, 256, s.n - 1, 20);
	EXPECT_EVENTS(r, EV_RESP(20, 104));
	feed_part(r, SERVER, &s, s.n - 1, 1, 1, 21);
	EXPECT_EVENTS(r, EV_RESP(21, RESP_WIRE));
	EXPECT_STATE(r, false, false, false);
}

/* Advertisement bytes may fall in gaps; the version byte must not. */
static void test_gap_in_handshake(void **state)
{
	struct rec *r = *state;
	struct stream s = { .n = 0 };

	rec_init(r, "gap in advert body");
	put_advert(&s, ADVERT);
	feed_part(r, SERVER, &s, 0, 20, s.n, 1);
	feed_part(r, CLIENT, &s, 0, 4, s.n, 2); /* only the length: '{' unchecked */
	s.n = 0;
	put_u8(&s, 0x12);
	feed(r, SERVER, &s, 3);
	feed(r, CLIENT, &s, 4);
	EXPECT_EVENTS(r, EV_DONE(CLIENT, 4, 0x12));

	/* the opening fell in a gap: later captured bytes are mid-document, not checked */
	rec_init(r, "advert opening in a gap");
	s.n = 0;
	put_u32(&s, 10);
	put(&s, "xx\"abc\":1}", 10);
	feed_part(r, SERVER, &s, 0, 4, 6, 1);
	feed_part(r, SERVER, &s, 6, 8, 8, 2);
	EXPECT_NO_EVENTS(r);
	EXPECT_STATE(r, false, false, false);

	/* a write of advert + version byte whose capture ends inside the advert */
	rec_init(r, "version byte in a gap");
	s.n = 0;
	put_advert(&s, ADVERT);
	put_u8(&s, 0x12);
	feed_part(r, SERVER, &s, 0, 20, s.n, 5);
	EXPECT_EVENTS(r, EV_ERR(SERVER, 5, BETANET_ERR_DESYNC));
	/* a capture limit, not a failed handshake: the client side goes on */
	EXPECT_STATE(r, false, true, false);
	feed(r, CLIENT, &s, 6);
	EXPECT_NO_EVENTS(r);
	s.n = 0;
	put_request(&s, BETANET_DATA, 0, 0, 8);
	feed(r, CLIENT, &s, 7);
	EXPECT_EVENTS(r, EV_REQ(7, BETANET_DATA, 12, 0, 0));

	rec_init(r, "advert length in a gap");
	s.n = 0;
	put_advert(&s, ADVERT);
	feed_part(r, CLIENT, &s, 0, 3, s.n, 8);
	EXPECT_EVENTS(r, EV_ERR(CLIENT, 8, BETANET_ERR_DESYNC));
	EXPECT_STATE(r, true, false, false);
}

/* A gap that reaches a length prefix or header loses the frame boundaries. */
static void test_gap_desync(void **state)
{
	struct rec *r = *state;
	struct stream s = { .n = 0 }, two = { .n = 0 };

	put_request(&s, BETANET_DATA, 1, SPHINX_LEN, DATA_BODY);
	put_request(&two, BETANET_DATA, 1, SPHINX_LEN, DATA_BODY);
	put_request(&two, BETANET_COVER, 1, SPHINX_LEN, DATA_BODY);

	/* two frames in one write, 256 captured: the first ends in the gap, then the length */
	rec_init(r, "gap over the next length prefix");
	handshake(r);
	feed_part(r, CLIENT, &two, 0, 256, two.n, 10);
	EXPECT_EVENTS(r, EV_REQ(10, BETANET_DATA, DATA_WIRE, 1, SPHINX_LEN),
		      EV_ERR(CLIENT, 10, BETANET_ERR_DESYNC));
	EXPECT_STATE(r, true, false, false);
	feed(r, CLIENT, &s, 11); /* stopped: ignored */
	EXPECT_NO_EVENTS(r);
	s.n = 0;
	put_response(&s, SPHINX_LEN);
	feed(r, SERVER, &s, 12); /* the other direction is unaffected */
	EXPECT_EVENTS(r, EV_RESP(12, RESP_WIRE));

	/* a gap starting exactly at a frame boundary */
	rec_init(r, "gap at a frame boundary");
	handshake(r);
	feed_part(r, CLIENT, &two, 0, DATA_WIRE, two.n, 20);
	EXPECT_EVENTS(r, EV_REQ(20, BETANET_DATA, DATA_WIRE, 1, SPHINX_LEN),
		      EV_ERR(CLIENT, 20, BETANET_ERR_DESYNC));

	rec_init(r, "gap in a length prefix");
	handshake(r);
	feed_part(r, CLIENT, &two, 0, 2, two.n, 30);
	EXPECT_EVENTS(r, EV_ERR(CLIENT, 30, BETANET_ERR_DESYNC));

	rec_init(r, "gap in a request header");
	handshake(r);
	feed_part(r, CLIENT, &two, 0, 9, two.n, 40);
	EXPECT_EVENTS(r, EV_ERR(CLIENT, 40, BETANET_ERR_DESYNC));

	rec_init(r, "gap in a response length prefix");
	handshake(r);
	s.n = 0;
	put_response(&s, 10);
	put_response(&s, 10);
	feed_part(r, SERVER, &s, 0, 15, s.n, 50);
	EXPECT_EVENTS(r, EV_RESP(50, 14), EV_ERR(SERVER, 50, BETANET_ERR_DESYNC));
	EXPECT_STATE(r, false, true, false);
}

struct advert_case {
	const char *name;
	uint32_t len; /* the advertised length */
	const char *body; /* NULL: len bytes of a valid object */
	enum betanet_error want;
};

static const struct advert_case advert_cases[] = {
	{ "advert_len_0", 0, "", BETANET_ERR_BAD_HANDSHAKE },
	{ "advert_len_4097", 4097, NULL, BETANET_ERR_ADVERT_TOO_BIG },
	{ "advert_len_huge", 0xffffffff, "", BETANET_ERR_ADVERT_TOO_BIG },
	{ "advert_len_4096", 4096, NULL, BETANET_ERR_NONE },
	{ "advert_array", 3, "[1]", BETANET_ERR_BAD_HANDSHAKE },
	{ "advert_text", 5, "hello", BETANET_ERR_BAD_HANDSHAKE },
	{ "advert_binary", 4, "\x00\x00\x00\x01", BETANET_ERR_BAD_HANDSHAKE },
	{ "advert_whitespace_only", 3, " \n\t", BETANET_ERR_BAD_HANDSHAKE },
	{ "advert_after_whitespace", 8, " \r\n\t{}  ", BETANET_ERR_NONE },
	{ "advert_garbage_after_whitespace", 4, "\n\nx{", BETANET_ERR_BAD_HANDSHAKE },
};

/* One advertisement from either side: the error it gives, if any, and then the state. */
static void run_advert_case(void **state)
{
	const struct advert_case *c = *state;
	struct stream s = { .n = 0 };
	int side;

	for (side = 0; side < 2; side++) {
		bool srv = side;
		struct rec *r = calloc(1, sizeof(*r));
		char what[96];

		assert_non_null(r);
		snprintf(what, sizeof(what), "%s from the %s", c->name, srv ? "server" : "client");
		rec_init(r, what);
		s.n = 0;
		put_u32(&s, c->len);
		if (c->body) {
			put(&s, c->body, c->len < 16 ? c->len : 0);
		} else {
			put(&s, "{\"pad\":\"", 8);
			memset(&s.b[s.n], 'x', c->len - 10);
			s.n += c->len - 10;
			put(&s, "\"}", 2);
		}
		put_u8(&s, 0x12);
		/* the version byte in its own chunk: an error's ts tells which byte caused it */
		feed_part(r, srv, &s, 0, s.n - 1, s.n - 1, 7);
		feed_part(r, srv, &s, s.n - 1, 1, 1, 8);
		if (c->want == BETANET_ERR_NONE) {
			EXPECT_NO_EVENTS(r);
			EXPECT_STATE(r, false, false, false);
		} else {
			EXPECT_EVENTS(r, EV_ERR(srv, 7, c->want));
			/* a failed handshake stops both directions */
			EXPECT_STATE(r, true, true, true);
			expect_ignored(r, SERVER);
			expect_ignored(r, CLIENT);
		}
		free(r);
	}
}

static void test_bad_version_byte(void **state)
{
	static const uint8_t bad[] = { 0x22, 0x02, 0x00, 0xff, 0x21 };
	struct rec *r = *state;
	struct stream s = { .n = 0 };
	char what[64];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		snprintf(what, sizeof(what), "version byte 0x%02x", bad[i]);
		rec_init(r, what);
		s.n = 0;
		put_advert(&s, ADVERT);
		put_u8(&s, bad[i]);
		feed(r, SERVER, &s, 3);
		EXPECT_EVENTS(r, EV_ERR(SERVER, 3, BETANET_ERR_BAD_HANDSHAKE));
		EXPECT_STATE(r, true, true, true);
		expect_ignored(r, CLIENT);
	}

	/* 0x10 and 0x1f are valid version bytes: no BAD_HANDSHAKE, they only mismatch */
	rec_init(r, "version 0x10 and 0x1f");
	s.n = 0;
	put_advert(&s, ADVERT);
	put_u8(&s, 0x10);
	feed(r, SERVER, &s, 1);
	s.b[s.n - 1] = 0x1f;
	feed(r, CLIENT, &s, 2);
	EXPECT_EVENTS(r, EV_ERR(CLIENT, 2, BETANET_ERR_VERSION_MISMATCH));
}

static void test_version_mismatch(void **state)
{
	struct rec *r = *state;
	struct stream s = { .n = 0 };

	rec_init(r, "version 0x12 vs 0x13");
	put_advert(&s, ADVERT);
	put_u8(&s, 0x12);
	feed(r, SERVER, &s, 1);
	s.b[s.n - 1] = 0x13;
	put_request(&s, BETANET_DATA, 0, SPHINX_LEN, DATA_BODY); /* in the same write */
	feed(r, CLIENT, &s, 2);
	EXPECT_EVENTS(r, EV_ERR(CLIENT, 2, BETANET_ERR_VERSION_MISMATCH));
	EXPECT_STATE(r, true, true, true);
	if (r->p.handshake_done)
		fail_msg("handshake_done set on a mismatch");
	expect_ignored(r, SERVER);
	expect_ignored(r, CLIENT);
}

struct frame_case {
	const char *name;
	bool from_server;
	uint32_t len;
	uint8_t hdr[BETANET_HEADER_LEN]; /* requests; all zero: a valid data header */
	enum betanet_error want;
};

static const struct frame_case frame_cases[] = {
	{ "request_len_0", CLIENT, 0, { 0 }, BETANET_ERR_BAD_FRAME },
	{ "request_len_7", CLIENT, 7, { 0 }, BETANET_ERR_BAD_FRAME },
	{ "request_len_max_plus_1", CLIENT, BETANET_MAX_BODY + 1, { 0 }, BETANET_ERR_BAD_FRAME },
	{ "request_len_huge", CLIENT, 0xffffffff, { 0 }, BETANET_ERR_BAD_FRAME },
	{ "request_len_8", CLIENT, 8, { 0 }, BETANET_ERR_NONE },
	{ "request_len_max", CLIENT, BETANET_MAX_BODY, { 0 }, BETANET_ERR_NONE },
	{ "request_type_7", CLIENT, 20, { 0x01, 7 }, BETANET_ERR_BAD_FRAME },
	{ "request_type_0", CLIENT, 20, { 0x01, 0 }, BETANET_ERR_BAD_FRAME },
	{ "request_type_response", CLIENT, 20, { 0x01, 4 }, BETANET_ERR_BAD_FRAME },
	{ "request_header_version_2", CLIENT, 20, { 0x02, 1 }, BETANET_ERR_BAD_FRAME },
	{ "request_header_version_0", CLIENT, 20, { 0x00, 1 }, BETANET_ERR_BAD_FRAME },
	{ "response_len_0", SERVER, 0, { 0 }, BETANET_ERR_BAD_FRAME },
	{ "response_len_max_plus_1", SERVER, BETANET_MAX_BODY + 1, { 0 }, BETANET_ERR_BAD_FRAME },
	{ "response_len_1", SERVER, 1, { 0 }, BETANET_ERR_NONE },
	{ "response_len_max", SERVER, BETANET_MAX_BODY, { 0 }, BETANET_ERR_NONE },
};

/* One frame after a good handshake: its FRAME or ERROR, then what later bytes do. */
static void run_frame_case(void **state)
{
	const struct frame_case *c = *state;
	struct rec *r = calloc(1, sizeof(*r));
	struct stream *s = calloc(1, sizeof(*s));
	uint8_t hdr[BETANET_HEADER_LEN] = { 0x01, BETANET_DATA, 0, 3, 0, 2 };
	uint32_t body = c->len;

	assert_non_null(r);
	assert_non_null(s);
	rec_init(r, c->name);
	handshake(r);
	if (c->hdr[0] || c->hdr[1])
		memcpy(hdr, c->hdr, sizeof(hdr));
	put_u32(s, c->len);
	if (body > BETANET_MAX_BODY + 1)
		body = 0; /* nothing follows a length that big */
	if (!c->from_server && body >= BETANET_HEADER_LEN) {
		put(s, hdr, sizeof(hdr));
		body -= BETANET_HEADER_LEN;
	}
	put_filler(s, body);
	feed(r, c->from_server, s, 10);

	if (c->want != BETANET_ERR_NONE) {
		EXPECT_EVENTS(r, EV_ERR(c->from_server, 10, c->want));
		/* a frame error stops its own direction only */
		EXPECT_STATE(r, !c->from_server, c->from_server, false);
		expect_ignored(r, c->from_server);
		s->n = 0;
		if (c->from_server)
			put_request(s, BETANET_CONTROL, 0, 0, 8);
		else
			put_response(s, 1);
		feed(r, !c->from_server, s, 11);
		if (c->from_server)
			EXPECT_EVENTS(r, EV_REQ(11, BETANET_CONTROL, 12, 0, 0));
		else
			EXPECT_EVENTS(r, EV_RESP(11, 5));
	} else if (c->from_server) {
		EXPECT_EVENTS(r, EV_RESP(10, 4 + c->len));
	} else {
		EXPECT_EVENTS(r, EV_REQ(10, BETANET_DATA, 4 + c->len, 3, 2));
	}
	free(s);
	free(r);
}

/* Once a direction reported its error, nothing it carries is reported, gaps included. */
static void test_after_error_ignored(void **state)
{
	struct rec *r = *state;
	struct stream s = { .n = 0 };
	size_t i;

	rec_init(r, "after an error");
	handshake(r);
	put_request_raw(&s, 0x01, 7, 0, 0, 20);
	feed(r, CLIENT, &s, 10);
	EXPECT_EVENTS(r, EV_ERR(CLIENT, 10, BETANET_ERR_BAD_FRAME));

	s.n = 0;
	put_request(&s, BETANET_DATA, 0, SPHINX_LEN, DATA_BODY);
	put_u32(&s, 0); /* would be another BAD_FRAME */
	for (i = 0; i < s.n; i++)
		feed_part(r, CLIENT, &s, i, 1, 1, 11);
	feed(r, CLIENT, &s, 12);
	feed_part(r, CLIENT, &s, 0, 0, 100000, 13); /* a gap: would be a DESYNC */
	EXPECT_NO_EVENTS(r);
	EXPECT_STATE(r, true, false, false);
}

/* Empty chunks change nothing; captured > total counts the captured bytes. */
static void test_degenerate_chunks(void **state)
{
	struct rec *r = *state;
	struct stream s = { .n = 0 };

	rec_init(r, "degenerate chunks");
	handshake(r);
	betanet__feed(&r->p, CLIENT, NULL, 0, 0, 5, on_event, r);
	betanet__feed(&r->p, SERVER, NULL, 0, 0, 5, on_event, r);
	EXPECT_NO_EVENTS(r);
	put_request(&s, BETANET_DATA, 0, 3, 11);
	feed_part(r, CLIENT, &s, 0, s.n, 0, 6);
	EXPECT_EVENTS(r, EV_REQ(6, BETANET_DATA, 15, 0, 3));
	/* no callback: events are dropped, the state still advances */
	betanet__feed(&r->p, CLIENT, s.b, s.n, s.n, 7, NULL, NULL);
	feed(r, CLIENT, &s, 8);
	EXPECT_EVENTS(r, EV_REQ(8, BETANET_DATA, 15, 0, 3));
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(betanet__error_name(BETANET_ERR_NONE), "none");
	assert_string_equal(betanet__error_name(BETANET_ERR_ADVERT_TOO_BIG), "advert_too_big");
	assert_string_equal(betanet__error_name(BETANET_ERR_BAD_HANDSHAKE), "bad_handshake");
	assert_string_equal(betanet__error_name(BETANET_ERR_VERSION_MISMATCH),
			    "version_mismatch");
	assert_string_equal(betanet__error_name(BETANET_ERR_BAD_FRAME), "bad_frame");
	assert_string_equal(betanet__error_name(BETANET_ERR_DESYNC), "desync");
	assert_string_equal(betanet__error_name((enum betanet_error)42), "unknown");
	assert_string_equal(betanet__frame_type_name(BETANET_DATA), "data");
	assert_string_equal(betanet__frame_type_name(BETANET_CONTROL), "control");
	assert_string_equal(betanet__frame_type_name(BETANET_COVER), "cover");
	assert_string_equal(betanet__frame_type_name(BETANET_RESPONSE), "response");
	assert_string_equal(betanet__frame_type_name((enum betanet_frame_type)0), "unknown");
}

static int setup_rec(void **state)
{
	*state = calloc(1, sizeof(struct rec));
	return *state ? 0 : -1;
}

static int teardown_rec(void **state)
{
	free(*state);
	return 0;
}

#define REC_TEST(f) cmocka_unit_test_setup_teardown(f, setup_rec, teardown_rec)

static const struct CMUnitTest other_tests[] = {
	REC_TEST(test_full_session),
	REC_TEST(test_frames_before_peer_version),
	REC_TEST(test_one_byte_chunks),
	REC_TEST(test_coalesced),
	REC_TEST(test_split_fields),
	REC_TEST(test_gap_in_body),
	REC_TEST(test_gap_in_handshake),
	REC_TEST(test_gap_desync),
	REC_TEST(test_bad_version_byte),
	REC_TEST(test_version_mismatch),
	REC_TEST(test_after_error_ignored),
	REC_TEST(test_degenerate_chunks),
	cmocka_unit_test(test_names),
};

int main(void)
{
	/* one named test per table row, so that a failure names its case */
	struct CMUnitTest tests[ARRAY_SIZE(other_tests) + ARRAY_SIZE(advert_cases) +
				ARRAY_SIZE(frame_cases)];
	size_t i, n = 0;

	memcpy(tests, other_tests, sizeof(other_tests));
	n = ARRAY_SIZE(other_tests);
	for (i = 0; i < ARRAY_SIZE(advert_cases); i++, n++) {
		memset(&tests[n], 0, sizeof(tests[n]));
		tests[n].name = advert_cases[i].name;
		tests[n].test_func = run_advert_case;
		tests[n].initial_state = (void *)&advert_cases[i];
	}
	for (i = 0; i < ARRAY_SIZE(frame_cases); i++, n++) {
		memset(&tests[n], 0, sizeof(tests[n]));
		tests[n].name = frame_cases[i].name;
		tests[n].test_func = run_frame_case;
		tests[n].initial_state = (void *)&frame_cases[i];
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
