/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Records and limits shared by bpf/l7.bpf.c and user/collect/l7.c: payload prefixes of
 * the read/write syscalls on sockets of services whose protocol needs L7 parsing.
 * Includes nothing; padding spelled out; userspace asserts sizes.
 */
#ifndef FOGPROBE_L7_H
#define FOGPROBE_L7_H

#define FP_L7_CAP_MAX 16384 /* the capture prefix is at most this many bytes */
#define FP_L7_CAP_DEFAULT 256
#define FP_L7_RINGBUF_BYTES (4U << 20)
#define FP_L7_MAX_IOV 4 /* iovec entries read for the prefix of readv/writev/sendmsg */
#define FP_MAX_L7_TASKS 8192 /* processes that own an L7 service socket */

enum fp_l7_type {
	FP_L7_DATA = 0, /* data[0..cap) are the first bytes of the len moved */
	FP_L7_ACCOUNT = 1, /* sendfile/splice: len bytes moved, none captured */
};

/* Ring buffer record; only the first sizeof header + cap bytes are meaningful. */
struct fp_l7_event {
	__u64 ts_ns; /* CLOCK_MONOTONIC at syscall exit */
	__u64 sk; /* the socket (= flows key) */
	__u64 conn_start; /* the flow's start_ns: with sk, names the connection */
	__u32 len; /* bytes the syscall moved (its return value) */
	__u32 cap; /* bytes captured in data (<= len, <= the configured prefix) */
	__u32 pid;
	__u8 svc;
	__u8 kind; /* enum fp_kind of the socket */
	__u8 dir; /* enum fp_dir: FP_TX write side, FP_RX read side */
	__u8 type; /* enum fp_l7_type */
	__u8 data[FP_L7_CAP_MAX];
};

#endif /* FOGPROBE_L7_H */
