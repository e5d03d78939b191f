// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: http__feed / http__close on chunk sequences with gaps and tails, and
 * http__route on the same bytes as a path.
 *
 * Input: records of
 *   u8 flags (bit 0: from_client, bit 1: close the connection after this chunk),
 *   u16 BE total, u16 BE captured, u8 tail_len, captured bytes, then tail_len tail bytes
 * captured is cut to total and to what is left of the input, tail_len to 16 and to the
 * gap. Chunk i has ts_ns = i + 1. Each chunk's bytes are copied to a buffer of exactly
 * their size so that ASan sees any read past captured or tail_len.
 *
 * Checked besides memory errors: feed returns at most total, and 0 once upgraded; strings
 * in every event are NUL-terminated within their arrays; ERROR reasons are one of the
 * HTTP_ERR_* static strings and other events have none; an exchange's byte counts never
 * exceed the bytes fed in its direction since the connection began, its status is final
 * (>= 200) and its start is not after its end; UPGRADE is 101 or a 2xx and leaves the
 * conn upgraded, and nothing follows it; a chunk yields at most captured +
 * HTTP_PIPELINE_MAX + 2 events. When a run had no gap, no short return and no ERROR, feeding every chunk one
 * byte at a time must give the same events. http__route: output NUL-terminated within
 * outlen, and a shorter outlen gives a prefix of the longer output.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/proto/http.h"

#define REC_HDR 6
#define MAXEV 4096

struct run {
	struct http_conn c;
	struct http_event *ev;
	size_t n;
	bool byte_mode; /* second pass: compare with the first */
	const struct http_event *want;
	size_t nwant;
	uint64_t fed[2]; /* [0] client, [1] server bytes since the connection began */
	uint64_t ts;
	size_t in_chunk;
	bool upgraded_seen;
	bool errors;
};

static bool nul_within(const char *s, size_t n)
{
	return memchr(s, 0, n) != NULL;
}

static bool known_reason(const char *r)
{
	return r == HTTP_ERR_NOT_HTTP || r == HTTP_ERR_DESYNC || r == HTTP_ERR_BAD_HEADER ||
	       r == HTTP_ERR_TOO_MANY_PIPELINED || r == HTTP_ERR_NO_RESPONSE ||
	       r == HTTP_ERR_NO_MEMORY || r == HTTP_ERR_NO_REQUEST;
}

static bool same_event(const struct http_event *a, const struct http_event *b)
{
	return a->type == b->type && a->reason == b->reason &&
	       !strcmp(a->x.method, b->x.method) && !strcmp(a->x.path, b->x.path) &&
	       a->x.path_truncated == b->x.path_truncated && a->x.status == b->x.status &&
	       a->x.req_bytes == b->x.req_bytes && a->x.resp_bytes == b->x.resp_bytes &&
	       a->x.upgrade == b->x.upgrade && !strcmp(a->x.upgrade_proto, b->x.upgrade_proto);
}

static void on_event(void *ctx, const struct http_event *ev)
{
	struct run *r = ctx;
	const struct http_exchange *x = &ev->x;

	if (!nul_within(x->method, sizeof(x->method)) || !nul_within(x->path, sizeof(x->path)) ||
	    !nul_within(x->upgrade_proto, sizeof(x->upgrade_proto)))
		abort();
	if (r->upgraded_seen)
		abort(); /* nothing after an upgrade */
	if (x->req_bytes > r->fed[0] || x->resp_bytes > r->fed[1])
		abort();
	switch (ev->type) {
	case HTTP_EV_ERROR:
		if (!known_reason(ev->reason))
			abort();
		r->errors = true;
		break;
	case HTTP_EV_EXCHANGE:
		if (ev->reason || x->status < 200 || x->status > 599 || x->upgrade)
			abort();
		if (x->start_ns > x->end_ns || x->end_ns > r->ts)
			abort();
		break;
	case HTTP_EV_UPGRADE:
		if (ev->reason || !x->upgrade ||
		    !(x->status == 101 || (x->status >= 200 && x->status < 300)))
			abort();
		r->upgraded_seen = true;
		break;
	default:
		abort();
	}
	if (r->byte_mode) {
		if (r->n >= r->nwant || !same_event(ev, &r->want[r->n]))
			abort();
		r->n++;
		return;
	}
	if (r->n < MAXEV)
		r->ev[r->n++] = *ev;
	r->in_chunk++;
}

