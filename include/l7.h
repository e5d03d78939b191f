/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Records and limits shared by bpf/l7.bpf.c and user/collect/l7.c: payload prefixes of
 * the read/write syscalls on sockets of services whose protocol needs L7 parsing.
 * Includes nothing; padding spelled out; userspace asserts sizes.
 */
#ifndef FOGPROBE_L7_H
#define FOGPROBE_L7_H

#define FP_L7_CAP_MAX 16384 /* the capture prefix is at most this many bytes */
#define FP_L7_CAP_DEFAULT 256 /* Betanet: a frame header with room to spare */
#define FP_L7_CAP_HTTP_DEFAULT 1024 /* HTTP: request and response heads */
#define FP_L7_CAP_WS_DEFAULT 4096 /* WebSocket: a compressed message is inflated only when
				   * every byte of it was captured (prefix + tail) */
#define FP_L7_F_TLS 1 /* fp_l7_event.flags: plaintext from the SSL uprobes */
#define FP_L7_RINGBUF_BYTES (4U << 20)
#define FP_L7_MAX_IOV 4 /* iovec entries read for the prefix of readv/writev/sendmsg */
#define FP_MAX_L7_TASKS 8192 /* processes that own an L7 service socket */
#define FP_L7_SNIPS 64 /* frame-start snippets per event (framing assist) */
#define FP_L7_SNIP_BYTES 12 /* u32 length + an 8-byte header */
#define FP_L7_TAIL_BYTES 512 /* FP_L7_TAIL: the buffer's last bytes past the prefix */

/* Maps the TLS object shares with this one (bpf_map__reuse_fd), by name. */
#define FP_MAP_L7_SVC "l7_svc"
#define FP_MAP_L7_EVENTS "l7_events"
#define FP_MAP_L7_STATS "l7_stats"
#define FP_MAP_L7_SSL "l7_ssl"
#define FP_MAP_L7_TASKS "l7_tasks"

/* Value of l7_svc: what to do with the service's sockets. */
enum fp_l7_mode {
	FP_L7_OFF = 0,
	FP_L7_CAPTURE = 1, /* prefix of each buffer */
	FP_L7_LENGTH_PREFIXED = 2, /* and snippets at frame starts past the prefix: the
				    * protocol frames as u32 BE length + body, after a
				    * handshake of one such block and one version byte
				    * (Betanet) */
	FP_L7_TAIL = 3, /* and the buffer's last bytes past the prefix: up to
			 * FP_L7_TAIL_BYTES of a single buffer (fp_l7_event.tail; HTTP: the
			 * end of a chunked body, the next pipelined message's head), else
			 * one snippet with the last FP_L7_SNIP_BYTES (an iovec array) */
};

/* fp_l7_svc.sndq: fill fp_l7_event.sndq; also keep it in sndq_now (where no map
 * iterator reads the send queues at the scrape) */
#define FP_L7_SNDQ_EVENT 1
#define FP_L7_SNDQ_KEEP 2

/* Value of l7_svc, per service. */
struct fp_l7_svc {
	__u8 mode; /* enum fp_l7_mode */
	__u8 sndq; /* FP_L7_SNDQ_* bits (WebSocket services) */
	__u8 server_in_order; /* userspace takes the server end's records as they come: its
			       * sends need no start time (order_ns) */
	__u8 pad;
	__u32 cap; /* prefix bytes captured per buffer, <= FP_L7_CAP_MAX */
};

/*
 * A frame start found by the kernel past the captured prefix: the first bytes of the
 * frame (length field first) at offset `off` of the buffer. Snippets follow data[cap].
 */
struct fp_l7_snip {
	__u32 off;
	__u8 bytes[FP_L7_SNIP_BYTES]; /* valid: min(FP_L7_SNIP_BYTES, len - off) */
};

enum fp_l7_type {
	FP_L7_DATA = 0, /* data[0..cap) are the first bytes of the len moved */
	FP_L7_ACCOUNT = 1, /* sendfile/splice: len bytes moved, none captured */
};

/*
 * l7_ssl, the thread's task-local storage: ssl is set while the thread is inside an SSL
 * call. The socket hooks then do not emit the ciphertext that call moves; they record
 * its socket here so that the call's return can name the socket.
 */

struct fp_l7_ssl_call {
	__u64 ssl; /* the SSL * */
	__u64 buf; /* the plaintext buffer */
	__u64 out; /* size_t * of the _ex variants (bytes done), 0 otherwise */
	__u64 sk; /* socket of the first syscall made inside the call, 0 if none yet */
	__u64 enter_ns; /* the call's entry */
	__u32 watched; /* the process found in l7_tasks by this thread, 0 until then: the
			* hooks then skip that lookup (the entry goes when the process's
			* last thread exits, and the thread with it) */
	__u32 records; /* SSL records this thread wrote: every 8th reads the ring's fill */
	__u64 send_sk; /* socket hooks: the socket of the send in progress, 0 outside one */
	__u64 send_ns; /* and that send's start (its record's order_ns) */
};

/* Record of the send-queue dump (an iterator over the flow table, run at each scrape):
 * established sockets of services with fp_l7_svc.sndq set. */
struct fp_l7_sndq {
	__u64 sk;
	__u64 conn_start; /* the flow's start_ns */
	__u32 sndq; /* tcp_sock write_seq - snd_una now */
	__u32 pad;
};

/* Ring buffer record; only the first sizeof header + cap bytes are meaningful. */
struct fp_l7_event {
	__u64 ts_ns; /* CLOCK_MONOTONIC at syscall exit */
	__u64 order_ns; /* a write's (SSL_write's) entry, a read's exit: the order of the
			 * connection's bytes. A response can be read before the write of its
			 * request returns (another thread), never before that write began. */
	__u64 sk; /* the socket (= flows key) */
	__u64 conn_start; /* the flow's start_ns: with sk, names the connection */
	__u32 len; /* bytes the syscall moved (its return value) */
	__u32 cap; /* bytes captured in data (<= len, <= the configured prefix) */
	__u32 pid;
	__u8 svc;
	__u8 kind; /* enum fp_kind of the socket */
	__u8 dir; /* enum fp_dir: FP_TX write side, FP_RX read side */
	__u8 type; /* enum fp_l7_type */
	__u16 nsnip; /* struct fp_l7_snip entries after data[cap] */
	__u8 flags; /* FP_L7_F_* */
	__u8 pad;
	__u32 sndq; /* the socket's send queue at the event: bytes written, not yet
		     * acknowledged (tcp_sock write_seq - snd_una, as ss shows Send-Q);
		     * 0 unless the service asks for it (fp_l7_svc.sndq) */
	__u32 tail; /* data[cap, cap + tail) are the last `tail` bytes of the len moved
		     * (FP_L7_TAIL), snippets follow them */
	__u32 pad2;
	__u8 data[FP_L7_CAP_MAX];
};

#endif /* FOGPROBE_L7_H */
