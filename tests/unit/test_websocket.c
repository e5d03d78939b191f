// SPDX-License-Identifier: GPL-2.0-only
/*
 * user/model/proto/websocket.c: RFC 6455 frames fed whole, split at every byte, with
 * control frames between fragments and with uncaptured gaps; BitChat's JSON messages
 * (DESIGN.md, "BitChat") through the key scanner, checked against jansson where the text
 * is whole.
 *
 * Reference bytes come from outside the project: the examples of RFC 6455 section 5.7, and
 * frames serialized by Python's websockets 10.4 (Debian python3-websockets) with its mask
 * key source pinned, e.g. for c_ack:
 *   import websockets.frames as wf
 *   wf.secrets.token_bytes = lambda n: bytes.fromhex("11223344")
 *   wf.Frame(wf.Opcode.TEXT, b'{"type":"ack","message_id":"m-1"}').serialize(mask=True)
 * The test's own frame builder must reproduce them before it is used for the other cases.
 *
 * permessage-deflate (RFC 7692): compressed payloads are made here by zlib's deflate with
 * the negotiated window and context takeover (a deflate stream kept across messages, or
 * reset before each), sync-flushed with the 00 00 ff ff tail removed, as Python websockets
 * and node ws do; the parser must read back exactly the texts that went in.
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
#include <jansson.h>
#include <zlib.h>

#include "model/proto/websocket.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define CLIENT true
#define SERVER false

#define FIN 0x80
#define RSV1 0x40
#define RSV2 0x20
#define RSV3 0x10
#define OP_CONT 0x0
#define OP_TEXT 0x1
#define OP_BIN 0x2
#define OP_CLOSE 0x8
#define OP_PING 0x9
#define OP_PONG 0xa

/* ---- reference frames ---- */

struct ref {
	const char *name;
	const char *hex; /* the whole frame, or its header only (head_only) */
	bool head_only;
	uint8_t b0;
	const char *key; /* 8 hex digits, or NULL: unmasked */
	const char *payload; /* NULL: len bytes of fill */
	uint64_t len;
	uint8_t fill;
};

static const struct ref refs[] = {
	/* RFC 6455 5.7 */
	{ "rfc_unmasked_hello", "810548656c6c6f", false, FIN | OP_TEXT, NULL, "Hello", 5 },
	{ "rfc_masked_hello", "818537fa213d7f9f4d5158", false, FIN | OP_TEXT, "37fa213d", "Hello",
	  5 },
	{ "rfc_frag_hel", "010348656c", false, OP_TEXT, NULL, "Hel", 3 },
	{ "rfc_frag_lo", "80026c6f", false, FIN | OP_CONT, NULL, "lo", 2 },
	{ "rfc_ping", "890548656c6c6f", false, FIN | OP_PING, NULL, "Hello", 5 },
	{ "rfc_masked_pong", "8a8537fa213d7f9f4d5158", false, FIN | OP_PONG, "37fa213d", "Hello",
	  5 },
	{ "rfc_256_binary", "827e0100", true, FIN | OP_BIN, NULL, NULL, 256 },
	{ "rfc_64k_binary", "827f0000000000010000", true, FIN | OP_BIN, NULL, NULL, 65536 },
	/* Python websockets 10.4 */
	{ "c_ack",
	  "81a1112233446a00473d6147117e3343502f330e11297451402576476c2d750009667c0f02666c", false,
	  FIN | OP_TEXT, "11223344", "{\"type\":\"ack\",\"message_id\":\"m-1\"}", 33 },
	{ "c_sub",
	  "81a6deadbeefa58fca96aec89cd5fcdecb8dadcecc86bcc89cc3fcdfd180b3de9cd5858fdfcdf28fdccd83"
	  "d0",
	  false, FIN | OP_TEXT, "deadbeef", "{\"type\":\"subscribe\",\"rooms\":[\"a\",\"b\"]}",
	  38 },
	{ "c_ping", "89820a0b0c0d6262", false, FIN | OP_PING, "0a0b0c0d", "hi", 2 },
	{ "c_close1000", "88820102030402ea", false, FIN | OP_CLOSE, "01020304", "\x03\xe8", 2 },
	{ "c_text300", "81fe012ca1b2c3d4", true, FIN | OP_TEXT, "a1b2c3d4", NULL, 300, 'x' },
	{ "c_bin70000", "82ff00000000000111705f6e7d8c", true, FIN | OP_BIN, "5f6e7d8c", NULL,
	  70000 },
	{ "s_msg",
	  "81397b2274797065223a226d657373616765222c2264617461223a7b2266726f6d223a2278222c226d6573"
	  "736167655f6964223a226d2d31227d7d",
	  false, FIN | OP_TEXT, NULL,
	  "{\"type\":\"message\",\"data\":{\"from\":\"x\",\"message_id\":\"m-1\"}}", 57 },
	{ "s_close4000", "88050fa0627965", false, FIN | OP_CLOSE, NULL, "\x0f\xa0" "bye", 5 },
	{ "s_close_empty", "8800", false, FIN | OP_CLOSE, NULL, "", 0 },
	{ "s_text300", "817e012c", true, FIN | OP_TEXT, NULL, NULL, 300, 'x' },
	{ "s_bin70000", "827f0000000000011170", true, FIN | OP_BIN, NULL, NULL, 70000 },
	{ "s_frag1", "010c7b2274797065223a2267726f", false, OP_TEXT, NULL, "{\"type\":\"gro", 12 },
	{ "s_frag2", "801c75705f6d657373616765222c2267726f75705f6964223a226731227d", false,
	  FIN | OP_CONT, NULL, "up_message\",\"group_id\":\"g1\"}", 28 },
};

/* ---- byte streams ---- */

struct stream {
	uint8_t *b;
	size_t n, cap;
};

static void put(struct stream *s, const void *p, size_t n)
{
	if (s->n + n > s->cap) {
		s->cap = (s->n + n) * 2;
		s->b = realloc(s->b, s->cap);
		assert_non_null(s->b);
	}
	memcpy(&s->b[s->n], p, n);
	s->n += n;
}

static void put_u8(struct stream *s, uint8_t v)
{
	put(s, &v, 1);
}

