/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Sets of 64-bit ids (a batch of exported span ids): sorted once by whoever builds the
 * set, searched by each holder of something that names an id.
 */
#ifndef FOGPROBE_LIB_IDS_H
#define FOGPROBE_LIB_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* An 8-byte id as one integer, its bytes as they lie: a key, compared only for equality
 * and order within a set. */
static inline uint64_t ids__of(const uint8_t *id)
{
	uint64_t v;

	memcpy(&v, id, sizeof(v));
	return v;
}

void ids__sort(uint64_t *ids, size_t n); /* ascending */
bool ids__has(const uint64_t *sorted, size_t n, uint64_t id);

#endif
