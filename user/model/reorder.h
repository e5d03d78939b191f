/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Puts records back in the order of their bytes before they are parsed.
 *
 * A ring buffer holds records in the order they were committed, and a write's record is
 * committed when the write returns. A thread may be preempted between sending and
 * returning, and another thread may meanwhile read the answer. The answer then comes
 * first. Each record carries an order key: a write's entry, a read's exit. The answer
 * cannot be read before the write of its request began.
 *
 * Records are copied in, held while younger than the window (older records may still be
 * in flight: a write that has not returned yet), and released oldest key first. Records
 * with equal keys keep their arrival order. Held bytes (each record's block) are
 * bounded: past the bound, the oldest records are released early (counted), so order
 * degrades and nothing is lost.
 * Pure: no I/O, no clock.
 */
#ifndef FOGPROBE_MODEL_REORDER_H
#define FOGPROBE_MODEL_REORDER_H

#include <stddef.h>
#include <stdint.h>

struct reorder;

/* fn gets each released record: the bytes pushed, valid during the call only. */
typedef void (*reorder_fn)(void *ctx, const void *rec, size_t size);

/* window_ns: how long a record is held after its key; max_bytes: the bound on the
 * held records' blocks (a small record takes some 500 bytes). NULL when out of memory. */
struct reorder *reorder__new(uint64_t window_ns, size_t max_bytes);
void reorder__free(struct reorder *r); /* accepts NULL; held records are dropped */

/* Hold a copy of rec (size bytes) under key. Releases through fn what the byte bound
 * forces out. -ENOMEM (rec released at once, in arrival order) when a copy fails. */
int reorder__push(struct reorder *r, uint64_t key, const void *rec, size_t size,
		  reorder_fn fn, void *ctx);

/* Release, in key order, every record whose key + window <= now_ns. */
void reorder__drain(struct reorder *r, uint64_t now_ns, reorder_fn fn, void *ctx);

/* Release everything held, in key order (at the end). */
void reorder__flush(struct reorder *r, reorder_fn fn, void *ctx);

size_t reorder__held(const struct reorder *r);
uint64_t reorder__early(const struct reorder *r); /* released before their window */

#endif