static void stream_free(struct stream *s)
{
	free(s->b);
	memset(s, 0, sizeof(*s));
}

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = strlen(hex) / 2, i;

	assert_true(n <= cap);
	for (i = 0; i < n; i++) {
		unsigned int v;

		assert_int_equal(sscanf(&hex[2 * i], "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	return n;
}

/*
 * One frame: b0 (FIN, RSV, opcode), masked with key when key is not NULL, the shortest
 * length encoding (RFC 6455 5.2). payload NULL: len bytes of fill.
 */
static void put_frame_fill(struct stream *s, uint8_t b0, const uint8_t *key, const void *payload,
			   uint64_t len, uint8_t fill)
{
	const uint8_t *p = payload;
	uint8_t mbit = key ? 0x80 : 0;
	uint64_t i;
	int k;

	put_u8(s, b0);
	if (len < 126) {
		put_u8(s, mbit | (uint8_t)len);
	} else if (len <= 0xffff) {
		put_u8(s, mbit | 126);
		put_u8(s, (uint8_t)(len >> 8));
		put_u8(s, (uint8_t)len);
	} else {
		put_u8(s, mbit | 127);
		for (k = 56; k >= 0; k -= 8)
			put_u8(s, (uint8_t)(len >> k));
	}
	if (key)
		put(s, key, 4);
	for (i = 0; i < len; i++)
		put_u8(s, (uint8_t)((p ? p[i] : fill) ^ (key ? key[i & 3] : 0)));
}

static void put_frame(struct stream *s, uint8_t b0, const uint8_t *key, const void *payload,
		      uint64_t len)
{
	put_frame_fill(s, b0, key, payload, len, 0);
}

static const uint8_t KEY1[4] = { 0x12, 0x34, 0x56, 0x78 };
static const uint8_t KEY2[4] = { 0xa5, 0x5a, 0xff, 0x01 };
static const uint8_t KEY3[4] = { 0x00, 0x00, 0x00, 0x00 }; /* RFC 6455 allows a zero key */

static void put_text(struct stream *s, bool from_client, const char *text)
{
	put_frame(s, FIN | OP_TEXT, from_client ? KEY1 : NULL, text, strlen(text));
}

static void put_ref(struct stream *s, const struct ref *r)
{
	uint8_t key[4];

	if (r->key)
		unhex(r->key, key, sizeof(key));
	put_frame_fill(s, r->b0, r->key ? key : NULL, r->payload, r->len, r->fill);
}

static const struct ref *ref_named(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(refs); i++)
		if (!strcmp(refs[i].name, name))
			return &refs[i];
	fail_msg("no reference frame %s", name);
	return NULL;
}

/* ---- the parser under test and what it reported ---- */

#define MAX_EVENTS 256

struct rec {
	struct ws_conn c;
	struct ws_event ev[MAX_EVENTS];
	size_t n;
};

static void on_event(void *ctx, const struct ws_event *ev)
{
	struct rec *r = ctx;

	if (r->n == MAX_EVENTS)
		fail_msg("more than %d events", MAX_EVENTS);
	r->ev[r->n++] = *ev;
}

static struct rec *rec_new(void)
{
	struct rec *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	ws__init(&r->c);
	return r;
}

/* Feed b[0, total) of which the first captured bytes are known, from a buffer of exactly
 * that size so that valgrind or ASan see any over-read. */
static void feed_part(struct rec *r, bool from_client, const uint8_t *b, size_t captured,
		      size_t total, uint64_t ts)
{
	uint8_t *copy = NULL;

	if (captured) {
		copy = malloc(captured);
		assert_non_null(copy);
		memcpy(copy, b, captured);
	}
	ws__feed(&r->c, from_client, copy, captured, total, ts, on_event, r);
	free(copy);
}

/* The whole stream in chunks of `chunk` bytes (0: one chunk). */
static void feed(struct rec *r, bool from_client, const struct stream *s, size_t chunk,
		 uint64_t ts)
{
	size_t off = 0;

	if (!chunk)
		chunk = s->n ? s->n : 1;
	do {
		size_t k = s->n - off < chunk ? s->n - off : chunk;

		feed_part(r, from_client, s->b + off, k, k, ts);
		off += k;
	} while (off < s->n);
}

static void describe(const struct ws_event *ev, char *buf, size_t len)
{
	static const char *const names[] = { "MESSAGE", "PING",	      "PONG",
					     "CLOSE",	"ERROR",      "INFLATE_LOST",
					     "TOO_BIG" };
	const struct ws_message *m = &ev->msg;

	snprintf(buf, len,
		 "%s %s ts=%llu len=%llu/%llu text=%d frags=%u compressed=%d gap=%d json=%d "
		 "type='%s' group_id='%s' message_id='%s' nrooms=%u close=%u reason=%s",
		 (unsigned int)ev->type < ARRAY_SIZE(names) ? names[ev->type] : "?",
		 ev->from_client ? "client" : "server", (unsigned long long)ev->ts_ns,
		 (unsigned long long)m->len, (unsigned long long)m->data_len, m->text,
		 m->fragments, m->compressed, m->gap, m->json,
		 m->type, m->group_id, m->message_id, m->nrooms, ev->close_code,
		 ev->reason ? ev->reason : "-");
}

static bool same_event(const struct ws_event *a, const struct ws_event *b)
{
	const struct ws_message *x = &a->msg, *y = &b->msg;
	int i;

	if (a->type != b->type || a->from_client != b->from_client || a->ts_ns != b->ts_ns ||
	    a->close_code != b->close_code || !a->reason != !b->reason ||
	    (a->reason && strcmp(a->reason, b->reason)))
		return false;
	if (x->text != y->text || x->len != y->len || x->fragments != y->fragments ||
	    x->compressed != y->compressed || x->gap != y->gap || x->json != y->json ||
	    (x->compressed && x->data_len != y->data_len) ||
	    strcmp(x->type, y->type) || strcmp(x->group_id, y->group_id) ||
	    strcmp(x->message_id, y->message_id) || x->nrooms != y->nrooms)
		return false;
	for (i = 0; i < x->nrooms; i++)
		if (strcmp(x->rooms[i], y->rooms[i]))
			return false;
	return true;
}

static void print_events(const char *title, const struct ws_event *ev, size_t n)
{
	char buf[512];
	size_t i;

	print_error("  %s (%zu):\n", title, n);
	for (i = 0; i < n; i++) {
		describe(&ev[i], buf, sizeof(buf));
		print_error("    [%zu] %s\n", i, buf);
	}
}

static void expect_same(const char *what, const struct rec *got, const struct rec *want)
{
	size_t i;

	for (i = 0; i < got->n && i < want->n; i++)
		if (!same_event(&got->ev[i], &want->ev[i]))
			break;
	if (i == got->n && i == want->n)
		return;
	print_error("%s: events differ at [%zu]\n", what, i);
	print_events("got", got->ev, got->n);
	print_events("want", want->ev, want->n);
	fail();
}

/* Shorthands for expected events. */
static struct ws_event ev_msg(bool from_client, bool text, uint64_t len, uint32_t frags)
{
	struct ws_event ev = { .type = WS_EV_MESSAGE, .from_client = from_client };

	ev.msg.text = text;
	ev.msg.len = len;
	ev.msg.fragments = frags;
	return ev;
}

static struct ws_event ev_ctl(enum ws_event_type t, bool from_client, uint64_t len,
			      uint16_t code)
{
	struct ws_event ev = { .type = t, .from_client = from_client, .close_code = code };

	ev.msg.len = len;
	return ev;
}

static struct ws_event ev_err(bool from_client, const char *reason)
{
	struct ws_event ev = { .type = WS_EV_ERROR, .from_client = from_client, .reason = reason };

	return ev;
}

static void set_ids(struct ws_event *ev, const char *type, const char *group_id,
		    const char *message_id)
{
	ev->msg.json = true;
	snprintf(ev->msg.type, WS_ID_MAX, "%s", type);
	snprintf(ev->msg.group_id, WS_ID_MAX, "%s", group_id);
	snprintf(ev->msg.message_id, WS_ID_MAX, "%s", message_id);
}

static void expect_events(const char *what, const struct rec *got, const struct ws_event *want,
			  size_t n)
{
	struct rec *w = rec_new();

	assert_true(n <= MAX_EVENTS);
	memcpy(w->ev, want, n * sizeof(*want));
	w->n = n;
	expect_same(what, got, w);
	free(w);
}

/* ---- tests ---- */

/* The builder reproduces RFC 6455's examples and websockets' frames byte for byte. */
static void test_builder_matches_references(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(refs); i++) {
		uint8_t want[128];
		size_t n = unhex(refs[i].hex, want, sizeof(want));
		struct stream s = { 0 };

		put_ref(&s, &refs[i]);
		if (refs[i].head_only)
			assert_true(s.n > n);
		else
			assert_int_equal(s.n, n);
		if (memcmp(s.b, want, n)) {
			print_error("%s: built frame differs from the reference\n", refs[i].name);
			fail();
		}
		stream_free(&s);
	}
}

static void test_rfc_examples(void **state)
{
	static const char *const server[] = { "rfc_unmasked_hello", "rfc_frag_hel", "rfc_ping",
					      "rfc_frag_lo", "rfc_256_binary", "rfc_64k_binary" };
	struct ws_event want[8];
	struct stream s = { 0 };
	struct rec *r = rec_new();
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(server); i++)
		put_ref(&s, ref_named(server[i]));
	feed(r, SERVER, &s, 0, 1);
	want[0] = ev_msg(SERVER, true, 5, 1); /* "Hello" is text, not JSON */
	want[1] = ev_ctl(WS_EV_PING, SERVER, 5, 0); /* between the fragments */
	want[2] = ev_msg(SERVER, true, 5, 2); /* "Hel" + "lo" */
	want[3] = ev_msg(SERVER, false, 256, 1);
	want[4] = ev_msg(SERVER, false, 65536, 1);
	for (i = 0; i < 5; i++)
		want[i].ts_ns = 1;
	expect_events("rfc server", r, want, 5);

	stream_free(&s);
	put_ref(&s, ref_named("rfc_masked_hello"));
	put_ref(&s, ref_named("rfc_masked_pong"));
	r->n = 0;
	feed(r, CLIENT, &s, 0, 2);
	want[0] = ev_msg(CLIENT, true, 5, 1);
	want[1] = ev_ctl(WS_EV_PONG, CLIENT, 5, 0);
	want[0].ts_ns = want[1].ts_ns = 2;
	expect_events("rfc client", r, want, 2);
	assert_false(ws__stopped(&r->c, CLIENT));
	assert_false(ws__stopped(&r->c, SERVER));
	stream_free(&s);
	free(r);
}

/* DESIGN.md's BitChat messages, client->server masked, server->client not. */
static void test_bitchat_messages(void **state)
{
	struct ws_event want[16];
	struct stream c = { 0 }, sv = { 0 };
	struct rec *r = rec_new();
	size_t n = 0;

	(void)state;
	put_text(&c, CLIENT, "{\"type\":\"ping\"}");
	put_ref(&c, ref_named("c_ack"));
	put_ref(&c, ref_named("c_sub"));
	put_text(&c, CLIENT, "{\"type\":\"unsubscribe\",\"rooms\":[\"b\"]}");
	feed(r, CLIENT, &c, 0, 7);

	put_text(&sv, SERVER, "{\"type\":\"pong\"}");
	put_ref(&sv, ref_named("s_msg"));
	put_ref(&sv, ref_named("s_frag1"));
	put_ref(&sv, ref_named("s_frag2"));
	put_text(&sv, SERVER,
		 "{\"type\":\"group_message\",\"group_id\":\"g1\",\"data\":{\"from\":\"x\","
		 "\"message_id\":\"m-2\",\"text\":\"hi\"}}");
	feed(r, SERVER, &sv, 0, 8);

	want[n] = ev_msg(CLIENT, true, 15, 1);
	set_ids(&want[n++], "ping", "", "");
	want[n] = ev_msg(CLIENT, true, 33, 1);
	set_ids(&want[n++], "ack", "", "m-1");
	want[n] = ev_msg(CLIENT, true, 38, 1);
	set_ids(&want[n], "subscribe", "", "");
	want[n].msg.nrooms = 2;
	strcpy(want[n].msg.rooms[0], "a");
	strcpy(want[n++].msg.rooms[1], "b");
	want[n] = ev_msg(CLIENT, true, 36, 1);
	set_ids(&want[n], "unsubscribe", "", "");
	want[n].msg.nrooms = 1;
	strcpy(want[n++].msg.rooms[0], "b");
	for (size_t i = 0; i < n; i++)
		want[i].ts_ns = 7;
	want[n] = ev_msg(SERVER, true, 15, 1);
	set_ids(&want[n++], "pong", "", "");
	want[n] = ev_msg(SERVER, true, 57, 1);
	set_ids(&want[n++], "message", "", "m-1");
	want[n] = ev_msg(SERVER, true, 40, 2);
	set_ids(&want[n++], "group_message", "g1", "");
	want[n] = ev_msg(SERVER, true, 91, 1);
	set_ids(&want[n++], "group_message", "g1", "m-2");
	for (size_t i = 4; i < n; i++)
		want[i].ts_ns = 8;
	expect_events("bitchat", r, want, n);
	stream_free(&c);
	stream_free(&sv);
	free(r);
}

/* A stream of every kind of frame, one direction. */
static void build_mixed(struct stream *s, bool from_client)
{
	const uint8_t *k1 = from_client ? KEY1 : NULL, *k2 = from_client ? KEY2 : NULL;
	const uint8_t *k3 = from_client ? KEY3 : NULL;
	static const char big[] = "{\"type\":\"message\",\"data\":{\"message_id\":\"m-300\"},"
				  "\"pad\":\"";
	char text[400];

	put_text(s, from_client, "{\"type\":\"ping\"}");
	put_frame(s, FIN | OP_PING, k2, "", 0);
	put_frame(s, OP_TEXT, k1, "{\"type\":", 8);
	put_frame(s, FIN | OP_PONG, k3, "abc", 3);
	put_frame(s, OP_CONT, k2, "\"ack\",\"mess", 11);
	put_frame(s, OP_CONT, k3, "", 0);
	put_frame(s, FIN | OP_CONT, k1, "age_id\":7}", 10);
	memset(text, 'x', sizeof(text));
	memcpy(text, big, strlen(big));
	memcpy(&text[298], "\"}", 2);
	put_frame(s, FIN | OP_TEXT, k2, text, 300); /* 16-bit length */
	put_frame(s, FIN | OP_BIN, k1, text, 125);
	put_frame(s, FIN | OP_BIN, k3, text, 126);
	put_frame(s, FIN | OP_CLOSE, k1, "\x03\xe8", 2);
}

