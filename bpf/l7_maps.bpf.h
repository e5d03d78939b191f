/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The L7 capture's maps, defined once for both objects that fill them: bpf/l7.bpf.c
 * (syscalls) owns them, bpf/tls.bpf.c (OpenSSL uprobes) gets the same maps from
 * userspace with bpf_map__reuse_fd.
 */
#ifndef FOGPROBE_L7_MAPS_BPF_H
#define FOGPROBE_L7_MAPS_BPF_H

/* what to capture per service (struct fp_l7_svc) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FP_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct fp_l7_svc);
} l7_svc SEC(".maps");

/* processes that own a socket of an L7 service */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FP_MAX_L7_TASKS);
	__type(key, __u32);
	__type(value, __u8);
} l7_tasks SEC(".maps");

/* threads inside SSL_read/SSL_write (include/l7.h, struct fp_l7_ssl_call) */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, FP_L7_SSL_THREADS);
	__type(key, __u64);
	__type(value, struct fp_l7_ssl_call);
} l7_ssl SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, FP_L7_RINGBUF_BYTES);
} l7_events SEC(".maps");

/* [0] ring buffer full, [1] events sent */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} l7_stats SEC(".maps");

#endif