static void check_route(const uint8_t *data, size_t size)
{
	static const char *const pats[] = {
		"/api/betanet/nodes/[id]", "/docs/[[...slug]]", "/blog/[...slug]", "/[a]/[b]/[c]",
		"/", "[x]",
	};
	char path[600], pat[64], big[300], small[300];
	const char *p[7];
	size_t n = size < sizeof(path) - 1 ? size : sizeof(path) - 1, pn, i, cut;
	bool m1, m2;

	memcpy(path, data, n);
	path[n] = 0;
	/* one more pattern from the input's end */
	pn = size < sizeof(pat) - 1 ? size : sizeof(pat) - 1;
	memcpy(pat, data + size - pn, pn);
	pat[pn] = 0;
	for (i = 0; i < sizeof(pats) / sizeof(pats[0]); i++)
		p[i] = pats[i];
	p[i] = pat;
	m1 = http__route(path, p, i + 1, big, sizeof(big));
	if (!nul_within(big, sizeof(big)))
		abort();
	cut = size ? data[0] % sizeof(small) : 0;
	memset(small, 0x7f, sizeof(small));
	m2 = http__route(path, p, i + 1, small, cut);
	if (m1 != m2)
		abort();
	if (cut) {
		if (!nul_within(small, cut) || strncmp(small, big, strlen(small)) ||
		    (strlen(small) < cut - 1 && strcmp(small, big)))
			abort();
	} else if ((uint8_t)small[0] != 0x7f) {
		abort(); /* outlen 0: nothing written */
	}
}

/* Feed the records; byte_mode: each captured chunk as 1-byte chunks (no gaps by then). */
static bool feed_all(struct run *r, const uint8_t *data, size_t size)
{
	size_t off = 0;
	bool clean = true;

	while (off + REC_HDR <= size) {
		uint8_t flags = data[off];
		bool client = flags & 1;
		size_t total = (size_t)data[off + 1] << 8 | data[off + 2];
		size_t captured = (size_t)data[off + 3] << 8 | data[off + 4];
		size_t tail_len = data[off + 5];
		uint8_t *buf, *tail = NULL;
		size_t ret, i;
		bool was_upgraded = http__upgraded(&r->c);

		off += REC_HDR;
		if (captured > total)
			captured = total;
		if (captured > size - off)
			captured = size - off;
		if (tail_len > HTTP_TAIL_MAX)
			tail_len = HTTP_TAIL_MAX;
		if (tail_len > total - captured)
			tail_len = total - captured;
		if (tail_len > size - off - captured)
			tail_len = size - off - captured;
		buf = malloc(captured ? captured : 1);
		memcpy(buf, data + off, captured);
		if (tail_len) {
			tail = malloc(tail_len);
			memcpy(tail, data + off + captured, tail_len);
		}
		off += captured + tail_len;
		r->ts++;
		r->fed[!client] += total;
		r->in_chunk = 0;
		if (!r->byte_mode) {
			ret = http__feed(&r->c, client, buf, captured, total, tail, tail_len, r->ts,
					 on_event, r);
			if (ret > total || (was_upgraded && ret))
				abort();
			if (r->in_chunk > captured + HTTP_PIPELINE_MAX + 2)
				abort();
			if (ret != total || captured != total)
				clean = false;
		} else {
			for (i = 0; i < captured; i++) {
				ret = http__feed(&r->c, client, buf + i, 1, 1, NULL, 0, r->ts, on_event,
						 r);
				if (ret > 1)
					abort();
			}
		}
		if (r->upgraded_seen && !http__upgraded(&r->c))
			abort();
		free(buf);
		free(tail);
		if (flags & 2) {
			http__close(&r->c, r->ts, on_event, r);
			r->fed[0] = r->fed[1] = 0;
			r->upgraded_seen = false;
			if (http__upgraded(&r->c))
				abort();
		}
	}
	http__close(&r->c, r->ts + 1, on_event, r);
	return clean;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run r;
	static struct http_event ev[MAXEV];
	struct http_event *want;
	size_t nwant;
	bool clean;

	memset(&r, 0, sizeof(r));
	r.ev = ev;
	http__init(&r.c);
	clean = feed_all(&r, data, size);
	http__free(&r.c);
	check_route(data, size);
	if (!clean || r.errors || r.n >= MAXEV)
		return 0;
	/* a client waiting for an upgrade finds HTTP again only at a chunk's start */
	for (nwant = 0; nwant < r.n; nwant++)
		if (ev[nwant].x.upgrade_proto[0] || !strcmp(ev[nwant].x.method, "CONNECT"))
			return 0;

	/* the same bytes one at a time must give the same events */
	nwant = r.n;
	want = malloc((nwant ? nwant : 1) * sizeof(*want));
	memcpy(want, ev, nwant * sizeof(*want));
	memset(&r, 0, sizeof(r));
	r.ev = ev;
	r.byte_mode = true;
	r.want = want;
	r.nwant = nwant;
	http__init(&r.c);
	feed_all(&r, data, size);
	http__free(&r.c);
	if (r.n != nwant)
		abort();
	free(want);
	return 0;
}