static void expect_mixed(const char *what, const struct rec *r, bool from_client, uint64_t ts)
{
	struct ws_event want[8];
	size_t n = 0, i;

	want[n] = ev_msg(from_client, true, 15, 1);
	set_ids(&want[n++], "ping", "", "");
	want[n++] = ev_ctl(WS_EV_PING, from_client, 0, 0);
	want[n++] = ev_ctl(WS_EV_PONG, from_client, 3, 0);
	want[n] = ev_msg(from_client, true, 29, 4);
	set_ids(&want[n++], "ack", "", "7");
	want[n] = ev_msg(from_client, true, 300, 1);
	set_ids(&want[n++], "message", "", "m-300");
	want[n++] = ev_msg(from_client, false, 125, 1);
	want[n++] = ev_msg(from_client, false, 126, 1);
	want[n++] = ev_ctl(WS_EV_CLOSE, from_client, 2, 1000);
	for (i = 0; i < n; i++)
		want[i].ts_ns = ts;
	expect_events(what, r, want, n);
}

/* Whole, byte by byte, and cut in two at every offset: the same events. */
static void test_splitting(void **state)
{
	int dir;

	(void)state;
	for (dir = 0; dir < 2; dir++) {
		struct stream s = { 0 };
		struct rec *r = rec_new();
		size_t cut;
		char what[64];

		build_mixed(&s, dir);
		feed(r, dir, &s, 0, 3);
		expect_mixed(dir ? "client whole" : "server whole", r, dir, 3);

		memset(&r->c, 0, sizeof(r->c)); /* zeroed, as good as ws__init */
		r->n = 0;
		feed(r, dir, &s, 1, 3);
		expect_mixed(dir ? "client byte by byte" : "server byte by byte", r, dir, 3);

		for (cut = 1; cut < s.n; cut++) {
			ws__init(&r->c);
			r->n = 0;
			feed_part(r, dir, s.b, cut, cut, 3);
			feed_part(r, dir, s.b + cut, s.n - cut, s.n - cut, 3);
			snprintf(what, sizeof(what), "%s cut at %zu", dir ? "client" : "server",
				 cut);
			expect_mixed(what, r, dir, 3);
		}
		stream_free(&s);
		free(r);
	}
}

/* Lengths at the encoding boundaries, and 64-bit lengths carried by gaps. */
static void test_lengths(void **state)
{
	static const uint64_t lens[] = { 0, 1, 125, 126, 127, 65535, 65536, 70000 };
	size_t i;
	int dir;

	(void)state;
	for (dir = 0; dir < 2; dir++) {
		for (i = 0; i < ARRAY_SIZE(lens); i++) {
			struct stream s = { 0 };
			struct rec *r = rec_new();
			struct ws_event want = ev_msg(dir, false, lens[i], 1);
			char what[64];

			put_frame_fill(&s, FIN | OP_BIN, dir ? KEY2 : NULL, NULL, lens[i], 0x5a);
			feed(r, dir, &s, 4096, 0);
			snprintf(what, sizeof(what), "len %llu dir %d", (unsigned long long)lens[i],
				 dir);
			expect_events(what, r, &want, 1);
			stream_free(&s);
			free(r);
		}
	}

	/* The references' extended lengths as websockets encodes them. */
	{
		static const char *const names[] = { "c_text300", "c_bin70000", "s_text300",
						     "s_bin70000" };
		for (i = 0; i < ARRAY_SIZE(names); i++) {
			const struct ref *ref = ref_named(names[i]);
			bool from_client = ref->key != NULL;
			struct stream s = { 0 };
			struct rec *r = rec_new();
			struct ws_event want = ev_msg(from_client, ref->b0 & OP_TEXT, ref->len, 1);

			put_ref(&s, ref);
			feed(r, from_client, &s, 1000, 0);
			expect_events(ref->name, r, &want, 1);
			stream_free(&s);
			free(r);
		}
	}

	/* 2^40 and 2^63 - 1 bytes: the header captured, the payload in the gap. */
	{
		static const uint64_t huge[] = { 1ull << 40, (1ull << 63) - 1 };

		for (i = 0; i < ARRAY_SIZE(huge); i++) {
			uint8_t h[14] = { FIN | OP_BIN, 0x80 | 127 };
			struct rec *r = rec_new();
			struct ws_event want[2] = { ev_msg(CLIENT, false, huge[i], 1),
						    ev_msg(CLIENT, true, 2, 1) };
			struct stream s = { 0 };
			int k;

			for (k = 0; k < 8; k++)
				h[2 + k] = (uint8_t)(huge[i] >> (56 - 8 * k));
			memcpy(&h[10], KEY1, 4);
			/* the gap of one chunk is a size_t: send it in pieces */
			feed_part(r, CLIENT, h, sizeof(h), sizeof(h) + (huge[i] >> 1), 1);
			feed_part(r, CLIENT, NULL, 0, huge[i] - (huge[i] >> 1), 1);
			want[0].msg.gap = true;
			want[0].ts_ns = 1;
			put_frame(&s, FIN | OP_TEXT, KEY1, "{}", 2);
			feed(r, CLIENT, &s, 0, 2);
			want[1].ts_ns = 2;
			want[1].msg.json = true;
			expect_events("huge", r, want, 2);
			stream_free(&s);
			free(r);
		}
	}
}

/* A long JSON message: the fields come from its first WS_TEXT_MAX bytes. */
static void test_long_text(void **state)
{
	struct stream s = { 0 };
	struct rec *r = rec_new();
	struct ws_event want[2];
	size_t len = 70000;
	char *text = malloc(len);
	const char *head = "{\"type\":\"group_message\",\"group_id\":42,\"data\":{\"message_id\":"
			   "\"m-long\",\"body\":\"";

	(void)state;
	assert_non_null(text);
	memset(text, 'y', len);
	memcpy(text, head, strlen(head));
	memcpy(&text[len - 3], "\"}}", 3);
	put_frame(&s, FIN | OP_TEXT, KEY2, text, len);
	feed(r, CLIENT, &s, 777, 5);
	want[0] = ev_msg(CLIENT, true, len, 1);
	set_ids(&want[0], "group_message", "42", "m-long");
	want[0].ts_ns = 5;
	expect_events("long text", r, want, 1);

	/* a key past the first WS_TEXT_MAX bytes is not seen */
	stream_free(&s);
	memset(text, 'y', len);
	memcpy(&text[2000], "\",\"message_id\":\"late\"}", 22);
	memcpy(text, "{\"type\":\"x\",\"pad\":\"", 19);
	put_frame(&s, FIN | OP_TEXT, NULL, text, 2022);
	r->n = 0;
	feed(r, SERVER, &s, 0, 6);
	want[1] = ev_msg(SERVER, true, 2022, 1);
	set_ids(&want[1], "x", "", "");
	want[1].ts_ns = 6;
	expect_events("key past the kept text", r, &want[1], 1);
	free(text);
	stream_free(&s);
	free(r);
}

/* Fragments with control frames between them, each frame masked with its own key. */
static void test_fragmentation(void **state)
{
	struct stream s = { 0 };
	struct rec *r = rec_new();
	struct ws_event want[5];
	int dir;

	(void)state;
	for (dir = 0; dir < 2; dir++) {
		const uint8_t *k1 = dir ? KEY1 : NULL, *k2 = dir ? KEY2 : NULL;

		stream_free(&s);
		ws__init(&r->c);
		r->n = 0;
		put_frame(&s, OP_TEXT, k1, "{\"type\":\"subscribe\",", 20);
		put_frame(&s, FIN | OP_PING, k2, "p", 1);
		put_frame(&s, OP_CONT, k2, "\"rooms\":[\"r1\",\"r2\",", 19);
		put_frame(&s, FIN | OP_PONG, k1, "", 0);
		put_frame(&s, FIN | OP_CLOSE, k2, "\x0f\xa0", 2); /* a close between fragments */
		put_frame(&s, FIN | OP_CONT, k1, "\"r3\"]}", 6);
		put_frame(&s, OP_BIN, k1, "ab", 2);
		put_frame(&s, FIN | OP_CONT, k2, "cde", 3);
		feed(r, dir, &s, 0, 9);
		want[0] = ev_ctl(WS_EV_PING, dir, 1, 0);
		want[1] = ev_ctl(WS_EV_PONG, dir, 0, 0);
		want[2] = ev_ctl(WS_EV_CLOSE, dir, 2, 4000);
		want[3] = ev_msg(dir, true, 45, 3);
		set_ids(&want[3], "subscribe", "", "");
		want[3].msg.nrooms = 3;
		strcpy(want[3].msg.rooms[0], "r1");
		strcpy(want[3].msg.rooms[1], "r2");
		strcpy(want[3].msg.rooms[2], "r3");
		want[4] = ev_msg(dir, false, 5, 2);
		for (int i = 0; i < 5; i++)
			want[i].ts_ns = 9;
		expect_events(dir ? "client fragments" : "server fragments", r, want, 5);
	}
	stream_free(&s);
	free(r);
}

static void test_close_codes(void **state)
{
	static const struct {
		const char *ref;
		uint64_t len;
		uint16_t code;
	} cases[] = {
		{ "c_close1000", 2, 1000 },
		{ "s_close4000", 5, 4000 },
		{ "s_close_empty", 0, 0 },
	};
	struct ws_event want;
	struct stream s = { 0 };
	struct rec *r;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct ref *ref = ref_named(cases[i].ref);
		bool from_client = ref->key != NULL;

		r = rec_new();
		put_ref(&s, ref);
		feed(r, from_client, &s, 1, 0);
		want = ev_ctl(WS_EV_CLOSE, from_client, cases[i].len, cases[i].code);
		expect_events(ref->name, r, &want, 1);
		stream_free(&s);
		free(r);
	}

	/* 1001 with a reason, masked; a 1-byte payload carries no code (RFC 6455 5.5.1) */
	r = rec_new();
	put_frame(&s, FIN | OP_CLOSE, KEY2, "\x03\xe9going away", 12);
	put_frame(&s, FIN | OP_CLOSE, KEY1, "\x03", 1);
	feed(r, CLIENT, &s, 0, 0);
	{
		struct ws_event w[2] = { ev_ctl(WS_EV_CLOSE, CLIENT, 12, 1001),
					 ev_ctl(WS_EV_CLOSE, CLIENT, 1, 0) };

		expect_events("close 1001, close 1 byte", r, w, 2);
	}
	stream_free(&s);
	free(r);

	/*
	 * 1006 (abnormal closure) is never sent in a close frame (RFC 6455 7.4.1): the parser
	 * does not make it up when a connection ends without one, and reports a peer that
	 * sends it anyway as it was sent.
	 */
	r = rec_new();
	put_text(&s, SERVER, "{\"type\":\"pong\"}");
	feed(r, SERVER, &s, 0, 0);
	assert_int_equal(r->n, 1);
	assert_int_equal(r->ev[0].type, WS_EV_MESSAGE);
	stream_free(&s);
	r->n = 0;
	put_frame(&s, FIN | OP_CLOSE, NULL, "\x03\xee", 2);
	feed(r, SERVER, &s, 0, 0);
	want = ev_ctl(WS_EV_CLOSE, SERVER, 2, 1006);
	expect_events("1006 on the wire", r, &want, 1);
	stream_free(&s);
	free(r);

	/* the code in a gap is unknown: 0, and the frame is marked as cut */
	r = rec_new();
	put_frame(&s, FIN | OP_CLOSE, NULL, "\x0f\xa0", 2);
	feed_part(r, SERVER, s.b, 3, 4, 0);
	want = ev_ctl(WS_EV_CLOSE, SERVER, 2, 0);
	want.msg.gap = true;
	expect_events("close code in a gap", r, &want, 1);
	stream_free(&s);
	free(r);
}

