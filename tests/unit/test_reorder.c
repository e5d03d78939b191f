// SPDX-License-Identifier: GPL-2.0-only
/*
 * user/model/reorder.c: records released in key order once their window has passed, equal
 * keys in arrival order, the byte bound forcing the oldest out early, nothing lost.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "model/reorder.h"

#define MS 1000000ULL

static struct {
	int n;
	char seen[64];
} out;

static void take(void *ctx, const void *rec, size_t size)
{
	(void)ctx;
	assert_int_equal(size, 1);
	out.seen[out.n++] = *(const char *)rec;
}

static void push(struct reorder *r, uint64_t key, char c)
{
	assert_int_equal(reorder__push(r, key, &c, 1, take, NULL), 0);
}

/* The write of a request returns after the read of its answer: the request's record
 * arrives second, with the older key (the write's entry), and is released first. */
static void answer_before_request(void **state)
{
	struct reorder *r = reorder__new(50 * MS, 1 << 20);

	(void)state;
	memset(&out, 0, sizeof(out));
	push(r, 10 * MS, 'a'); /* request 1, answer 1 */
	push(r, 11 * MS, 'b');
	push(r, 14 * MS, 'D'); /* answer 2 read at 14 ms */
	push(r, 12 * MS, 'c'); /* request 2: its write began at 12 ms */
	reorder__drain(r, 40 * MS, take, NULL);
	assert_int_equal(out.n, 0); /* inside the window: held */
	assert_int_equal(reorder__held(r), 4);
	reorder__drain(r, 62 * MS, take, NULL);
	assert_int_equal(out.n, 3); /* keys up to 12 ms */
	assert_memory_equal(out.seen, "abc", 3);
	reorder__drain(r, 64 * MS, take, NULL);
	assert_int_equal(out.n, 4);
	assert_memory_equal(out.seen, "abcD", 4);
	assert_int_equal(reorder__held(r), 0);
	assert_int_equal(reorder__early(r), 0);
	reorder__free(r);
}

static void equal_keys_keep_arrival(void **state)
{
	struct reorder *r = reorder__new(0, 1 << 20);
	const char *s = "qwertyuiopasdfghjklz";
	size_t i;

	(void)state;
	memset(&out, 0, sizeof(out));
	for (i = 0; i < strlen(s); i++)
		push(r, 5, s[i]);
	push(r, 4, '0');
	reorder__flush(r, take, NULL);
	assert_int_equal(out.n, 21);
	assert_int_equal(out.seen[0], '0');
	assert_memory_equal(out.seen + 1, s, 20);
	reorder__free(r);
}

/* Many keys in random order come out sorted. */
static void sorts(void **state)
{
	struct reorder *r = reorder__new(1, 1 << 20);
	uint32_t x = 12345;
	uint64_t last = 0;
	int i, released = 0;

	(void)state;
	memset(&out, 0, sizeof(out));
	for (i = 0; i < 1000; i++) {
		uint8_t c;

		x = x * 1103515245u + 12345u;
		c = (uint8_t)(x >> 16) & 0x3f;
		assert_int_equal(reorder__push(r, c, &c, 1, take, NULL), 0);
		if (out.n) /* nothing is released by a push under the bound */
			fail();
	}
	/* step by step: each drain releases exactly the records of one key */
	for (i = 0; i < 64; i++, last++) {
		int j;

		out.n = 0;
		reorder__drain(r, last + 1, take, NULL);
		for (j = 0; j < out.n; j++)
			assert_int_equal(out.seen[j], (char)last);
		released += out.n;
	}
	assert_int_equal(released, 1000);
	assert_int_equal(reorder__held(r), 0);
	reorder__free(r);
}

/* Past the byte bound the oldest go out at once: order degrades, nothing is lost. Records
 * of 1000 bytes, a bound of 3500: three are held, the fourth pushes the oldest out. */
static int big_n;
static char big_seen[8];

static void take_big(void *ctx, const void *rec, size_t size)
{
	(void)ctx;
	assert_int_equal(size, 1000);
	big_seen[big_n++] = *(const char *)rec;
}

static void push_big(struct reorder *r, uint64_t key, char c)
{
	char rec[1000];

	memset(rec, c, sizeof(rec));
	assert_int_equal(reorder__push(r, key, rec, sizeof(rec), take_big, NULL), 0);
}

static void bound_releases_oldest(void **state)
{
	struct reorder *r = reorder__new(50 * MS, 3500);

	(void)state;
	big_n = 0;
	push_big(r, 3, 'c');
	push_big(r, 1, 'a');
	push_big(r, 2, 'b');
	assert_int_equal(big_n, 0);
	push_big(r, 4, 'd');
	assert_int_equal(big_n, 1);
	assert_int_equal(big_seen[0], 'a');
	assert_int_equal(reorder__early(r), 1);
	reorder__flush(r, take_big, NULL);
	assert_int_equal(big_n, 4);
	assert_memory_equal(big_seen, "abcd", 4);
	reorder__free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(answer_before_request),
		cmocka_unit_test(equal_keys_keep_arrival),
		cmocka_unit_test(sorts),
		cmocka_unit_test(bound_releases_oldest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
