// SPDX-License-Identifier: GPL-2.0-only
/* Sorted id sets (user/lib/ids.c): every member found, nothing else, at any size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "lib/ids.h"

static uint64_t next(uint64_t *s) /* splitmix64 */
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void members_and_strangers(void **state)
{
	static const size_t sizes[] = { 0, 1, 2, 3, 7, 64, 2048 };
	uint64_t seed = 42, *v = calloc(2048, sizeof(*v)), *in = calloc(2048, sizeof(*in));
	size_t s, i;

	(void)state;
	assert_non_null(v);
	assert_non_null(in);
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t n = sizes[s];

		/* even values only: odd ones are strangers; extremes included */
		for (i = 0; i < n; i++)
			in[i] = v[i] = i == 0 ? 0 : i == 1 ? UINT64_MAX - 1 : next(&seed) & ~1ULL;
		ids__sort(v, n);
		for (i = 1; i < n; i++)
			assert_true(v[i - 1] <= v[i]);
		for (i = 0; i < n; i++) {
			assert_true(ids__has(v, n, in[i]));
			assert_false(ids__has(v, n, in[i] | 1));
		}
		assert_false(ids__has(v, n, UINT64_MAX));
	}
	free(v);
	free(in);
}

static void of_bytes(void **state)
{
	const uint8_t a[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, b[8] = { 1, 2, 3, 4, 5, 6, 7, 9 };

	(void)state;
	assert_true(ids__of(a) == ids__of(a));
	assert_false(ids__of(a) == ids__of(b));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(members_and_strangers),
		cmocka_unit_test(of_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