/* Every error reason; the direction stops, the other one goes on. */
static void test_errors(void **state)
{
	static const struct {
		bool from_client;
		const char *hex;
		const char *reason;
	} cases[] = {
		{ CLIENT, "8100", "unmasked_client_frame" },
		{ CLIENT, "8805", "unmasked_client_frame" },
		{ SERVER, "818012345678", "masked_server_frame" },
		{ SERVER, "8300", "bad_opcode" },
		{ SERVER, "8700", "bad_opcode" },
		{ CLIENT, "8b80", "bad_opcode" },
		{ SERVER, "8f00", "bad_opcode" },
		{ SERVER, "a100", "reserved_bits" }, /* RSV2 */
		{ SERVER, "9100", "reserved_bits" }, /* RSV3 */
		{ SERVER, "c900", "reserved_bits" }, /* RSV1 on a ping */
		{ SERVER, "4100c000", "reserved_bits" }, /* RSV1 on a continuation */
		{ SERVER, "897e", "control_too_long" },
		{ CLIENT, "88fe", "control_too_long" },
		{ SERVER, "0900", "fragmented_control" },
		{ CLIENT, "0a80", "fragmented_control" },
		{ SERVER, "8000", "bad_continuation" }, /* nothing to continue */
		{ SERVER, "01008100", "bad_continuation" }, /* a new message inside one */
		{ SERVER, "02000200", "bad_continuation" },
		{ SERVER, "827f8000000000000000", "too_long" }, /* the 64th bit is set */
		{ SERVER, "027f7fffffffffffffff007f7fffffffffffffff", "too_long" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct rec *r = rec_new();
		uint8_t b[64];
		size_t n = unhex(cases[i].hex, b, sizeof(b));
		struct stream ok = { 0 };
		struct ws_event want[2];
		char what[96];
		bool d = cases[i].from_client;

		/* two maximal fragments: the payload of the first one passes in gaps */
		if (!strcmp(cases[i].hex, "027f7fffffffffffffff007f7fffffffffffffff")) {
			feed_part(r, d, b, 10, 10 + ((1ull << 63) - 1) / 2, 1);
			feed_part(r, d, NULL, 0, ((1ull << 63) - 1) - ((1ull << 63) - 1) / 2, 1);
			feed_part(r, d, b + 10, 10, 10, 1);
			feed_part(r, d, NULL, 0, 1ull << 62, 1);
			feed_part(r, d, NULL, 0, (1ull << 62) - 1, 1);
			/* 2 * (2^63 - 1) < 2^64: one more frame overflows */
			feed_part(r, d, (const uint8_t *)"\x00\x7f\x00\x00\x00\x00\x00\x00\x00\x02",
				  10, 10, 1);
		} else {
			feed_part(r, d, b, n, n, 1);
		}
		want[0] = ev_err(d, cases[i].reason);
		want[0].ts_ns = 1;
		snprintf(what, sizeof(what), "%s %s", d ? "client" : "server", cases[i].hex);
		expect_events(what, r, want, 1);
		assert_true(ws__stopped(&r->c, d));
		assert_false(ws__stopped(&r->c, !d));

		/* nothing more from the stopped direction; the other one still parses */
		put_text(&ok, d, "{\"type\":\"ping\"}");
		feed(r, d, &ok, 0, 2);
		feed_part(r, d, NULL, 0, 100, 2);
		stream_free(&ok);
		put_text(&ok, !d, "{\"type\":\"pong\"}");
		feed(r, !d, &ok, 0, 3);
		want[1] = ev_msg(!d, true, 15, 1);
		set_ids(&want[1], "pong", "", "");
		want[1].ts_ns = 3;
		expect_events(what, r, want, 2);
		stream_free(&ok);
		free(r);
	}
}

/* ---- permessage-deflate ---- */

/* One side's compressor: a raw deflate stream of wbits, kept across messages or not. */
struct deflater {
	z_stream z;
	bool takeover;
	size_t last_len; /* the last message's compressed length */
};

static void deflater_init(struct deflater *d, int wbits, bool takeover)
{
	memset(d, 0, sizeof(*d));
	assert_int_equal(deflateInit2(&d->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -wbits, 8,
				      Z_DEFAULT_STRATEGY),
			 Z_OK);
	d->takeover = takeover;
}

static void deflater_end(struct deflater *d)
{
	deflateEnd(&d->z);
}

/* The compressed payload of one message (RFC 7692 7.2.1) appended to out; finish: end the
 * stream with BFINAL instead (7.2.3.3's alternative). */
static void deflate_msg(struct deflater *d, const void *in, size_t n, struct stream *out,
			bool finish)
{
	uint8_t buf[1 << 16];
	size_t len;

	if (!d->takeover)
		assert_int_equal(deflateReset(&d->z), Z_OK);
	d->z.next_in = (uint8_t *)in;
	d->z.avail_in = (unsigned int)n;
	d->z.next_out = buf;
	d->z.avail_out = sizeof(buf);
	assert_int_equal(deflate(&d->z, finish ? Z_FINISH : Z_SYNC_FLUSH),
			 finish ? Z_STREAM_END : Z_OK);
	assert_int_equal(d->z.avail_in, 0);
	assert_true(d->z.avail_out > 0);
	len = sizeof(buf) - d->z.avail_out;
	if (!finish) {
		assert_true(len >= 4 && !memcmp(buf + len - 4, "\x00\x00\xff\xff", 4));
		len -= 4;
	} else {
		assert_int_equal(deflateReset(&d->z), Z_OK);
	}
	put(out, buf, len);
	d->last_len = len;
}

/* One compressed text message in `frames` frames (with a ping after the first). */
static void put_deflated(struct stream *s, struct deflater *d, bool from_client, const char *text,
			 int frames)
{
	struct stream z = { 0 };
	size_t off = 0, part;
	int i;

	deflate_msg(d, text, strlen(text), &z, false);
	part = frames > 1 ? z.n / (size_t)frames : z.n;
	for (i = 0; i < frames; i++) {
		size_t n = i == frames - 1 ? z.n - off : part;
		uint8_t b0 = (i == frames - 1 ? FIN : 0) | (i ? OP_CONT : RSV1 | OP_TEXT);

		put_frame(s, b0, from_client ? (i & 1 ? KEY2 : KEY1) : NULL, z.b + off, n);
		off += n;
		if (i == 0 && frames > 1)
			put_frame(s, FIN | OP_PING, from_client ? KEY3 : NULL, "", 0);
	}
	stream_free(&z);
}

static struct ws_deflate pmd(int client_bits, int server_bits, bool client_nct, bool server_nct)
{
	struct ws_deflate p = { .on = true };

	p.wbits[CLIENT] = (uint8_t)client_bits;
	p.wbits[SERVER] = (uint8_t)server_bits;
	p.no_takeover[CLIENT] = client_nct;
	p.no_takeover[SERVER] = server_nct;
	return p;
}

static struct ws_event ev_z(bool from_client, uint64_t len, const char *text, uint64_t ts)
{
	struct ws_event ev = ev_msg(from_client, true, len, 1);
	json_error_t err;
	json_t *j = json_loads(text, 0, &err), *v, *data;

	ev.msg.compressed = true;
	ev.msg.data_len = strlen(text);
	ev.ts_ns = ts;
	assert_non_null(j);
	ev.msg.json = true;
	if ((v = json_object_get(j, "type")))
		snprintf(ev.msg.type, WS_ID_MAX, "%s", json_string_value(v));
	if ((v = json_object_get(j, "group_id")))
		snprintf(ev.msg.group_id, WS_ID_MAX, "%s", json_string_value(v));
	v = json_object_get(j, "message_id");
	data = json_object_get(j, "data");
	if (!v && data)
		v = json_object_get(data, "message_id");
	if (v)
		snprintf(ev.msg.message_id, WS_ID_MAX, "%s", json_string_value(v));
	json_decref(j);
	return ev;
}

/* BitChat-like texts: message k repeats most of k - 1 (a window's worth of history) */
static void chat_text(char *out, size_t cap, int k, size_t content)
{
	char body[2048];
	size_t i;

	assert_true(content < sizeof(body));
	for (i = 0; i < content; i++) /* varied, but the same in every message */
		body[i] = "abcdefghijklmnopqrstuvwxyz0123456789 "[(i * 7 + i / 37) % 37];
	body[content] = '\0';
	if (k % 3 == 2)
		snprintf(out, cap,
			 "{\"type\":\"group_message\",\"group_id\":\"room-%d\",\"data\":{\"message_id\":"
			 "\"m-%d\",\"sender\":\"peer-server\",\"content\":\"%s\"}}",
			 k % 4, k, body);
	else if (k % 3 == 1)
		snprintf(out, cap, "{\"type\":\"ack\",\"message_id\":\"m-%d\"}", k);
	else
		snprintf(out, cap,
			 "{\"type\":\"message\",\"data\":{\"message_id\":\"m-%d\",\"sender\":"
			 "\"peer-server\",\"content\":\"%s\"}}",
			 k, body);
}

/* Without permessage-deflate agreed, RSV1 is a protocol violation. */
static void test_compressed_not_agreed(void **state)
{
	/* {"type":"ping"} deflated by zlib (raw, sync flush, 00 00 ff ff tail removed: RFC 7692) */
	static const char deflated[] = "aa562aa92c4855b2522ac8cc4b57aa0500";
	uint8_t z[32];
	size_t zn = unhex(deflated, z, sizeof(z));
	struct stream s = { 0 };
	struct rec *r = rec_new();
	struct ws_event want[2];
	struct ws_deflate p = pmd(15, 15, false, false);

	(void)state;
	put_frame(&s, FIN | RSV1 | OP_TEXT, KEY1, z, zn);
	feed(r, CLIENT, &s, 0, 4);
	want[0] = ev_err(CLIENT, "reserved_bits");
	want[0].ts_ns = 4;
	expect_events("RSV1 without the extension", r, want, 1);

	/* the same bytes once agreed: the reference vector reads back as {"type":"ping"} */
	ws__init(&r->c);
	r->n = 0;
	ws__set_deflate(&r->c, &p, 1 << 20);
	feed(r, CLIENT, &s, 0, 4);
	want[0] = ev_z(CLIENT, zn, "{\"type\":\"ping\"}", 4);
	expect_events("agreed", r, want, 1);
	ws__free(&r->c);
	assert_int_equal(r->c.mem, 0);
	stream_free(&s);
	free(r);
}

/*
 * Both directions, window bits 9..15, context takeover on and off, each message whole, in
 * 3 frames around a ping, and the stream fed whole, in 1-, 3- and 7-byte chunks: every
 * text reads back exactly. With takeover a repeated message costs a fraction of the first
 * (the window is really carried over), and the inflater told "no takeover" for such a
 * stream fails as the endpoint's would: "bad_deflate".
 */
static void test_inflate_windows(void **state)
{
	static const size_t chunks[] = { 0, 1, 3, 7 };
	char text[4096];
	int bits, takeover, k, dir;
	size_t c;

	(void)state;
	for (bits = WS_WBITS_MIN; bits <= WS_WBITS_MAX; bits++) {
		for (takeover = 0; takeover < 2; takeover++) {
			for (dir = 0; dir < 2; dir++) {
				bool from_client = dir;
				struct deflater d;
				struct stream s = { 0 };
				struct ws_event *want = calloc(MAX_EVENTS, sizeof(*want));
				struct ws_deflate p = pmd(bits, bits, !takeover, !takeover);
				size_t n = 0, first = 0, second = 0;

				assert_non_null(want);
				deflater_init(&d, bits, takeover);
				for (k = 0; k < 12; k++) {
					struct stream one = { 0 };
					int frames = k % 4 == 3 ? 3 : 1;

					chat_text(text, sizeof(text), k, 300 + (size_t)(k * 97) % 900);
					put_deflated(&one, &d, from_client, text, frames);
					if (k == 0)
						first = d.last_len;
					if (k == 3)
						second = d.last_len;
					put(&s, one.b, one.n);
					want[n] = ev_z(from_client, d.last_len, text, 9);
					want[n].msg.fragments = (uint32_t)frames;
					if (frames > 1) {
						want[n + 1] = want[n];
						want[n] = ev_ctl(WS_EV_PING, from_client, 0, 0);
						want[n].ts_ns = 9;
						n++;
					}
					n++;
					stream_free(&one);
				}
				(void)first;
				(void)second;
				for (c = 0; c < ARRAY_SIZE(chunks); c++) {
					struct rec *r = rec_new();
					char what[96];

					ws__set_deflate(&r->c, &p, 1 << 20);
					feed(r, from_client, &s, chunks[c], 9);
					snprintf(what, sizeof(what), "bits %d takeover %d %s chunk %zu",
						 bits, takeover, from_client ? "client" : "server",
						 chunks[c]);
					expect_events(what, r, want, n);
					/* without takeover nothing is held between messages */
					if (!takeover)
						assert_int_equal(r->c.mem, 0);
					else
						assert_true(r->c.mem > 0);
					ws__free(&r->c);
					assert_int_equal(r->c.mem, 0);
					free(r);
				}
				if (takeover) {
					/* the stream needs the window: a fresh inflater per message
					 * cannot read it */
					struct rec *r = rec_new();
					struct ws_deflate wrong = pmd(bits, bits, true, true);
					size_t i, lost = 0, msgs = 0;

					ws__set_deflate(&r->c, &wrong, 1 << 20);
					feed(r, from_client, &s, 0, 9);
					for (i = 0; i < r->n; i++) {
						lost += r->ev[i].type == WS_EV_INFLATE_LOST;
						msgs += r->ev[i].type == WS_EV_MESSAGE;
						if (r->ev[i].type == WS_EV_INFLATE_LOST)
							assert_string_equal(r->ev[i].reason,
									    "bad_deflate");
					}
					assert_int_equal(lost, 1);
					assert_true(msgs < 12);
					ws__free(&r->c);
					free(r);
				}
				deflater_end(&d);
				stream_free(&s);
				free(want);
			}
		}
	}
}

/* Context takeover is real: a message that repeats the one before costs a few bytes. */
static void test_inflate_takeover_gain(void **state)
{
	char text[2048];
	struct deflater on, off;
	struct stream s = { 0 }, t = { 0 };
	struct rec *r = rec_new();
	struct ws_deflate p = pmd(15, 15, false, false);
	struct ws_event want[2];

	(void)state;
	chat_text(text, sizeof(text), 0, 1000);
	deflater_init(&on, 15, true);
	deflater_init(&off, 15, false);
	put_deflated(&s, &on, SERVER, text, 1);
	put_deflated(&s, &on, SERVER, text, 1);
	put_deflated(&t, &off, SERVER, text, 1);
	put_deflated(&t, &off, SERVER, text, 1);
	print_message("1000-byte text: %zu bytes alone, %zu bytes repeated with takeover\n",
		      off.last_len, on.last_len);
	assert_true(on.last_len * 5 < off.last_len);
	ws__set_deflate(&r->c, &p, 1 << 20);
	feed(r, SERVER, &s, 0, 1);
	want[0] = ev_z(SERVER, off.last_len, text, 1);
	want[1] = ev_z(SERVER, on.last_len, text, 1);
	expect_events("takeover", r, want, 2);
	ws__free(&r->c);
	deflater_end(&on);
	deflater_end(&off);
	stream_free(&s);
	stream_free(&t);
	free(r);
}

/* What an inflating connection holds: zlib's state plus a 32 KiB window, per direction,
 * whatever window was agreed. */
static void test_inflate_memory(void **state)
{
	char text[512];
	int bits;

	(void)state;
	chat_text(text, sizeof(text), 0, 200);
	for (bits = WS_WBITS_MIN; bits <= WS_WBITS_MAX; bits++) {
		struct deflater dc, ds;
		struct stream c = { 0 }, sv = { 0 };
		struct rec *r = rec_new();
		struct ws_deflate p = pmd(bits, bits, false, false);

		deflater_init(&dc, bits, true);
		deflater_init(&ds, bits, true);
		put_deflated(&c, &dc, CLIENT, text, 1);
		put_deflated(&sv, &ds, SERVER, text, 1);
		ws__set_deflate(&r->c, &p, 1 << 20);
		feed(r, CLIENT, &c, 0, 1);
		feed(r, SERVER, &sv, 0, 1);
		assert_int_equal(r->n, 2);
		print_message("window bits %d: %llu bytes held by zlib for both directions\n",
			      bits, (unsigned long long)r->c.mem);
		/* two states of at most 8 KiB besides the windows */
		assert_true(r->c.mem >= 2 * (1ULL << WS_WBITS_MAX));
		assert_true(r->c.mem <= 2 * ((1ULL << WS_WBITS_MAX) + 8192));
		ws__free(&r->c);
		assert_int_equal(r->c.mem, 0);
		deflater_end(&dc);
		deflater_end(&ds);
		stream_free(&c);
		stream_free(&sv);
		free(r);
	}
}

/*
 * A sender that agreed to a 1 KiB window and then refers 3000 bytes back: read the same,
 * whole and byte by byte (zlib alone would accept it in one call and refuse it in
 * pieces); a distance before the stream's start is refused both ways.
 */
static void test_inflate_past_window(void **state)
{
	static const size_t chunks[] = { 0, 1, 5 };
	char text[4096];
	struct ws_event want;
	uint32_t x = 12345;
	size_t i, k;

	(void)state;
	/* 3000 pseudo-random letters, then their first 1000 again, 3000 bytes back */
	for (i = 0; i < 3000; i++) {
		x = (x * 1103515245u + 12345u) & 0x7fffffff;
		text[i] = (char)('a' + (x >> 16) % 26);
	}
	memcpy(text + 3000, text, 1000);
	text[0] = '{';
	text[4000] = '\0';
	for (k = 0; k < ARRAY_SIZE(chunks); k++) {
		struct deflater ds;
		struct stream sv = { 0 };
		struct rec *r = rec_new();
		struct ws_deflate p = pmd(10, 10, false, false);

		deflater_init(&ds, 15, true);
		put_deflated(&sv, &ds, SERVER, text, 1);
		ws__set_deflate(&r->c, &p, 1 << 20);
		feed(r, SERVER, &sv, chunks[k], 1);
		want = ev_msg(SERVER, true, ds.last_len, 1);
		want.msg.compressed = true;
		want.msg.data_len = 4000;
		assert_int_equal(r->n, 1);
		assert_int_equal(r->ev[0].type, WS_EV_MESSAGE);
		assert_int_equal(r->ev[0].msg.data_len, want.msg.data_len);
		assert_int_equal(r->ev[0].msg.len, want.msg.len);
		ws__free(&r->c);
		deflater_end(&ds);
		stream_free(&sv);
		free(r);
	}
	/* a fixed-Huffman block: literal 'a', then length 3 at distance 2, one byte before
	 * the stream's start (Python's zlib: "invalid distance too far back") */
	for (k = 0; k < ARRAY_SIZE(chunks); k++) {
		static const uint8_t bad[] = { 0x4a, 0x04, 0x42, 0x00 };
		struct stream sv = { 0 };
		struct rec *r = rec_new();
		struct ws_deflate p = pmd(10, 10, false, false);

		put_frame(&sv, FIN | RSV1 | OP_TEXT, NULL, bad, sizeof(bad));
		ws__set_deflate(&r->c, &p, 1 << 20);
		feed(r, SERVER, &sv, chunks[k], 1);
		assert_int_equal(r->n, 1);
		assert_int_equal(r->ev[0].type, WS_EV_INFLATE_LOST);
		assert_string_equal(r->ev[0].reason, "bad_deflate");
		ws__free(&r->c);
		stream_free(&sv);
		free(r);
	}
}

/*
 * A compressed message partly in a gap: the stream cannot be read on, "desync" once; the
 * direction's later compressed messages are not reported, its uncompressed ones and its
 * control frames are; the other direction goes on.
 */
static void test_inflate_gap(void **state)
{
	char text[2048];
	struct deflater dc, ds;
	struct stream a = { 0 }, b = { 0 }, sv = { 0 };
	struct rec *r = rec_new();
	struct ws_deflate p = pmd(15, 15, false, false);
	struct ws_event want[8];
	size_t n = 0;

	(void)state;
	deflater_init(&dc, 15, true);
	deflater_init(&ds, 15, true);
	chat_text(text, sizeof(text), 0, 1500);
	put_deflated(&a, &dc, CLIENT, text, 1); /* seen in part: 20 bytes, then a gap */
	chat_text(text, sizeof(text), 1, 10);
	put_deflated(&b, &dc, CLIENT, text, 1); /* whole, but its window is lost */
	put_frame(&b, FIN | OP_PING, KEY1, "", 0);
	put_text(&b, CLIENT, "{\"type\":\"ack\",\"message_id\":\"m-7\"}"); /* not compressed */
	put_deflated(&b, &dc, CLIENT, text, 1);
	chat_text(text, sizeof(text), 2, 100);
	put_deflated(&sv, &ds, SERVER, text, 1);
	ws__set_deflate(&r->c, &p, 1 << 20);
	feed_part(r, CLIENT, a.b, 20, a.n, 1);
	want[n] = ev_err(CLIENT, "desync");
	want[n].type = WS_EV_INFLATE_LOST;
	want[n++].ts_ns = 1;
	feed(r, CLIENT, &b, 5, 2);
	want[n++] = ev_ctl(WS_EV_PING, CLIENT, 0, 0);
	want[n] = ev_msg(CLIENT, true, 33, 1);
	set_ids(&want[n], "ack", "", "m-7");
	n++;
	want[n - 2].ts_ns = want[n - 1].ts_ns = 2;
	feed(r, SERVER, &sv, 0, 3);
	want[n++] = ev_z(SERVER, ds.last_len, text, 3);
	expect_events("gap", r, want, n);
	assert_false(ws__stopped(&r->c, CLIENT));
	assert_true(ws__inflating(&r->c)); /* the server's direction still is */
	ws__free(&r->c);
	deflater_end(&dc);
	deflater_end(&ds);
	stream_free(&a);
	stream_free(&b);
	stream_free(&sv);
	free(r);
}

/*
 * A decompression bomb: 4 MiB of spaces (about 4 KiB deflated) over a 64 KiB cap is
 * dropped (TOO_BIG) having inflated one byte past the cap and no more. Without
 * takeover the next message reads; with it the stream is lost ("desync").
 */
static void test_inflate_bomb(void **state)
{
	const size_t big = 4 << 20, cap = 64 << 10;
	char *zeros = calloc(1, big + 64), text[512];
	int takeover;

	(void)state;
	assert_non_null(zeros);
	memcpy(zeros, "{\"type\":\"message\",\"data\":\"", 26);
	memset(zeros + 26, ' ', big - 28);
	memcpy(zeros + big - 2, "\"}", 3);
	chat_text(text, sizeof(text), 0, 100);
	for (takeover = 0; takeover < 2; takeover++) {
		struct deflater d;
		struct stream s = { 0 };
		struct rec *r = rec_new();
		struct ws_deflate p = pmd(15, 15, !takeover, !takeover);
		size_t bomb_len, i, n = 0;
		struct ws_event want[4];

		deflater_init(&d, 15, takeover);
		put_deflated(&s, &d, CLIENT, zeros, 1);
		bomb_len = d.last_len;
		put_deflated(&s, &d, CLIENT, text, 1);
		ws__set_deflate(&r->c, &p, cap);
		feed(r, CLIENT, &s, 0, 5);
		print_message("bomb: %zu bytes deflated, %zu inflated\n", bomb_len, big);
		assert_true(r->n >= 1);
		assert_int_equal(r->ev[0].type, WS_EV_TOO_BIG);
		assert_int_equal(r->ev[0].msg.data_len, cap + 1); /* inflating stopped there */
		assert_int_equal(r->ev[0].msg.len, bomb_len);
		want[n++] = r->ev[0];
		if (takeover) {
			want[n] = ev_err(CLIENT, "desync");
			want[n].type = WS_EV_INFLATE_LOST;
			want[n++].ts_ns = 5;
		} else {
			want[n++] = ev_z(CLIENT, d.last_len, text, 5);
		}
		expect_events(takeover ? "bomb, takeover" : "bomb, no takeover", r, want, n);
		for (i = 0; i < r->n; i++)
			assert_int_equal(r->ev[i].ts_ns, 5);
		ws__free(&r->c);
		deflater_end(&d);
		stream_free(&s);
		free(r);
	}
	free(zeros);
}

/* A sender that ends each message's stream with BFINAL: each message reads, afresh. */
static void test_inflate_bfinal(void **state)
{
	char text[512];
	struct deflater d;
	struct stream s = { 0 }, z = { 0 };
	struct rec *r = rec_new();
	struct ws_deflate p = pmd(15, 15, false, false);
	struct ws_event want[2];
	int k;

	(void)state;
	deflater_init(&d, 15, true);
	for (k = 0; k < 2; k++) {
		chat_text(text, sizeof(text), k, 50);
		z.n = 0;
		deflate_msg(&d, text, strlen(text), &z, true);
		put_frame(&s, FIN | RSV1 | OP_TEXT, NULL, z.b, z.n);
		want[k] = ev_z(SERVER, z.n, text, 1);
	}
	ws__set_deflate(&r->c, &p, 1 << 20);
	feed(r, SERVER, &s, 0, 1);
	expect_events("bfinal", r, want, 2);
	ws__free(&r->c);
	deflater_end(&d);
	stream_free(&s);
	stream_free(&z);
	free(r);
}

/* Agreed but unknown to the probe, or given up: compressed messages are not reported. */
static void test_inflate_unknown_and_drop(void **state)
{
	char text[512];
	struct deflater d;
	struct stream s = { 0 };
	struct rec *r = rec_new();
	struct ws_deflate p;
	struct ws_event want[3];

	(void)state;
	deflater_init(&d, 15, true);
	chat_text(text, sizeof(text), 0, 50);
	put_deflated(&s, &d, SERVER, text, 1);
	put_text(&s, SERVER, "{\"type\":\"pong\"}");
	put_deflated(&s, &d, SERVER, text, 1);
	assert_false(ws__parse_extensions("x-webkit-deflate-frame", &p));
	ws__set_deflate(&r->c, &p, 1 << 20);
	feed(r, SERVER, &s, 0, 1);
	want[0] = ev_err(SERVER, "desync");
	want[0].type = WS_EV_INFLATE_LOST;
	want[1] = ev_msg(SERVER, true, 15, 1);
	set_ids(&want[1], "pong", "", "");
	want[0].ts_ns = want[1].ts_ns = 1;
	expect_events("unknown extension", r, want, 2);
	assert_false(ws__inflating(&r->c));

	/* given up between messages (evicted): silently */
	ws__init(&r->c);
	r->n = 0;
	p = pmd(15, 15, false, false);
	ws__set_deflate(&r->c, &p, 1 << 20);
	assert_true(ws__inflating(&r->c));
	assert_true(ws__inflate_drop(&r->c));
	assert_false(ws__inflating(&r->c));
	feed(r, SERVER, &s, 0, 1);
	expect_events("dropped", r, &want[1], 1);
	assert_false(ws__inflate_drop(&r->c));
	ws__free(&r->c);
	deflater_end(&d);
	stream_free(&s);
	free(r);
}

/* The server's Sec-WebSocket-Extensions, as Python websockets, node ws and others write it. */
static void test_parse_extensions(void **state)
{
	static const struct {
		const char *value;
		bool ok, on;
		int cbits, sbits;
		bool cnct, snct;
	} cases[] = {
		{ "", true, false, 15, 15, false, false },
		{ "permessage-deflate", true, true, 15, 15, false, false },
		/* Python websockets 10.4's server defaults */
		{ "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12", true,
		  true, 12, 12, false, false },
		/* node ws with both no_context_takeover and small windows */
		{ "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
		  "server_max_window_bits=9; client_max_window_bits=10",
		  true, true, 10, 9, true, true },
		{ "Permessage-Deflate;Server_Max_Window_Bits=\"11\" ; client_max_window_bits=8", true,
		  true, 8, 11, false, false },
		{ " , permessage-deflate ,", true, true, 15, 15, false, false },
		{ "permessage-deflate; client_max_window_bits", false, false, 15, 15, false, false },
		{ "permessage-deflate; server_max_window_bits=16", false, false, 15, 15, false, false },
		{ "permessage-deflate; server_max_window_bits=7", false, false, 15, 15, false, false },
		{ "permessage-deflate; server_no_context_takeover=1", false, false, 15, 15, false,
		  false },
		{ "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
		  false, false, 15, 15, false, false },
		{ "permessage-deflate; mux", false, false, 15, 15, false, false },
		{ "permessage-deflate, permessage-deflate", false, false, 15, 15, false, false },
		{ "permessage-deflate, x-other", false, false, 15, 15, false, false },
		{ "permessage-deflate; server_max_window_bits=\"12", false, false, 15, 15, false,
		  false },
		{ "permessage-deflate x", false, false, 15, 15, false, false },
	};
	struct ws_deflate p;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		bool ok = ws__parse_extensions(cases[i].value, &p);

		if (ok != cases[i].ok || p.on != cases[i].on || p.unknown == cases[i].ok ||
		    p.wbits[CLIENT] != cases[i].cbits || p.wbits[SERVER] != cases[i].sbits ||
		    p.no_takeover[CLIENT] != cases[i].cnct ||
		    p.no_takeover[SERVER] != cases[i].snct)
			fail_msg("'%s': ok %d on %d unknown %d bits %d/%d nct %d/%d", cases[i].value,
				 ok, p.on, p.unknown, p.wbits[CLIENT], p.wbits[SERVER],
				 p.no_takeover[CLIENT], p.no_takeover[SERVER]);
	}
	assert_false(ws__parse_extensions(NULL, &p));
	assert_true(p.unknown);
}

