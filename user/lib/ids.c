// SPDX-License-Identifier: GPL-2.0-only
/* Sorted sets of 64-bit ids; see ids.h. */
#include <stdlib.h>

#include "lib/ids.h"

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void ids__sort(uint64_t *ids, size_t n)
{
	if (n > 1)
		qsort(ids, n, sizeof(*ids), cmp);
}

bool ids__has(const uint64_t *sorted, size_t n, uint64_t id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (sorted[mid] == id)
			return true;
		if (sorted[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}
