/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The per-socket flow table, defined once for both objects: bpf/tcp.bpf.c owns it,
 * bpf/l7.bpf.c reads it (userspace hands it the same map with bpf_map__reuse_fd).
 */
#ifndef FOGPROBE_FLOWS_BPF_H
#define FOGPROBE_FLOWS_BPF_H

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, FP_MAX_FLOWS);
	__type(key, __u64);
	__type(value, struct fp_flow);
} flows SEC(".maps");

#endif