/* Payload bytes in gaps are counted off by length; the next header is found. */
static void test_gaps_in_payload(void **state)
{
	const char *json =
		"{\"type\":\"message\",\"data\":{\"message_id\":\"m-9\",\"body\":\"hello\"}}";
	size_t jn = strlen(json);
	struct stream s = { 0 }, next = { 0 };
	struct rec *r = rec_new();
	struct ws_event want[4];
	size_t hdr, cut;

	(void)state;
	/* text frame, masked, 16-bit length: header 8 bytes */
	{
		char text[1500];

		memset(text, ' ', sizeof(text)); /* JSON whitespace after the object */
		memcpy(text, json, jn);
		put_frame(&s, FIN | OP_TEXT, KEY2, text, sizeof(text));
	}
	hdr = 8;
	put_text(&next, CLIENT, "{\"type\":\"ack\",\"message_id\":\"m-9\"}");

	/* cut after the object: every field seen, but the text is not whole */
	feed_part(r, CLIENT, s.b, hdr + jn + 3, s.n, 1);
	feed(r, CLIENT, &next, 0, 2);
	want[0] = ev_msg(CLIENT, true, 1500, 1);
	set_ids(&want[0], "message", "", "m-9");
	want[0].msg.gap = true;
	want[0].ts_ns = 1;
	want[1] = ev_msg(CLIENT, true, 33, 1);
	set_ids(&want[1], "ack", "", "m-9");
	want[1].ts_ns = 2;
	expect_events("gap after the object", r, want, 2);

	/* cut inside the message_id string: that key is not reported; a gap in two pieces */
	ws__init(&r->c);
	r->n = 0;
	cut = hdr + (size_t)(strstr(json, "m-9") - json) + 2;
	feed_part(r, CLIENT, s.b, cut, cut + 100, 1);
	feed_part(r, CLIENT, NULL, 0, s.n - cut - 100, 1);
	feed(r, CLIENT, &next, 0, 2);
	want[0].msg.message_id[0] = '\0';
	expect_events("gap inside a value", r, want, 2);

	/* captured bytes after a gap inside the same message are not appended to the text */
	ws__init(&r->c);
	r->n = 0;
	feed_part(r, CLIENT, s.b, hdr + 9, hdr + 12, 1); /* {"type":" then a gap */
	feed_part(r, CLIENT, s.b + hdr + 12, s.n - hdr - 12, s.n - hdr - 12, 1);
	feed(r, CLIENT, &next, 0, 2);
	set_ids(&want[0], "", "", "");
	want[0].msg.gap = true;
	expect_events("captured after a gap", r, want, 2);

	/* the gap ends exactly at the end of the frame, the next header is in the next chunk */
	ws__init(&r->c);
	r->n = 0;
	feed_part(r, CLIENT, s.b, hdr + 3, s.n, 1);
	feed(r, CLIENT, &next, 0, 2);
	want[0].msg.json = true; /* {"t is a prefix of an object */
	expect_events("gap to the end of the frame", r, want, 2);

	/* one chunk: the frame in a gap after its header, in the next chunk the next frame */
	ws__init(&r->c);
	r->n = 0;
	feed_part(r, CLIENT, s.b, hdr, s.n, 1);
	feed(r, CLIENT, &next, 0, 2);
	want[0].msg.json = false;
	expect_events("payload wholly in a gap", r, want, 2);

	/* a 0-length frame then a gap: the gap starts at a header */
	ws__init(&r->c);
	r->n = 0;
	stream_free(&s);
	put_frame(&s, FIN | OP_BIN, NULL, "", 0);
	feed_part(r, SERVER, s.b, 2, 3, 1);
	want[0] = ev_msg(SERVER, false, 0, 1);
	want[0].ts_ns = 1;
	want[1] = ev_err(SERVER, "desync");
	want[1].ts_ns = 1;
	expect_events("empty frame then a gap", r, want, 2);
	stream_free(&s);
	stream_free(&next);
	free(r);
}

