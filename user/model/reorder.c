// SPDX-License-Identifier: GPL-2.0-only
/*
 * Records back in the order of their bytes. They come almost sorted (a write overtaken by
 * the read of its answer is the exception): a ring of pointers kept sorted on (key,
 * arrival), a record appended at the back or, rarely, moved in from there. Small records
 * reuse fixed-size blocks, so the steady state allocates nothing.
 */
#include "model/reorder.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SMALL 496 /* record bytes that fit a reusable block */
#define FREE_MAX 8192 /* blocks kept for reuse */

struct held {
	uint64_t key;
	size_t size;
	struct held *next_free;
	unsigned char rec[];
};

struct reorder {
	uint64_t window_ns;
	size_t max_bytes;
	size_t bytes;
	uint64_t early;
	struct held **q; /* ring: q[(head + i) % cap], sorted */
	size_t head, n, cap;
	struct held *free_small; /* blocks of SMALL bytes, for reuse */
	size_t nfree;
};

/* what a record costs held: its block */
static size_t cost(size_t size)
{
	return sizeof(struct held) + (size <= SMALL ? SMALL : size);
}

struct reorder *reorder__new(uint64_t window_ns, size_t max_bytes)
{
	struct reorder *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->window_ns = window_ns;
	r->max_bytes = max_bytes;
	return r;
}

static void put_block(struct reorder *r, struct held *h)
{
	if (h->size <= SMALL && r->nfree < FREE_MAX) {
		h->next_free = r->free_small;
		r->free_small = h;
		r->nfree++;
	} else {
		free(h);
	}
}

void reorder__free(struct reorder *r)
{
	struct held *h;
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->n; i++)
		free(r->q[(r->head + i) % r->cap]);
	while ((h = r->free_small)) {
		r->free_small = h->next_free;
		free(h);
	}
	free(r->q);
	free(r);
}

static struct held **at(struct reorder *r, size_t i)
{
	return &r->q[(r->head + i) % r->cap];
}

static int grow(struct reorder *r)
{
	size_t cap = r->cap ? 2 * r->cap : 1024, i;
	struct held **q = malloc(cap * sizeof(*q));

	if (!q)
		return -ENOMEM;
	for (i = 0; i < r->n; i++)
		q[i] = *at(r, i);
	free(r->q);
	r->q = q;
	r->head = 0;
	r->cap = cap;
	return 0;
}

/* Remove the first record and hand it to fn. */
static void pop(struct reorder *r, reorder_fn fn, void *ctx)
{
	struct held *h = *at(r, 0);

	r->head = (r->head + 1) % r->cap;
	r->n--;
	r->bytes -= cost(h->size);
	fn(ctx, h->rec, h->size);
	put_block(r, h);
}

int reorder__push(struct reorder *r, uint64_t key, const void *rec, size_t size,
		  reorder_fn fn, void *ctx)
{
	struct held *h = NULL;
	size_t lo, hi, i;

	if (r->n == r->cap && grow(r)) {
		fn(ctx, rec, size);
		return -ENOMEM;
	}
	if (size <= SMALL) {
		h = r->free_small;
		if (h) {
			r->free_small = h->next_free;
			r->nfree--;
		} else {
			h = malloc(sizeof(*h) + SMALL);
		}
	} else {
		h = malloc(sizeof(*h) + size);
	}
	if (!h) {
		fn(ctx, rec, size);
		return -ENOMEM;
	}
	h->key = key;
	h->size = size;
	memcpy(h->rec, rec, size);
	/* after every record of a key <= this one (equal keys keep their arrival) */
	lo = 0;
	hi = r->n;
	if (hi && (*at(r, hi - 1))->key > key) {
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if ((*at(r, mid))->key <= key)
				lo = mid + 1;
			else
				hi = mid;
		}
	} else {
		lo = hi;
	}
	for (i = r->n; i > lo; i--)
		*at(r, i) = *at(r, i - 1);
	*at(r, lo) = h;
	r->n++;
	r->bytes += cost(size);
	while (r->bytes > r->max_bytes && r->n > 1) {
		r->early++;
		pop(r, fn, ctx);
	}
	return 0;
}

void reorder__drain(struct reorder *r, uint64_t now_ns, reorder_fn fn, void *ctx)
{
	while (r->n && (*at(r, 0))->key + r->window_ns <= now_ns)
		pop(r, fn, ctx);
}

void reorder__flush(struct reorder *r, reorder_fn fn, void *ctx)
{
	while (r->n)
		pop(r, fn, ctx);
}

size_t reorder__held(const struct reorder *r)
{
	return r->n;
}

uint64_t reorder__early(const struct reorder *r)
{
	return r->early;
}
