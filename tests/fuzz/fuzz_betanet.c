// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: betanet__feed on chunk sequences, with and without gaps.
 *
 * Input: one mode byte (bit 0: start from a completed handshake, both sides 0x12, so that
 * mutations reach the frame states at once), then records of
 *   u8 flags (bit 0: from_server), u16 BE total, u16 BE captured, captured bytes
 * captured is cut to total and to what is left of the input. Chunk i has ts_ns = i + 1.
 *
 * Checked besides memory errors: every event belongs to the chunk being fed (direction,
 * ts); at most one ERROR per direction and nothing after it (nor after a handshake error,
 * which stops both); ERROR leaves its direction stopped; FRAME fields in range for their
 * direction; one HANDSHAKE_DONE, with both version bytes equal; at most captured / 5 + 4
 * events per chunk (a frame takes >= 5 wire bytes; one more may end in the gap, plus
 * HANDSHAKE_DONE and ERROR). Then the same input is fed again with each chunk cut into
 * 1-byte captured chunks followed by its gap alone: chunking must not change the events.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/proto/betanet.h"

#define REC_HDR 5

struct run {
	struct betanet_parser p;
	struct betanet_event *ev;
	size_t n, cap;
	/* the chunk being fed */
	bool from_server;
	uint64_t ts;
	size_t in_chunk;
	/* what was seen so far */
	int errors[2];
	int done;
};

static void check_event(struct run *r, const struct betanet_event *ev)
{
	const struct betanet_parser *p = &r->p;
	bool dir = ev->from_server;

	if (ev->from_server != r->from_server || ev->ts_ns != r->ts)
		abort();
	if (r->errors[dir] || (p->failed && ev->type != BETANET_EV_ERROR))
		abort(); /* an event after its direction's error */
	switch (ev->type) {
	case BETANET_EV_ERROR:
		if (ev->error <= BETANET_ERR_NONE || ev->error > BETANET_ERR_DESYNC)
			abort();
		if (!betanet__stopped(p, dir))
			abort();
		if ((ev->error == BETANET_ERR_ADVERT_TOO_BIG ||
		     ev->error == BETANET_ERR_BAD_HANDSHAKE ||
		     ev->error == BETANET_ERR_VERSION_MISMATCH) != p->failed)
			abort();
		if (ev->error == BETANET_ERR_VERSION_MISMATCH && (r->done || p->handshake_done))
			abort();
		r->errors[dir]++;
		break;
	case BETANET_EV_FRAME:
		if (ev->wire_len > 4 + BETANET_MAX_BODY)
			abort();
		if (dir) {
			if (ev->frame_type != BETANET_RESPONSE || ev->wire_len < 5 || ev->layer ||
			    ev->payload_len)
				abort();
		} else if (ev->frame_type < BETANET_DATA || ev->frame_type > BETANET_COVER ||
			   ev->wire_len < 4 + BETANET_HEADER_LEN) {
			abort();
		}
		break;
	case BETANET_EV_HANDSHAKE_DONE:
		if (r->done++ || !p->handshake_done || (ev->version >> 4) != 1 ||
		    p->dir[0].version != ev->version || p->dir[1].version != ev->version)
			abort();
		break;
	default:
		abort();
	}
}

static void on_event(void *ctx, const struct betanet_event *ev)
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
static void feed(struct run *r, bool from_server, const uint8_t *data, size_t captured,
		 size_t total, uint64_t ts)
{
	bool was_stopped = betanet__stopped(&r->p, from_server);
	uint8_t *copy = captured ? malloc(captured) : NULL;

	if (captured && !copy)
		abort();
	if (captured)
		memcpy(copy, data, captured);
	r->from_server = from_server;
	r->ts = ts;
	r->in_chunk = 0;
	betanet__feed(&r->p, from_server, copy, captured, total, ts, on_event, r);
	free(copy);
	if (was_stopped && (r->in_chunk || !betanet__stopped(&r->p, from_server)))
		abort();
	if (r->p.failed && !(betanet__stopped(&r->p, false) && betanet__stopped(&r->p, true)))
		abort();
}

/* Cut the chunk into 1-byte captured chunks, then the gap alone. */
static void feed_split(struct run *r, bool from_server, const uint8_t *data, size_t captured,
		       size_t total, uint64_t ts)
{
	size_t i;

	for (i = 0; i < captured; i++)
		feed(r, from_server, data + i, 1, 1, ts);
	if (total > captured)
		feed(r, from_server, NULL, 0, total - captured, ts);
}

static void start(struct run *r, bool handshake)
{
	static const uint8_t advert[] = { 0, 0, 0, 2, '{', '}', 0x12 };

	memset(r, 0, sizeof(*r));
	betanet__init(&r->p);
	if (!handshake)
		return;
	feed(r, true, advert, sizeof(advert), sizeof(advert), 0);
	feed(r, false, advert, sizeof(advert), sizeof(advert), 0);
	if (r->n != 1 || r->ev[0].type != BETANET_EV_HANDSHAKE_DONE)
		abort();
}

static void run(struct run *r, const uint8_t *data, size_t size, bool split)
{
	size_t off = 1;
	uint64_t ts = 1;

	start(r, size && (data[0] & 1));
	while (off + REC_HDR <= size) {
		bool from_server = data[off] & 1;
		size_t total = (size_t)data[off + 1] << 8 | data[off + 2];
		size_t captured = (size_t)data[off + 3] << 8 | data[off + 4];

		off += REC_HDR;
		if (captured > total)
			captured = total;
		if (captured > size - off)
			captured = size - off;
		if (split) {
			feed_split(r, from_server, data + off, captured, total, ts);
		} else {
			size_t before = r->n;

			feed(r, from_server, data + off, captured, total, ts);
			if (r->n - before > captured / 5 + 4)
				abort();
		}
		off += captured;
		ts++;
	}
}

static bool same_events(const struct run *a, const struct run *b)
{
	size_t i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++) {
		const struct betanet_event *x = &a->ev[i], *y = &b->ev[i];

		if (x->type != y->type || x->from_server != y->from_server ||
		    x->ts_ns != y->ts_ns || x->frame_type != y->frame_type ||
		    x->wire_len != y->wire_len || x->layer != y->layer ||
		    x->payload_len != y->payload_len || x->version != y->version ||
		    x->error != y->error)
			return false;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run whole, split;

	run(&whole, data, size, false);
	run(&split, data, size, true);
	if (!same_events(&whole, &split) || whole.p.failed != split.p.failed ||
	    whole.p.handshake_done != split.p.handshake_done)
		abort();
	free(whole.ev);
	free(split.ev);
	return 0;
}