/* A header in a gap: desync once, then nothing from that direction. */
static void test_header_in_gap(void **state)
{
	struct stream s = { 0 };
	struct rec *r = rec_new();
	struct ws_event want[4];
	int part;

	(void)state;
	put_text(&s, SERVER, "{\"type\":\"pong\"}"); /* 17 bytes */
	put_text(&s, SERVER, "{\"type\":\"message\"}"); /* 20 bytes */

	/* the gap covers the end of frame 1 and the whole header of frame 2 (and more) */
	feed_part(r, SERVER, s.b, 10, 20, 1);
	feed(r, SERVER, &s, 0, 2);
	feed_part(r, SERVER, NULL, 0, 5, 3);
	want[0] = ev_msg(SERVER, true, 15, 1);
	set_ids(&want[0], "", "", "");
	want[0].msg.gap = true;
	want[0].msg.json = true; /* {"type" is a prefix of an object */
	want[0].ts_ns = 1;
	want[1] = ev_err(SERVER, "desync");
	want[1].ts_ns = 1;
	expect_events("gap over a header", r, want, 2);
	assert_true(ws__stopped(&r->c, SERVER));
	assert_false(ws__stopped(&r->c, CLIENT));

	/* the gap covers only part of a header: first byte, middle of the key, 16-bit length */
	for (part = 0; part < 3; part++) {
		static const size_t at[] = { 0, 4, 2 };
		struct stream t = { 0 };
		char text[200];

		memset(text, 'z', sizeof(text));
		put_frame(&t, FIN | OP_BIN, KEY1, text, sizeof(text)); /* 8-byte header */
		ws__init(&r->c);
		r->n = 0;
		feed_part(r, CLIENT, t.b, at[part], at[part] + 1, 7);
		feed_part(r, CLIENT, t.b + at[part] + 1, t.n - at[part] - 1, t.n - at[part] - 1, 8);
		want[0] = ev_err(CLIENT, "desync");
		want[0].ts_ns = 7;
		expect_events("gap inside a header", r, want, 1);
		stream_free(&t);
	}
	stream_free(&s);
	free(r);
}

