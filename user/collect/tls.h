/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Loads bpf/tls.bpf.c (OpenSSL SSL_read/SSL_write uprobes) on the L7 capture's maps and
 * attaches it to every OpenSSL binary that processes on this host map: each libssl
 * shared object, and executables that carry OpenSSL statically with its symbols. One
 * attachment per binary (device and inode), for every process (pid -1), so processes
 * started later from the same file are covered. New binaries are found when a process
 * execs (a kernel hook), when it listens on a service's port, and by tls__scan.
 */
#ifndef FOGPROBE_COLLECT_TLS_H
#define FOGPROBE_COLLECT_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "collect/collector.h"

#define TLS_MAX_BINARIES 64 /* reported and hooked; more are logged once and skipped */

enum tls_state {
	TLS_HOOKED, /* uprobes attached */
	TLS_NO_SYMBOLS, /* OpenSSL inside, but no SSL_read/SSL_write symbols (stripped) */
	TLS_FAILED, /* symbols found, attaching failed (error logged) */
};

struct tls_binary {
	char path[256]; /* as the process sees it (its mount namespace) */
	enum tls_state state;
};

/* The OpenSSL functions hooked, indexes of tls_elf_info.offset. The data calls, then
 * those that move only TLS's own records (handshake, close). */
enum tls_func {
	TLS_SSL_WRITE,
	TLS_SSL_READ,
	TLS_SSL_WRITE_EX,
	TLS_SSL_READ_EX,
	TLS_SSL_DO_HANDSHAKE,
	TLS_SSL_ACCEPT,
	TLS_SSL_CONNECT,
	TLS_SSL_SHUTDOWN,
	TLS_NFUNCS
};

struct tls_elf_info {
	__u64 offset[TLS_NFUNCS]; /* file offsets of the defined functions, 0 if absent */
	bool openssl; /* OpenSSL's version text is in the file (static OpenSSL) */
	bool needs_libssl; /* a DT_NEEDED entry names libssl.so*: the loader maps it */
};

/* Symbols (.symtab and .dynsym, defined functions only) of an ELF file open on fd, and
 * whether it carries OpenSSL's version string. 0 or -errno (not ELF: -ENOEXEC). */
int tls__elf_info(int fd, struct tls_elf_info *out);

struct tls_collector;

struct tls_collector_opts {
	int flows_fd, gone_flows_fd, sndq_fd, svc_fd, events_fd, stats_fd, ssl_fd; /* the L7 capture's maps */
	int tasks_fd; /* l7_tasks: processes of L7 services, the only ones followed */
	const char *disable; /* hook prefixes not to use: "uprobe" turns this off */
};

/* The feature row for `fogprobe check`. Returns the count (0 or 1). */
size_t tls__plan(struct hook *hooks, size_t max, const char *disable);

/* Load (no binary attached yet: call tls__scan). 0 or -errno. */
int tls__open(const struct tls_collector_opts *opts, struct tls_collector **out);
void tls__close(struct tls_collector *c); /* detaches everything; accepts NULL */

/* Look through /proc for OpenSSL binaries not seen yet and attach to them. Returns the
 * number of binaries newly reported, or -errno. */
int tls__scan(struct tls_collector *c);
/* The same for one process, at once: one that starts to listen on a service's port
 * (its libssl is mapped by then) is hooked before it serves, it is hoped: its first
 * clients race the hooks. SINCE_NS: the listen()'s time (CLOCK_MONOTONIC, the
 * kernel's event time), logged with the hooking. Accepts NULL. */
int tls__scan_pid(struct tls_collector *c, int pid, uint64_t since_ns);
/* Handle the exec records (each exec'd program is looked at, and the libssl its loader
 * maps, as soon as it is mapped). Records handled or -errno. */
int tls__consume(struct tls_collector *c);

/* Copies the binaries found so far (at most max); safe from another thread. */
size_t tls__binaries(struct tls_collector *c, struct tls_binary *out, size_t max);
/* Calls whose socket stayed unknown: no read/write of that SSL * seen yet (cumulative). */
__u64 tls__unknown_socket(const struct tls_collector *c);
/* LOSS_TLS_UNKNOWN_SOCKET */
void tls__losses(const struct tls_collector *c, struct losses *l);
size_t tls__hooks(const struct tls_collector *c, const struct hook **hooks);
size_t tls__prog_stats(const struct tls_collector *c, struct prog_stats *out, size_t max);

/* Without loading anything: report each OpenSSL binary mapped by a process now, for
 * `fogprobe check`. fn gets the path and whether the functions were found. */
typedef void (*tls_found_fn)(void *ctx, const char *path, bool symbols);
int tls__discover(tls_found_fn fn, void *ctx);

#endif
