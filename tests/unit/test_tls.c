// SPDX-License-Identifier: GPL-2.0-only
/*
 * user/collect/tls.c: the ELF reader that finds OpenSSL's functions. Ground truth for
 * the file offsets is the kernel's own mapping: libssl loaded with dlopen, each
 * function's address looked up in /proc/self/maps (start, file offset) gives the file
 * offset a uprobe needs.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "collect/tls.h"

static const char *const names[TLS_NFUNCS] = {
	"SSL_write",	    "SSL_read",	  "SSL_write_ex", "SSL_read_ex",
	"SSL_do_handshake", "SSL_accept", "SSL_connect",  "SSL_shutdown",
};

/* The file offset of a loaded address and the path of its file, from /proc/self/maps. */
static int file_offset(uintptr_t addr, uint64_t *off, char *path, size_t len)
{
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");
	int ret = -ENOENT;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi, foff;
		char p[256] = "";

		if (sscanf(line, "%lx-%lx %*s %lx %*s %*s %255s", &lo, &hi, &foff, p) < 3)
			continue;
		if (addr < lo || addr >= hi)
			continue;
		*off = addr - lo + foff;
		snprintf(path, len, "%s", p);
		ret = 0;
		break;
	}
	fclose(f);
	return ret;
}

static void libssl_offsets_match_the_mapping(void **state)
{
	struct tls_elf_info info;
	char path[256] = "", p[256];
	void *h = dlopen("libssl.so.3", RTLD_NOW);
	uint64_t off;
	int i, fd;

	(void)state;
	assert_non_null(h); /* libcurl4-openssl-dev (tests/deps.sh) brings it */
	for (i = 0; i < TLS_NFUNCS; i++) {
		void *sym = dlsym(h, names[i]);

		assert_non_null(sym);
		assert_int_equal(file_offset((uintptr_t)sym, &off, p, sizeof(p)), 0);
		if (!path[0])
			snprintf(path, sizeof(path), "%s", p);
		assert_string_equal(p, path);
		fd = open(path, O_RDONLY);
		assert_true(fd >= 0);
		assert_int_equal(tls__elf_info(fd, &info), 0);
		close(fd);
		if (info.offset[i] != off)
			fail_msg("%s: offset %#llx, mapped at file offset %#llx", names[i],
				 (unsigned long long)info.offset[i], (unsigned long long)off);
	}
	dlclose(h);
}

/* This program links the reader, whose search strings must not make it look like
 * OpenSSL; it has no SSL_* functions of its own. */
static void this_program_is_not_openssl(void **state)
{
	struct tls_elf_info info;
	int fd = open("/proc/self/exe", O_RDONLY), i;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(tls__elf_info(fd, &info), 0);
	close(fd);
	assert_false(info.openssl);
	for (i = 0; i < TLS_NFUNCS; i++)
		assert_int_equal(info.offset[i], 0);
}

static void not_elf(void **state)
{
	char tmpl[] = "/tmp/fogprobe-tls-XXXXXX";
	struct tls_elf_info info;
	int fd = mkstemp(tmpl);

	(void)state;
	assert_true(fd >= 0);
	unlink(tmpl);
	/* two writes: one literal would make this very program look like OpenSSL */
	assert_int_equal(write(fd, "#!/bin/sh\nOpenSSL ", 18), 18);
	assert_int_equal(write(fd, "3.0.0\n", 6), 6);
	assert_int_equal(tls__elf_info(fd, &info), -ENOEXEC);
	assert_false(info.openssl);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(libssl_offsets_match_the_mapping),
		cmocka_unit_test(this_program_is_not_openssl),
		cmocka_unit_test(not_elf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