/* ---- JSON ---- */

struct jcase {
	const char *text;
	bool complete;
	bool json;
	const char *type, *group_id, *message_id;
	const char *rooms; /* rooms joined with '|', "" for none */
};

static void join_rooms(const struct ws_message *m, char *buf, size_t len)
{
	size_t off = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < m->nrooms; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? "|" : "", m->rooms[i]);
}

static void check_json(const struct jcase *c)
{
	struct ws_message m;
	size_t n = strlen(c->text);
	uint8_t *copy = malloc(n ? n : 1);
	char rooms[WS_ROOMS_MAX * WS_ID_MAX + 8];

	assert_non_null(copy);
	memcpy(copy, c->text, n);
	memset(&m, 0x7e, sizeof(m)); /* every JSON field must be set */
	m.len = 77;
	ws__json_extract(copy, n, c->complete, &m);
	free(copy);
	join_rooms(&m, rooms, sizeof(rooms));
	if (m.json != c->json || strcmp(m.type, c->type) || strcmp(m.group_id, c->group_id) ||
	    strcmp(m.message_id, c->message_id) || strcmp(rooms, c->rooms) || m.len != 77) {
		print_error("json %s (complete=%d):\n  got  json=%d type='%s' group_id='%s' "
			    "message_id='%s' rooms='%s'\n  want json=%d type='%s' group_id='%s' "
			    "message_id='%s' rooms='%s'\n",
			    c->text, c->complete, m.json, m.type, m.group_id, m.message_id, rooms,
			    c->json, c->type, c->group_id, c->message_id, c->rooms);
		fail();
	}
}

