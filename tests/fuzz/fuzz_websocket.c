// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: ws__feed on chunk sequences of both directions, with and without gaps,
 * without and with permessage-deflate, and ws__json_extract on the raw input.
 *
 * Input: records of
 *   u8 flags (bit 0: from_client), u16 BE total, u16 BE captured, captured bytes
 * captured is cut to total and to what is left of the input. Chunk i has ts_ns = i + 1.
 * The records are fed twice: once as they are (RSV1 is then a violation), once with
 * permessage-deflate agreed as the input's last two bytes say (they may also belong to the
 * last record, or be left over after it): last byte b: client window 9 + (b & 7), server
 * window 9 + (b >> 3 & 7) (both at most 15), b & 0x40 client_no_context_takeover, b & 0x80
 * server_no_context_takeover; the byte before, a: max_message 1024 << (a & 7), and an
 * extension the probe cannot follow when (a & 0xf8) == 0xf8.
 *
 * Checked besides memory errors:
 * - every event belongs to the chunk being fed (direction, ts); nothing after a
 *   direction's ERROR, which leaves it stopped; reasons are the documented ones;
 * - MESSAGE: strings NUL-terminated inside their arrays and valid UTF-8, nrooms in range,
 *   at least one fragment, no JSON fields for binary or compressed messages; control
 *   frames at most 125 bytes, a close code only with >= 2 payload bytes; the payload
 *   and smallest headers (2 bytes a frame) of all frames reported in a direction add up to
 *   no more than the bytes fed in it;
 * - at most captured / 2 + 2 events per chunk (a frame takes >= 2 bytes; one more may end
 *   in the gap, plus an ERROR);
 * - chunking does not matter: each chunk cut into 1-byte captured chunks followed by its
 *   gap alone gives the same events.
 * Inflating: a compressed message's inflated length within max_message (TOO_BIG: one byte
 * past it, where inflating stopped); INFLATE_LOST once per direction at most, with a known
 * reason, leaving the framing going; no compressed MESSAGE of a direction after its
 * INFLATE_LOST; zlib's memory for the connection never above two full states; at most
 * 2 events per frame then (TOO_BIG and INFLATE_LOST end one message together); 0 after
 * ws__free (and ASan's leak check).
 * JSON: fields NUL-terminated and valid UTF-8; a whole text that reads as an object reads
 * the same as a prefix; wherever jansson reads the text as an object, json is true and the
 * string ids agree with jansson's.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "model/proto/websocket.h"

#define REC_HDR 5

struct run {
	struct ws_conn c;
	struct ws_event *ev;
	size_t n, cap;
	/* the chunk being fed */
	bool from_client;
	uint64_t ts;
	size_t in_chunk;
	/* per direction, indexed by from_client */
	bool error[2];
	bool lost[2]; /* INFLATE_LOST seen */
	uint64_t max_message;
	uint64_t fed[2]; /* bytes fed, gaps included */
	uint64_t claimed[2]; /* payload + smallest headers of the frames reported */
};

static bool utf8_valid(const char *s)
{
	const uint8_t *p = (const uint8_t *)s;

	while (*p) {
		size_t len, k;
		uint8_t lo = 0x80, hi = 0xbf;

		if (*p < 0x80) {
			p++;
			continue;
		}
		if (*p >= 0xc2 && *p <= 0xdf) {
			len = 2;
		} else if (*p >= 0xe0 && *p <= 0xef) {
			len = 3;
			lo = *p == 0xe0 ? 0xa0 : 0x80;
			hi = *p == 0xed ? 0x9f : 0xbf;
		} else if (*p >= 0xf0 && *p <= 0xf4) {
			len = 4;
			lo = *p == 0xf0 ? 0x90 : 0x80;
			hi = *p == 0xf4 ? 0x8f : 0xbf;
		} else {
			return false;
		}
		for (k = 1; k < len; k++) {
			uint8_t c = p[k];

			if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xbf))
				return false;
		}
		p += len;
	}
	return true;
}

static void check_id(const char *s)
{
	if (!memchr(s, '\0', WS_ID_MAX) || !utf8_valid(s))
		abort();
}

static void check_json_fields(const struct ws_message *m)
{
	int i;

	check_id(m->type);
	check_id(m->group_id);
	check_id(m->message_id);
	if (m->nrooms > WS_ROOMS_MAX)
		abort();
	for (i = 0; i < m->nrooms; i++)
		check_id(m->rooms[i]);
	if (!m->json && (m->type[0] || m->group_id[0] || m->message_id[0] || m->nrooms))
		abort();
}

