// SPDX-License-Identifier: GPL-2.0-only
/* Records back in the order of their bytes: a binary min-heap on (key, arrival). */
#include "model/reorder.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct held {
	uint64_t key;
	uint64_t seq; /* arrival: equal keys keep it */
	size_t size;
	unsigned char rec[];
};

struct reorder {
	uint64_t window_ns;
	size_t max_bytes;
	size_t bytes;
	uint64_t seq;
	uint64_t early;
	size_t n, cap;
	struct held **heap;
};

struct reorder *reorder__new(uint64_t window_ns, size_t max_bytes)
{
	struct reorder *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->window_ns = window_ns;
	r->max_bytes = max_bytes;
	return r;
}

void reorder__free(struct reorder *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->n; i++)
		free(r->heap[i]);
	free(r->heap);
	free(r);
}

static int before(const struct held *a, const struct held *b)
{
	return a->key < b->key || (a->key == b->key && a->seq < b->seq);
}

static void swap(struct held **a, struct held **b)
{
	struct held *t = *a;

	*a = *b;
	*b = t;
}

/* Remove the first record and hand it to fn. */
static void pop(struct reorder *r, reorder_fn fn, void *ctx)
{
	struct held *h = r->heap[0];
	size_t i = 0, l, m;

	r->heap[0] = r->heap[--r->n];
	for (;;) {
		l = 2 * i + 1;
		m = i;
		if (l < r->n && before(r->heap[l], r->heap[m]))
			m = l;
		if (l + 1 < r->n && before(r->heap[l + 1], r->heap[m]))
			m = l + 1;
		if (m == i)
			break;
		swap(&r->heap[i], &r->heap[m]);
		i = m;
	}
	r->bytes -= h->size;
	fn(ctx, h->rec, h->size);
	free(h);
}

int reorder__push(struct reorder *r, uint64_t key, const void *rec, size_t size,
		  reorder_fn fn, void *ctx)
{
	struct held *h;
	size_t i;

	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 256;
		struct held **heap = realloc(r->heap, cap * sizeof(*heap));

		if (!heap) {
			fn(ctx, rec, size);
			return -ENOMEM;
		}
		r->heap = heap;
		r->cap = cap;
	}
	h = malloc(sizeof(*h) + size);
	if (!h) {
		fn(ctx, rec, size);
		return -ENOMEM;
	}
	h->key = key;
	h->seq = r->seq++;
	h->size = size;
	memcpy(h->rec, rec, size);
	i = r->n++;
	r->heap[i] = h;
	while (i && before(r->heap[i], r->heap[(i - 1) / 2])) {
		swap(&r->heap[i], &r->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	r->bytes += size;
	while (r->bytes > r->max_bytes && r->n > 1) {
		r->early++;
		pop(r, fn, ctx);
	}
	return 0;
}

void reorder__drain(struct reorder *r, uint64_t now_ns, reorder_fn fn, void *ctx)
{
	while (r->n && r->heap[0]->key + r->window_ns <= now_ns)
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