static const struct jcase jcases[] = {
	/* DESIGN.md's messages */
	{ "{\"type\":\"ping\"}", true, true, "ping", "", "", "" },
	{ "{\"type\":\"ack\",\"message_id\":\"m-1\"}", true, true, "ack", "", "m-1", "" },
	{ "{\"type\":\"subscribe\",\"rooms\":[\"a\",\"b\"]}", true, true, "subscribe", "", "",
	  "a|b" },
	{ "{\"type\":\"message\",\"data\":{\"from\":\"x\",\"message_id\":\"m-1\"}}", true, true,
	  "message", "", "m-1", "" },
	{ "{\"type\":\"group_message\",\"group_id\":\"g1\",\"data\":{\"from\":\"x\"}}", true, true,
	  "group_message", "g1", "", "" },
	/* whitespace everywhere, keys in any order */
	{ " \r\n\t{ \"data\" : { \"message_id\" : \"d\" } , \"group_id\" :\"g\",\n\"type\"\t:"
	  "\"t\" }\n ",
	  true, true, "t", "g", "d", "" },
	/* a top-level message_id wins over data.message_id, before or after it */
	{ "{\"message_id\":\"top\",\"data\":{\"message_id\":\"nested\"}}", true, true, "", "",
	  "top", "" },
	{ "{\"data\":{\"message_id\":\"nested\"},\"message_id\":\"top\"}", true, true, "", "",
	  "top", "" },
	/* only data.message_id counts: not deeper, not in other objects, not in arrays */
	{ "{\"data\":{\"x\":{\"message_id\":\"deep\"}},\"other\":{\"message_id\":\"o\"},"
	  "\"l\":[{\"type\":\"no\"}]}",
	  true, true, "", "", "", "" },
	{ "{\"data\":{\"type\":\"inner\",\"group_id\":\"ig\"}}", true, true, "", "", "", "" },
	/* escapes */
	{ "{\"type\":\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"}", true, true, "a\"b\\c/d\b\f\n\r\t", "",
	  "", "" },
	{ "{\"type\":\"\\u00e9\\u20AC\\ud83d\\ude00\"}", true, true, "\xc3\xa9\xe2\x82\xac\xf0\x9f"
									"\x98\x80",
	  "", "", "" },
	{ "{\"type\":\"a\\u0000b\"}", true, true, "a\xef\xbf\xbd" "b", "", "", "" },
	{ "{\"type\":\"\\ud800x\\udc00\"}", true, true, "\xef\xbf\xbdx\xef\xbf\xbd", "", "", "" },
	{ "{\"t\\u0079pe\":\"escaped key\"}", true, true, "escaped key", "", "", "" },
	/* raw UTF-8 kept, invalid bytes replaced */
	{ "{\"type\":\"caf\xc3\xa9\"}", true, true, "caf\xc3\xa9", "", "", "" },
	{ "{\"type\":\"a\xff\xc0\xafz\"}", true, true,
	  "a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz", "", "", "" },
	/* numbers as ids, written as in the text */
	{ "{\"group_id\":123,\"message_id\":-1.5e+3}", true, true, "", "123", "-1.5e+3", "" },
	{ "{\"data\":{\"message_id\":0}}", true, true, "", "", "0", "" },
	/* other values make an id "", the last duplicate wins */
	{ "{\"type\":\"x\",\"type\":null,\"group_id\":{\"a\":1},\"message_id\":[1]}", true, true,
	  "", "", "", "" },
	{ "{\"type\":\"first\",\"type\":\"second\"}", true, true, "second", "", "", "" },
	{ "{\"rooms\":[\"a\"],\"rooms\":[\"b\",\"c\"]}", true, true, "", "", "", "b|c" },
	/* rooms: non-strings skipped, at most WS_ROOMS_MAX */
	{ "{\"rooms\":[1,\"a\",null,{\"b\":\"c\"},[\"d\"],\"e\"]}", true, true, "", "", "", "a|e" },
	{ "{\"rooms\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\"]}", true, true,
	  "", "", "", "1|2|3|4|5|6|7|8" },
	{ "{\"rooms\":\"a\"}", true, true, "", "", "", "" },
	{ "{\"rooms\":[]}", true, true, "", "", "", "" },
	/* ids longer than WS_ID_MAX - 1 bytes are cut, at a character boundary */
	{ "{\"type\":\"0123456789012345678901234567890123456789012345678901234567890123456789\"}",
	  true, true, "012345678901234567890123456789012345678901234567890123456789012", "", "",
	  "" },
	{ "{\"type\":\"0123456789012345678901234567890123456789012345678901234567890"
	  "\xe2\x82\xac\"}",
	  true, true, "0123456789012345678901234567890123456789012345678901234567890", "", "", "" },
	{ "{\"group_id\":12345678901234567890123456789012345678901234567890123456789012345678}",
	  true, true, "", "123456789012345678901234567890123456789012345678901234567890123", "",
	  "" },
	/* literals and nesting in skipped values */
	{ "{\"a\":true,\"b\":false,\"c\":null,\"d\":[[],{},[{\"e\":[1,2.5,-0,1E9]}]],"
	  "\"type\":\"t\"}",
	  true, true, "t", "", "", "" },
	/* truncated prefixes: only whole values */
	{ "{\"type\":\"ack\",\"message_id\":\"m-", false, true, "ack", "", "", "" },
	{ "{\"type\":\"ack\",\"message_id\":\"m-1\"", false, true, "ack", "", "m-1", "" },
	{ "{\"type\":\"ack\",\"message_id\":\"m-1\"}", false, true, "ack", "", "m-1", "" },
	{ "{\"type\":\"ack\",\"message_id\":\"m-1\"", true, false, "", "", "", "" },
	{ "{\"group_id\":12", false, true, "", "", "", "" },
	{ "{\"group_id\":12,", false, true, "", "12", "", "" },
	{ "{\"group_id\":12", true, false, "", "", "", "" },
	{ "{\"type\":\"subscribe\",\"rooms\":[\"a\",\"b\",\"c", false, true, "subscribe", "", "",
	  "a|b" },
	{ "{\"type\":\"x\\u00", false, true, "", "", "", "" },
	{ "{\"type\":\"caf\xc3", false, true, "", "", "", "" },
	{ "{\"type\":\"t\",\"data\":{\"message_id\":\"d\",\"more\":tr", false, true, "t", "", "d",
	  "" },
	{ "{", false, true, "", "", "", "" },
	{ "  {", false, true, "", "", "", "" },
	{ "", false, false, "", "", "", "" },
	{ "   ", false, false, "", "", "", "" },
	/* not an object, or not JSON: json false and nothing extracted */
	{ "[{\"type\":\"x\"}]", true, false, "", "", "", "" },
	{ "\"type\"", true, false, "", "", "", "" },
	{ "Hello", true, false, "", "", "", "" },
	{ "{\"type\":\"x\"} {", true, false, "", "", "", "" },
	{ "{\"type\":\"x\"}}", false, false, "", "", "", "" },
	{ "{\"type\":\"x\",}", true, false, "", "", "", "" },
	{ "{\"type\":\"x\" \"group_id\":\"g\"}", true, false, "", "", "", "" },
	{ "{\"type\":'x'}", true, false, "", "", "", "" },
	{ "{type:\"x\"}", true, false, "", "", "", "" },
	{ "{\"type\":\"a\nb\"}", true, false, "", "", "", "" },
	{ "{\"type\":\"\\x\"}", true, false, "", "", "", "" },
	{ "{\"type\":\"\\u12g4\"}", true, false, "", "", "", "" },
	{ "{\"group_id\":01}", true, false, "", "", "", "" },
	{ "{\"group_id\":1.}", true, false, "", "", "", "" },
	{ "{\"group_id\":-}", true, false, "", "", "", "" },
	{ "{\"group_id\":1e}", true, false, "", "", "", "" },
	{ "{\"a\":tru}", true, false, "", "", "", "" },
	{ "{\"type\":\"x\",\"a\":[1,]}", false, false, "", "", "", "" },
	{ "{\"a\":[1}", false, false, "", "", "", "" },
};

static void test_json_cases(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(jcases); i++)
		check_json(&jcases[i]);
}

/* Nesting past the scanner's depth limit is still skipped correctly. */
static void test_json_deep(void **state)
{
	enum { DEPTH = 200 };
	char text[4 * DEPTH + 64];
	size_t n;
	int i;
	struct jcase c = { text, true, true, "after", "", "", "" };

	(void)state;
	n = (size_t)sprintf(text, "{\"x\":");
	for (i = 0; i < DEPTH; i++)
		n += (size_t)sprintf(text + n, "%s", i & 1 ? "{\"k\":" : "[");
	n += (size_t)sprintf(text + n, "\"]}\\\"\"");
	for (i = DEPTH - 1; i >= 0; i--)
		text[n++] = i & 1 ? '}' : ']';
	sprintf(text + n, ",\"type\":\"after\"}");
	check_json(&c);
	{
		json_error_t err;
		json_t *j = json_loads(text, 0, &err);

		/* jansson agrees that it is valid JSON */
		assert_non_null(j);
		assert_string_equal(json_string_value(json_object_get(j, "type")), "after");
		json_decref(j);
	}
	c.complete = false;
	text[strlen(text) - 3] = '\0'; /* ...,"type":"aft */
	c.type = "";
	check_json(&c);
}

/*
 * Every prefix of a message: json stays true, and each field is either "" or its final
 * value, set exactly from the prefix that holds the end of that value on.
 */
static void test_json_prefixes(void **state)
{
	static const char text[] =
		"{\"type\":\"group_message\",\"group_id\":77,\"rooms\":[\"r1\",\"r2\"],"
		"\"data\":{\"from\":\"x\",\"message_id\":\"m-\\u00e9\",\"n\":[1,{\"a\":null}]},"
		"\"ts\":1.5}";
	size_t n = strlen(text), k;
	const char *end_type = strstr(text, "\"group_message\"") + 15;
	const char *end_gid = strstr(text, "77") + 3; /* a number ends at the next byte */
	const char *end_r1 = strstr(text, "\"r1\"") + 4, *end_r2 = strstr(text, "\"r2\"") + 4;
	const char *end_mid = strstr(text, "\"m-\\u00e9\"") + 10;

	(void)state;
	for (k = 0; k <= n; k++) {
		struct ws_message m;
		bool has_type = text + k >= end_type, has_gid = text + k >= end_gid;
		bool has_mid = text + k >= end_mid;
		int nrooms = (text + k >= end_r1) + (text + k >= end_r2);

		ws__json_extract((const uint8_t *)text, k, false, &m);
		if (m.json != (k > 0) || strcmp(m.type, has_type ? "group_message" : "") ||
		    strcmp(m.group_id, has_gid ? "77" : "") ||
		    strcmp(m.message_id, has_mid ? "m-\xc3\xa9" : "") || m.nrooms != nrooms) {
			print_error("prefix of %zu bytes: json=%d type='%s' group_id='%s' "
				    "message_id='%s' nrooms=%u\n",
				    k, m.json, m.type, m.group_id, m.message_id, m.nrooms);
			fail();
		}
	}
}

/* Whole texts: the fields agree with jansson wherever jansson reads an object. */
static void test_json_vs_jansson(void **state)
{
	static const char *const keys[] = { "type", "group_id", "message_id" };
	size_t i, compared = 0;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(jcases); i++) {
		const struct jcase *c = &jcases[i];
		struct ws_message m;
		json_error_t err;
		json_t *j, *data;
		size_t k;

		if (!c->complete)
			continue;
		j = json_loadb(c->text, strlen(c->text), JSON_DECODE_ANY, &err);
		ws__json_extract((const uint8_t *)c->text, strlen(c->text), true, &m);
		if (!j || !json_is_object(j)) {
			/*
			 * jansson also refuses lone surrogates, \u0000 and invalid UTF-8, which are
			 * replaced, and integers past 64 bits, which are ids as any other
			 */
			if (m.json && !strstr(c->text, "\\ud800") && !strstr(c->text, "\\u0000") &&
			    !strstr(c->text, "\xff") && !strstr(err.text, "too big"))
				fail_msg("%s: jansson refuses it, json is true", c->text);
			json_decref(j);
			continue;
		}
		assert_true(m.json);
		data = json_object_get(j, "data");
		for (k = 0; k < ARRAY_SIZE(keys); k++) {
			json_t *v = json_object_get(j, keys[k]);
			const char *got = k == 0 ? m.type : k == 1 ? m.group_id : m.message_id;

			if (k == 2 && !v && json_is_object(data))
				v = json_object_get(data, "message_id");
			if (json_is_string(v)) {
				const char *want = json_string_value(v);

				if (strlen(want) < WS_ID_MAX) {
					assert_string_equal(got, want);
					compared++;
				}
			} else if (!json_is_number(v)) {
				assert_string_equal(got, "");
			}
		}
		json_decref(j);
	}
	print_message("%zu values compared with jansson\n", compared);
	assert_true(compared >= 15); /* the comparison did happen */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builder_matches_references),
		cmocka_unit_test(test_rfc_examples),
		cmocka_unit_test(test_bitchat_messages),
		cmocka_unit_test(test_splitting),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_long_text),
		cmocka_unit_test(test_fragmentation),
		cmocka_unit_test(test_close_codes),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_compressed_not_agreed),
		cmocka_unit_test(test_inflate_windows),
		cmocka_unit_test(test_inflate_past_window),
		cmocka_unit_test(test_inflate_takeover_gain),
		cmocka_unit_test(test_inflate_memory),
		cmocka_unit_test(test_inflate_gap),
		cmocka_unit_test(test_inflate_bomb),
		cmocka_unit_test(test_inflate_bfinal),
		cmocka_unit_test(test_inflate_unknown_and_drop),
		cmocka_unit_test(test_parse_extensions),
		cmocka_unit_test(test_gaps_in_payload),
		cmocka_unit_test(test_header_in_gap),
		cmocka_unit_test(test_json_cases),
		cmocka_unit_test(test_json_deep),
		cmocka_unit_test(test_json_prefixes),
		cmocka_unit_test(test_json_vs_jansson),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
