// SPDX-License-Identifier: GPL-2.0-only
/*
 * user/collect/tls.c: the ELF reader that finds OpenSSL's functions. Ground truth for
 * the file offsets is the kernel's own mapping: libssl loaded with dlopen, each
 * function's address looked up in /proc/self/maps (start, file offset) gives the file
 * offset a uprobe needs; for DT_NEEDED, the dynamic section the loader itself used.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
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

/* Does the object the loader mapped at handle h name libssl in its DT_NEEDED? Read from
 * its dynamic section in memory (the loader relocated d_ptr to an address). */
static bool loader_needs_libssl(void *h)
{
	struct link_map *lm;
	const ElfW(Dyn) *d;
	const char *strtab = NULL;

	assert_int_equal(dlinfo(h, RTLD_DI_LINKMAP, &lm), 0);
	for (d = lm->l_ld; d->d_tag != DT_NULL; d++)
		if (d->d_tag == DT_STRTAB)
			strtab = (const char *)d->d_un.d_ptr;
	assert_non_null(strtab);
	for (d = lm->l_ld; d->d_tag != DT_NULL; d++)
		if (d->d_tag == DT_NEEDED && !strncmp(strtab + d->d_un.d_val, "libssl.so", 9))
			return true;
	return false;
}

static bool reader_needs_libssl(void *h)
{
	struct tls_elf_info info;
	struct link_map *lm;
	int fd;

	assert_int_equal(dlinfo(h, RTLD_DI_LINKMAP, &lm), 0);
	/* the main program's link map has no name */
	fd = open(lm->l_name[0] ? lm->l_name : "/proc/self/exe", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(tls__elf_info(fd, &info), 0);
	close(fd);
	return info.needs_libssl;
}

/* An executable linked to libssl carries OpenSSL's version text (a build banner) but
 * its TLS is libssl's: the reader tells it apart by DT_NEEDED. libcurl (libcurl4-openssl,
 * tests/deps.sh) names libssl; libssl itself and this program do not. */
static void needed_libssl_as_the_loader_sees_it(void **state)
{
	static const char *const libs[] = { "libcurl.so.4", "libssl.so.3", NULL };
	static const bool want[] = { true, false, false };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(libs) / sizeof(libs[0]); i++) {
		void *h = dlopen(libs[i], RTLD_NOW);

		assert_non_null(h);
		if (reader_needs_libssl(h) != loader_needs_libssl(h))
			fail_msg("%s: the reader says %d, the loader %d",
				 libs[i] ? libs[i] : "this program",
				 reader_needs_libssl(h), loader_needs_libssl(h));
		assert_int_equal(reader_needs_libssl(h), want[i]);
		dlclose(h);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(libssl_offsets_match_the_mapping),
		cmocka_unit_test(this_program_is_not_openssl),
		cmocka_unit_test(not_elf),
		cmocka_unit_test(needed_libssl_as_the_loader_sees_it),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
