/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Records and limits of bpf/tls.bpf.c and user/collect/tls.c that are the TLS object's
 * own (its plaintext records are the L7 capture's, include/l7.h). Includes nothing;
 * padding spelled out; userspace asserts sizes.
 */
#ifndef FOGPROBE_TLS_H
#define FOGPROBE_TLS_H

#define FP_TLS_SSL_SOCKETS 65536 /* SSL * -> socket, LRU */
#define FP_TLS_RINGBUF_BYTES (64U << 10) /* exec records */

/* Value of ssl_sk: the connection an SSL * last moved bytes on. The socket's address
 * alone does not name a connection (the kernel reuses it): a remembered socket whose
 * flow started at another time is another connection's, not this SSL *'s. */
struct fp_tls_sock {
	__u64 sk;
	__u64 conn_start; /* the flow's start_ns then; 0: not a socket of a service */
};

/* A process replaced its program (sched_process_exec): userspace looks at what it maps
 * before it serves (a static OpenSSL executable, a libssl the loader maps next). */
struct fp_tls_exec {
	__u32 pid; /* tgid */
	__u32 pad;
};

/* Slots of tls_stats (per-CPU array) */
enum fp_tls_stat {
	FP_TLS_UNKNOWN_SOCKET = 0, /* an SSL call of a process of an L7 service whose socket
				    * stayed unknown (no syscall seen for that SSL * on the
				    * connection it moves bytes on) */
	FP_TLS_EXEC_LOST = 1, /* an exec record dropped: ring buffer full */
	FP_TLS_SESSION_JOINED = 2, /* an SSL * of a service's connection first seen in a data
				    * call, its handshake unseen: it began before its binary
				    * was hooked, what it carried before is not captured */
	FP_TLS_STATS = 3,
};

#endif /* FOGPROBE_TLS_H */
