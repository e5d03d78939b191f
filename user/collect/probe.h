/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel feature probes (like libbpf-tools' trace_helpers), hook planning (each feature's
 * candidate hooks, best first, and the one chosen), program statistics, and the
 * filesystems the probe needs: tracefs for tracepoint ids, cgroup v2 for cgroup_skb.
 * Every collector plans its hooks and reads its programs' statistics here.
 */
#ifndef FOGPROBE_COLLECT_PROBE_H
#define FOGPROBE_COLLECT_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HOOK_MAX_CANDIDATES 3
#define HOOK_MAX_PROGS 3 /* programs one candidate hook needs */

/* One feature, the hooks that can serve it (best first) and the one in use. */
struct hook {
	const char *feature;
	bool required; /* the probe cannot run without it */
	int n;
	const char *hook[HOOK_MAX_CANDIDATES]; /* e.g. "tp_btf/tcp_probe" */
	const char *program[HOOK_MAX_CANDIDATES]; /* the program reported for it */
	bool available[HOOK_MAX_CANDIDATES];
	bool disabled[HOOK_MAX_CANDIDATES]; /* by the operator (--disable-hooks) */
	int chosen; /* index into hook[], -1 if none is available */
	bool attached;
	char error[160]; /* why the chosen hook failed to attach, if it did */
};

/* A feature as a collector declares it. */
struct hook_candidate {
	const char *hook; /* as reported and matched by --disable-hooks */
	const char *programs[HOOK_MAX_PROGS]; /* every program it needs; [0] is reported */
	/* what to probe, when not the hook itself: each must be available, e.g.
	 * "tp_btf/sched_switch", "raw_tp/sched/sched_switch", "tracepoint/syscalls/sys_exit_read",
	 * "iter/bpf_map_elem", "cgroup_skb", "uprobe", "btf/sched_info.run_delay" (a member of
	 * a struct of the kernel's BTF) */
	const char *const *probes;
};

struct hook_feature {
	const char *name;
	bool required;
	struct hook_candidate c[HOOK_MAX_CANDIDATES];
};

/* Probe each candidate of each feature (results cached: the kernel does not change
 * under us) and fill hooks[]: the first available candidate that disable does not name
 * is chosen. Returns the number of hooks filled (<= max). */
size_t probe__plan(const struct hook_feature *f, size_t n, struct hook *hooks, size_t max,
		   const char *disable);
/* Is this hook (or probe spec, see hook_candidate.probes) available? Cached. */
bool probe__available(const char *spec);

/* bpf_stats of one loaded program */
struct prog_stats {
	const char *program;
	uint64_t run_time_ns;
	uint64_t run_cnt;
	uint64_t recursion_misses; /* runs the kernel skipped: another program was running */
};
struct bpf_object;
/* Every loaded program of obj; returns the count (<= max). */
size_t probe__prog_stats(const struct bpf_object *obj, struct prog_stats *out, size_t max);

/* Route libbpf's output through our log, one level down (its warnings are our info). */
void probe__libbpf_logging(void);

/* Mount tracefs at /sys/kernel/tracing if no tracefs is mounted. 0 or -errno. */
int probe__ensure_tracefs(void);
/* Path of a cgroup v2 mount, mounting one under /run/fogprobe if none. 0 or -errno. */
int probe__cgroup2_root(char *path, size_t len);

bool probe__tracepoint_exists(const char *category, const char *event);
/* disable: comma-separated hook prefixes (--disable-hooks); true if one starts hook. */
bool probe__hook_disabled(const char *hook, const char *disable);
/* Can a BPF_PROG_TYPE_TRACING program load for tp_btf/<event>? (EPERM on kernels that
 * refuse BPF trampolines; ENOENT without the BTF type.) */
bool probe__tp_btf_loads(const char *event);
/* Does the kernel's struct `type` have a member `member` (vmlinux BTF)? */
bool probe__btf_member(const char *type, const char *member);
/* Can a BPF iterator program (BPF_TRACE_ITER, also BPF_PROG_TYPE_TRACING) load for
 * iter/<target>? Some kernels that allow tp_btf refuse iterators (EPERM). */
bool probe__iter_loads(const char *target);
bool probe__kprobes_available(void);
bool probe__cgroup_skb_available(void);

#endif