static bool same_json(const struct ws_message *x, const struct ws_message *y)
{
	int i;

	if (x->json != y->json || strcmp(x->type, y->type) || strcmp(x->group_id, y->group_id) ||
	    strcmp(x->message_id, y->message_id) || x->nrooms != y->nrooms)
		return false;
	for (i = 0; i < x->nrooms; i++)
		if (strcmp(x->rooms[i], y->rooms[i]))
			return false;
	return true;
}

static bool known_reason(const char *r)
{
	static const char *const reasons[] = {
		"unmasked_client_frame", "masked_server_frame", "bad_opcode", "reserved_bits",
		"control_too_long", "fragmented_control", "bad_continuation", "desync", "too_long",
		"bad_deflate",
	};
	size_t i;

	for (i = 0; r && i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (r == reasons[i] || !strcmp(r, reasons[i]))
			return true;
	return false;
}

static void check_event(struct run *r, const struct ws_event *ev)
{
	const struct ws_message *m = &ev->msg;
	bool d = ev->from_client;

	if (d != r->from_client || ev->ts_ns != r->ts || r->error[d])
		abort();
	switch (ev->type) {
	case WS_EV_ERROR:
		if (!known_reason(ev->reason) || !ws__stopped(&r->c, d))
			abort();
		r->error[d] = true;
		break;
	case WS_EV_INFLATE_LOST:
		if (r->lost[d] || !known_reason(ev->reason) || ws__stopped(&r->c, d) ||
		    (strcmp(ev->reason, "desync") && strcmp(ev->reason, "bad_deflate")))
			abort();
		r->lost[d] = true;
		break;
	case WS_EV_TOO_BIG:
		if (!m->compressed || m->data_len != r->max_message + 1 || !m->fragments)
			abort();
		if (m->len + 2 * (uint64_t)m->fragments > r->fed[d] - r->claimed[d])
			abort();
		r->claimed[d] += m->len + 2 * (uint64_t)m->fragments;
		break;
	case WS_EV_MESSAGE:
		check_json_fields(m);
		if (!m->fragments || (!m->text && m->json))
			abort();
		if (m->compressed && (r->lost[d] || m->data_len > r->max_message))
			abort();
		if (!m->compressed && m->data_len != m->len)
			abort();
		if (m->len > r->fed[d] || 2 * (uint64_t)m->fragments > r->fed[d] - m->len ||
		    m->len + 2 * (uint64_t)m->fragments > r->fed[d] - r->claimed[d])
			abort();
		r->claimed[d] += m->len + 2 * (uint64_t)m->fragments;
		break;
	case WS_EV_PING:
	case WS_EV_PONG:
	case WS_EV_CLOSE:
		if (m->len > WS_CONTROL_MAX ||
		    (ev->close_code && (ev->type != WS_EV_CLOSE || m->len < 2)))
			abort();
		if (m->len + 2 > r->fed[d] - r->claimed[d])
			abort();
		r->claimed[d] += m->len + 2;
		break;
	default:
		abort();
	}
}

static void on_event(void *ctx, const struct ws_event *ev)
{
	struct run *r = ctx;

	check_event(r, ev);
	r->in_chunk++;
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 64;
		r->ev = realloc(r->ev, r->cap * sizeof(*r->ev));
		if (!r->ev)
			abort();
	}
	r->ev[r->n++] = *ev;
}

/* The captured bytes go in a buffer of exactly their size, so ASan sees any over-read. */
static void feed(struct run *r, bool from_client, const uint8_t *data, size_t captured,
		 size_t total, uint64_t ts)
{
	bool was_stopped = ws__stopped(&r->c, from_client);
	uint8_t *copy = captured ? malloc(captured) : NULL;

	if (captured && !copy)
		abort();
	if (captured)
		memcpy(copy, data, captured);
	r->from_client = from_client;
	r->ts = ts;
	r->in_chunk = 0;
	r->fed[from_client] += total;
	ws__feed(&r->c, from_client, copy, captured, total, ts, on_event, r);
	free(copy);
	if (was_stopped && (r->in_chunk || !ws__stopped(&r->c, from_client)))
		abort();
	if (r->error[from_client] != ws__stopped(&r->c, from_client))
		abort();
	/* two zlib streams with 32 KiB windows, and their states */
	if (r->c.mem > 2 * (40040 + 64))
		abort();
}

