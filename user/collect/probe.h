/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel feature probes (like libbpf-tools' trace_helpers) and the filesystems the
 * probe needs: tracefs for tracepoint ids, cgroup v2 for cgroup_skb.
 */
#ifndef FOGPROBE_COLLECT_PROBE_H
#define FOGPROBE_COLLECT_PROBE_H

#include <stdbool.h>
#include <stddef.h>

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
/* Can a BPF iterator program (BPF_TRACE_ITER, also BPF_PROG_TYPE_TRACING) load for
 * iter/<target>? Some kernels that allow tp_btf refuse iterators (EPERM). */
bool probe__iter_loads(const char *target);
bool probe__kprobes_available(void);
bool probe__cgroup_skb_available(void);

#endif
