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

/* per thread: the SSL_read/SSL_write call it is inside (include/l7.h, struct
 * fp_l7_ssl_call; ssl 0 outside a call). Task-local storage: a pointer away from the
 * task, so that every socket call can ask cheaply whether it is inside one. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct fp_l7_ssl_call);
} l7_ssl SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, FP_L7_RINGBUF_BYTES);
} l7_events SEC(".maps");

/* [0] records the full ring buffer refused */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} l7_stats SEC(".maps");

#endif
