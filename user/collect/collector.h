/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One interface for every BPF collector (tcp, l7, proc, tls): the daemon iterates a
 * table of these instead of naming each one. A collector plans its hooks from the
 * feature probes, loads and attaches its object, gives an fd to poll, consumes its ring
 * into typed events (model/), and reports its hooks, its programs' statistics and its
 * losses by reason. The set opens them in table order (a later one may use an earlier
 * one's maps) and closes them in reverse.
 */
#ifndef FOGPROBE_COLLECT_COLLECTOR_H
#define FOGPROBE_COLLECT_COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collect/probe.h"
#include "lib/config.h"
#include "model/conn.h"
#include "model/losses.h"
#include "model/process.h"
#include "model/streams.h"

struct service_tables;
struct collector_set;

/* Where typed events go. Called from the event loop's thread. */
struct collector_sinks {
	void (*conn)(void *ctx, const struct conn_event *e);
	/* a read or write of an L7 connection (key: streams__key()) */
	void (*chunk)(void *ctx, uint64_t key, int svc, const struct stream_chunk *ch);
	/* a drain that gave connection events or chunks is over: none comes until the
	 * next */
	void (*drained)(void *ctx);
	void (*process)(void *ctx, const struct proc_exit *e);
	void *ctx;
};

/* What every collector is opened with. */
struct collector_env {
	const struct config *cfg;
	const struct service_tables *tables;
	const char *disable; /* --disable-hooks */
	const char *cgroot; /* the cgroup v2 mount */
	uint32_t capture_bytes; /* --capture-bytes, 0: per protocol */
	bool bpf_stats; /* --bpf-stats: run-time statistics on while the collectors run */
	/* Send queues read by a map iterator at each scrape; otherwise the kernel keeps them
	 * at each segment, read and write. Probed once, before any collector opens. */
	bool sndq_iterator;
	struct collector_sinks sinks;
	const struct collector_set *set; /* the collectors opened before this one */
};

struct collector_ops {
	const char *name;
	/* logged when open fails: why it matters; NULL: the daemon cannot run without it */
	const char *unavailable;
	/* The hooks this collector would use, without loading (fogprobe check). */
	size_t (*plan)(struct hook *hooks, size_t max, const char *disable);
	/* Load and attach. 0 with *out NULL: not needed by this config. 0 or -errno. */
	int (*open)(const struct collector_env *env, void **out);
	void (*close)(void *c); /* detaches everything; accepts NULL */
	int (*epoll_fd)(const void *c); /* -1: nothing to poll */
	int (*consume)(void *c); /* records handled or -errno */
	/* periodic work of the event loop (new binaries to hook); may be NULL */
	int (*rescan)(void *c);
	/* a map shared with later collectors, by name; -ENOENT if none */
	int (*map_fd)(const void *c, const char *name);
	size_t (*hooks)(const void *c, const struct hook **out);
	size_t (*prog_stats)(const void *c, struct prog_stats *out, size_t max);
	/* cumulative losses by reason into l (losses__set) */
	void (*losses)(const void *c, struct losses *l);
};

extern const struct collector_ops tcp_collector_ops, l7_collector_ops, proc_collector_ops,
	tls_collector_ops;

/* in start order */
#define COLLECTORS_MAX 4
extern const struct collector_ops *const collectors[COLLECTORS_MAX];

struct collector_set {
	void *inst[COLLECTORS_MAX]; /* NULL: not running */
};

/* Plan every collector's hooks (fogprobe check). Returns the count. */
size_t collectors__plan(struct hook *hooks, size_t max, const char *disable);
/* Probe what every collector shares (the send-queue iterator) into env. */
void collectors__probe(struct collector_env *env);
/* Open every collector in order. A required one failing is fatal (-errno, the others
 * closed); an optional one is logged and left out. */
int collectors__open(struct collector_set *set, const struct collector_env *env);
/* The kernel's BTF file as every skeleton's CO-RE target (NULL where it cannot be read).
 * libbpf then relocates against vmlinux alone and never walks module BTFs, whose
 * BPF_BTF_GET_NEXT_ID needs CAP_SYS_ADMIN: libbpf 1.1 fails the whole load on that EPERM
 * whenever one CO-RE candidate (a ___old flavour) is missing from vmlinux. The programs
 * relocate against vmlinux types only. */
const char *collectors__btf_path(void);
void collectors__close(struct collector_set *set); /* in reverse order */

/* The running instance of one collector, NULL if it is not running. */
void *collectors__get(const struct collector_set *set, const struct collector_ops *ops);
/* The first running collector's map of that name; -ENOENT if none. */
int collectors__map_fd(const struct collector_set *set, const char *name);

/* Add every running collector's poll fd to epfd. 0 or -errno. */
int collectors__watch(const struct collector_set *set, int epfd);
/* Consume every ring in order (lifecycle first: a connection's open precedes its first
 * bytes). A required collector's error is returned; the others' are logged. */
int collectors__consume(const struct collector_set *set);
void collectors__rescan(const struct collector_set *set);

/* Every hook row of every running collector, in order. */
void collectors__each_hook(const struct collector_set *set,
			   void (*fn)(void *ctx, const struct hook *h), void *ctx);
size_t collectors__prog_stats(const struct collector_set *set, struct prog_stats *out,
			      size_t max);
/* Every running collector's losses, and the recursion misses of the programs in ps[]
 * (collectors__prog_stats() of the same refresh). */
void collectors__losses(const struct collector_set *set, const struct prog_stats *ps, size_t n,
			struct losses *l);

#endif
