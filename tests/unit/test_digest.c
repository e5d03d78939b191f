// SPDX-License-Identifier: GPL-2.0-only
/*
 * user/lib/digest.c: SHA-256 against FIPS 180-4's examples and sha256sum (coreutils),
 * at every length around the padding's block boundaries; the constant-time comparison.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/digest.h"

static void expect_hex(const void *data, size_t len, const char *hex)
{
	uint8_t got[SHA256_LEN], want[SHA256_LEN];

	sha256(data, len, got);
	assert_int_equal(digest__from_hex(hex, want), 0);
	assert_memory_equal(got, want, SHA256_LEN);
}

static void fips_vectors(void **state)
{
	char *million = malloc(1000000);

	(void)state;
	expect_hex("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	expect_hex("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	expect_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
		   "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	assert_non_null(million);
	memset(million, 'a', 1000000);
	expect_hex(million, 1000000,
		   "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(million);
}

/* Every length 0..200 of a pattern, against sha256sum run on the same bytes. */
static void lengths_against_sha256sum(void **state)
{
	char buf[201], cmd[64], hex[80];
	size_t n, i;

	(void)state;
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (char)('!' + i % 90);
	for (n = 0; n <= 200; n++) {
		FILE *f = fopen("/tmp/fp-digest-test.bin", "w");

		assert_non_null(f);
		assert_int_equal(fwrite(buf, 1, n, f), n);
		fclose(f);
		snprintf(cmd, sizeof(cmd), "sha256sum /tmp/fp-digest-test.bin");
		f = popen(cmd, "r");
		assert_non_null(f);
		assert_non_null(fgets(hex, sizeof(hex), f));
		pclose(f);
		hex[64] = '\0';
		expect_hex(buf, n, hex);
	}
	remove("/tmp/fp-digest-test.bin");
}

static void equal_and_hex(void **state)
{
	uint8_t a[SHA256_LEN] = {1, 2, 3}, b[SHA256_LEN] = {1, 2, 3};

	(void)state;
	assert_true(digest__equal(a, b, SHA256_LEN));
	b[31] ^= 1;
	assert_false(digest__equal(a, b, SHA256_LEN));
	b[31] ^= 1;
	b[0] ^= 0x80;
	assert_false(digest__equal(a, b, SHA256_LEN));
	assert_int_equal(digest__from_hex("abc", a), -22);
	assert_int_equal(
	    digest__from_hex("zz11642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881", a),
	    -22);
	assert_int_equal(
	    digest__from_hex("2D711642B726B04401627CA9FBAC32F5C8530FB1903CC4DB02258717921A4881", a),
	    0);
	assert_int_equal(a[0], 0x2d);
	assert_int_equal(a[31], 0x81);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(fips_vectors),
	    cmocka_unit_test(lengths_against_sha256sum),
	    cmocka_unit_test(equal_and_hex),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