static void run(struct run *r, const uint8_t *data, size_t size, bool split,
		const struct ws_deflate *pmd, uint64_t max_message)
{
	size_t off = 0, i;
	uint64_t ts = 1;

	memset(r, 0, sizeof(*r));
	ws__init(&r->c);
	r->max_message = max_message;
	if (pmd)
		ws__set_deflate(&r->c, pmd, max_message);
	while (off + REC_HDR <= size) {
		bool from_client = data[off] & 1;
		size_t total = (size_t)data[off + 1] << 8 | data[off + 2];
		size_t captured = (size_t)data[off + 3] << 8 | data[off + 4];

		off += REC_HDR;
		if (captured > total)
			captured = total;
		if (captured > size - off)
			captured = size - off;
		if (split) {
			for (i = 0; i < captured; i++)
				feed(r, from_client, data + off + i, 1, 1, ts);
			if (total > captured)
				feed(r, from_client, NULL, 0, total - captured, ts);
		} else {
			size_t before = r->n;

			feed(r, from_client, data + off, captured, total, ts);
			if (r->n - before > (pmd ? captured + 4 : captured / 2 + 2))
				abort();
		}
		off += captured;
		ts++;
	}
	ws__free(&r->c);
	if (r->c.mem)
		abort();
}

static bool same_events(const struct run *a, const struct run *b)
{
	size_t i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++) {
		const struct ws_event *x = &a->ev[i], *y = &b->ev[i];
		const struct ws_message *mx = &x->msg, *my = &y->msg;

		if (x->type != y->type || x->from_client != y->from_client ||
		    x->ts_ns != y->ts_ns || x->close_code != y->close_code ||
		    x->reason != y->reason || mx->text != my->text || mx->len != my->len ||
		    mx->fragments != my->fragments || mx->compressed != my->compressed ||
		    mx->gap != my->gap || mx->data_len != my->data_len || !same_json(mx, my))
			return false;
	}
	return true;
}

/* jansson's reading of a whole text, where it reads an object, must match ours. */
static void check_vs_jansson(const uint8_t *data, size_t size, const struct ws_message *m)
{
	json_error_t err;
	json_t *j, *v, *data_obj;

	/* jansson takes "{\"a\":1\0}" for an object: a raw NUL is outside what it checks */
	if (memchr(data, '\0', size))
		return;
	j = json_loadb((const char *)data, size, 0, &err);
	if (!j)
		return;
	if (json_is_object(j) != m->json) /* jansson reads a top-level array too */
		abort();
	if (!m->json) {
		json_decref(j);
		return;
	}
	v = json_object_get(j, "type");
	if (json_is_string(v) && json_string_length(v) < WS_ID_MAX &&
	    strcmp(json_string_value(v), m->type))
		abort();
	v = json_object_get(j, "group_id");
	if (json_is_string(v) && json_string_length(v) < WS_ID_MAX &&
	    strcmp(json_string_value(v), m->group_id))
		abort();
	v = json_object_get(j, "message_id");
	data_obj = json_object_get(j, "data");
	if (!v && json_is_object(data_obj))
		v = json_object_get(data_obj, "message_id");
	if (json_is_string(v) && json_string_length(v) < WS_ID_MAX &&
	    strcmp(json_string_value(v), m->message_id))
		abort();
	if (!v && m->message_id[0])
		abort();
	json_decref(j);
}

static void fuzz_json(const uint8_t *data, size_t size)
{
	struct ws_message whole, prefix;
	uint8_t *copy = malloc(size ? size : 1);

	if (!copy)
		abort();
	memcpy(copy, data, size);
	ws__json_extract(copy, size, true, &whole);
	ws__json_extract(copy, size, false, &prefix);
	free(copy);
	check_json_fields(&whole);
	check_json_fields(&prefix);
	if (whole.json && !same_json(&whole, &prefix))
		abort();
	check_vs_jansson(data, size, &whole);
}

static uint8_t bits_of(unsigned v)
{
	return (uint8_t)(9 + v > WS_WBITS_MAX ? WS_WBITS_MAX : 9 + v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run whole, split;
	uint8_t b = size ? data[size - 1] : 0, a = size > 1 ? data[size - 2] : 0;
	struct ws_deflate pmd = { .on = true };
	uint64_t max = 1024ULL << (a & 7);

	run(&whole, data, size, false, NULL, 0);
	run(&split, data, size, true, NULL, 0);
	if (!same_events(&whole, &split))
		abort();
	free(whole.ev);
	free(split.ev);

	pmd.wbits[1] = bits_of(b & 7);
	pmd.wbits[0] = bits_of(b >> 3 & 7);
	pmd.no_takeover[1] = b & 0x40;
	pmd.no_takeover[0] = b & 0x80;
	if ((a & 0xf8) == 0xf8) {
		pmd.on = false;
		pmd.unknown = true;
	}
	run(&whole, data, size, false, &pmd, max);
	run(&split, data, size, true, &pmd, max);
	if (!same_events(&whole, &split))
		abort();
	free(whole.ev);
	free(split.ev);
	fuzz_json(data, size);
	return 0;
}
