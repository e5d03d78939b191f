/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Records and limits shared by bpf/tcp.bpf.c and user/collect/tcp.c.
 * This header includes nothing: the BPF side gets the __uN types from vmlinux.h,
 * userspace from <linux/types.h>. Padding is spelled out; userspace asserts sizes.
 */
#ifndef FOGPROBE_TCP_H
#define FOGPROBE_TCP_H

#define FP_MAX_SERVICES 32 /* service ids 0..31 */
#define FP_SVC_NONE 0xff /* socket or packet of no configured service */
#define FP_MAX_COMM_MATCH 4
#define FP_COMM_LEN 16
#define FP_PORTS 65536

#define FP_MAX_FLOWS 65536 /* LRU: per-socket attribution */
#define FP_GONE_FLOWS 8192 /* LRU: flows of sockets gone to CLOSE, for their last reads */
#define FP_MAX_LISTENERS 4096 /* (netns, port, family) with a service's listener */
#define FP_MAX_LISTEN_SOCKS 8192 /* listening sockets of services, SO_REUSEPORT ones each */
#define FP_MAX_TUPLES 65536 /* LRU: 4-tuple -> client socket, for same-host dedup */
#define FP_MAX_OLDER 65536 /* the counters of sockets older than the probe, at its start */
/* With the kernel's counters a socket's storage (sk_hot) is made at its packet number
 * FP_HOT_AFTER: a short connection does not pay for it. */
#define FP_HOT_AFTER 12
#define FP_RINGBUF_BYTES (1U << 20)
/* Wake userspace only once this much is queued; it also polls on a timer. */
#define FP_RINGBUF_WAKEUP_BYTES (FP_RINGBUF_BYTES / 8)
#define FP_DROP_REASONS 256 /* > SKB_DROP_REASON_MAX on every kernel seen */
/* Per-cgroup network bytes: cgroups that sent or received; a full map is counted. */
#define FP_MAX_CGROUPS 8192
/* LRU: the last send-queue sample of each socket of a service that asks for it */
#define FP_MAX_SNDQ 16384

/* Maps the L7 and TLS objects share with this one (bpf_map__reuse_fd), by name. */
#define FP_MAP_FLOWS "flows"
#define FP_MAP_GONE_FLOWS "gone_flows"
#define FP_MAP_SNDQ "sndq_now"

/*
 * Which end of the connection this socket is. A client socket whose server socket
 * lives on this host too is FP_KIND_CLIENT_LOCALPEER, so that per-service families can
 * count each connection once (server view) while fogprobe_tcp_* counts every socket.
 */
enum fp_kind {
	FP_KIND_SERVER = 0,
	FP_KIND_CLIENT = 1,
	FP_KIND_CLIENT_LOCALPEER = 2,
	FP_KINDS = 3,
};

enum fp_dir {
	FP_TX = 0,
	FP_RX = 1,
	FP_DIRS = 2,
};

enum fp_connfail {
	FP_CONNFAIL_REFUSED = 0, /* RST in SYN_SENT (ECONNREFUSED) */
	FP_CONNFAIL_TIMEOUT = 1, /* SYN retries exhausted (ETIMEDOUT) */
	FP_CONNFAIL_UNREACHABLE = 2, /* ICMP: EHOSTUNREACH, ENETUNREACH */
	FP_CONNFAIL_ABORTED = 3, /* closed by its owner before the handshake ended */
	FP_CONNFAIL_OTHER = 4,
	FP_CONNFAILS = 5,
};

enum fp_lost {
	FP_LOST_RINGBUF = 0, /* bpf_ringbuf_reserve failed: event dropped */
	FP_LOST_LISTENER_MAP = 1, /* listener hash full */
	FP_LOST_FLOW_INSERT = 2, /* flow LRU update failed */
	FP_LOST_TUPLE_INSERT = 3,
	FP_LOSTS = 4,
};

/* Counters of the lost_stats per-CPU array that are not losses. */
#define FP_STAT_FLOWS_INSERTED FP_LOSTS
#define FP_STAT_FLOWS_DELETED (FP_LOSTS + 1)
#define FP_LOST_CGROUP_MAP (FP_LOSTS + 2) /* cgroup_net full: a cgroup's bytes not counted */
/* A dead socket's flow found where a new socket was born: no run saw its close (one the
 * kernel skipped), so the counts its socket made after its last event are lost. */
#define FP_LOST_FLOW_UNCLOSED (FP_LOSTS + 3)
#define FP_LOST_SLOTS (FP_LOSTS + 4)

/*
 * Latency histogram bounds in microseconds, shared by RTT and connect duration.
 * Bucket i counts samples v with bound[i-1] < v <= bound[i] (Prometheus "le");
 * bucket FP_LAT_BOUNDS counts v > the last bound (+Inf).
 */
#define FP_LAT_BOUNDS 17
#define FP_LAT_BOUNDS_US                                                                   \
	{ 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000,    \
	  500000, 1000000, 2500000, 5000000 }

/* Value of svc_match, indexed by service id. */
struct fp_svc_match {
	__u8 active;
	__u8 n_comm; /* 0: any process */
	__u8 cg_level; /* 0: any cgroup; else ancestor level of cg_id */
	__u8 pad[5];
	__u64 cg_id; /* cgroup v2 id of the configured prefix directory */
	char comm[FP_MAX_COMM_MATCH][FP_COMM_LEN];
};

/* Value of svc_stats (per-CPU array), indexed by svc * FP_KINDS + kind. */
struct fp_svc_stats {
	__u64 bytes[FP_DIRS]; /* TCP payload bytes */
	__u64 segs[FP_DIRS]; /* TCP segments, GSO/GRO expanded */
	__u64 retrans_segs;
	__u64 retrans_bytes; /* their payload (the kernel's bytes_retrans) */
	__u64 opens; /* sockets that reached ESTABLISHED */
	__u64 closes; /* established sockets that closed */
	__u64 conn_fail[FP_CONNFAILS];
	__u64 resets[FP_DIRS];
	__u64 timeouts; /* established sockets closed with ETIMEDOUT */
	__u64 rtt_bucket[FP_LAT_BOUNDS + 1];
	__u64 rtt_sum_us;
	__u64 conn_bucket[FP_LAT_BOUNDS + 1];
	__u64 conn_sum_us;
};

/*
 * Value of cgroup_net (per-CPU hash keyed by the socket's cgroup v2 id): bytes of every
 * packet of every socket, any protocol, as the cgroup_skb hooks see them (from the IP
 * header on; no link header). A GSO/GRO skb counts its headers once. Bytes only: each
 * more counter is one more atomic add on every packet of the host.
 */
struct fp_cgroup_net {
	__u64 bytes[FP_DIRS];
};

/*
 * The kernel's own counters of a socket (struct tcp_sock, as tcp_info and ss -ti report
 * them) already added to svc_stats: where iterators load, the flow-table iterator (at
 * each scrape) and the close advance them to the socket's current values and add the
 * difference. A socket older than the probe starts from its values at first sight.
 */
struct fp_sock_acct {
	__u64 bytes_sent; /* retransmissions included */
	__u64 bytes_received; /* unique payload, in order (the peer's FIN taken out) */
	__u64 bytes_retrans;
	__u32 segs_out;
	__u32 segs_in;
	__u32 total_retrans;
	__u32 pad;
};

/*
 * Where the kernel refuses iterators, the daemon reads the live sockets' counters itself
 * (sock_diag's tcp_info) and hands them to account_diag in batches: value of diag_recs,
 * one per socket, with the start_ns of the flow it was read for.
 */
#define FP_DIAG_BATCH 512
struct fp_diag_rec {
	__u64 sk; /* the flow's key */
	__u64 start_ns; /* the flow's start_ns when the daemon took it */
	struct fp_sock_acct acct;
};

/* account_diag's context: n records of diag_recs in; how many moved a flow, out */
struct fp_diag_args {
	__u32 n;
	__u32 accounted;
};

/* Value of flows (LRU hash keyed by the kernel's struct sock address). */
struct fp_flow {
	__u64 start_ns; /* SYN_SENT for active opens, else first sight */
	__u64 cgroup_id;
	__u64 next_rtt_ns; /* RTT sampling: at most one sample per srtt */
	__u32 pid;
	__u32 netns;
	__u16 lport;
	__u16 rport;
	__u8 svc;
	__u8 kind;
	__u8 family; /* AF_INET or AF_INET6 */
	__u8 established;
	char comm[FP_COMM_LEN];
	__u8 laddr[16]; /* IPv4 in the first 4 bytes */
	__u8 raddr[16];
	struct fp_sock_acct acct;
	__u32 pkts; /* packets seen before its socket storage was made (sk_hot) */
	__u32 pad;
};

/*
 * The send queue of a socket (tcp_sock write_seq - snd_una, ss's Send-Q), as of its last
 * inbound segment (its acknowledgment number applied) or its last read or write: value
 * of sndq_now, keyed by the socket's address. Kept for the sockets of the services whose
 * sends are watched (message_queue_size), and removed at close.
 */
struct fp_sndq {
	__u64 start_ns; /* the flow's start_ns: which connection of that address */
	__u32 sndq;
	__u32 pad;
};

/*
 * What the L7 capture needs of a flow (bpf/flows.bpf.h: flow_ref), and the value of
 * gone_flows: the flows whose socket went to CLOSE while its owner may still move bytes
 * through it (an RST from the peer closes the socket with a response still unread in its
 * receive queue, or while the application's write of it returns). Dropped when the
 * address starts a new socket.
 */
struct fp_flow_ref {
	__u64 start_ns;
	__u8 svc;
	__u8 kind;
	__u8 pad[6];
};

/* Key of listeners: one entry per (netns, port, family); count covers SO_REUSEPORT. */
struct fp_listener_key {
	__u32 netns;
	__u16 port;
	__u16 family;
};

struct fp_listener {
	__u32 count;
	__u32 pid;
	__u64 cgroup_id;
	__u8 svc;
	__u8 pad[7];
	char comm[FP_COMM_LEN];
};

struct fp_tuple_key {
	__u8 laddr[16];
	__u8 raddr[16];
	__u16 lport;
	__u16 rport;
	__u32 family;
};

/* older_socks: a socket older than the probe, by its network namespace and 4-tuple */
struct fp_older_key {
	__u32 netns;
	__u32 pad;
	struct fp_tuple_key t;
};

enum fp_event_type {
	FP_EV_OPEN = 1, /* ESTABLISHED; duration = connect latency for active opens */
	FP_EV_CLOSE = 2, /* established socket closed; duration = lifetime */
	FP_EV_CONNECT_FAIL = 3, /* reason = enum fp_connfail */
	FP_EV_LISTEN = 4, /* every listen() on a service's port; pid = the caller */
	FP_EV_UNLISTEN = 5, /* every close of a socket that LISTEN counted */
	FP_EV_RESET = 6, /* reason = enum fp_dir */
};

/* Ring buffer record, one per lifecycle event of a service socket. */
struct fp_conn_event {
	__u64 ts_ns; /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u64 sk;
	__u64 conn_start; /* the flow's start_ns: with sk, names one connection (the
			   * kernel reuses socket addresses) */
	__u64 cgroup_id;
	__u64 duration_ns;
	__u32 pid;
	__u32 netns;
	__s32 sk_err;
	__u16 lport;
	__u16 rport;
	__u8 type;
	__u8 svc;
	__u8 kind;
	__u8 family;
	__u8 reason; /* FP_EV_OPEN of a server end: FP_OPEN_LOCAL_PEER or 0 */
	__u8 pad[3];
	char comm[FP_COMM_LEN];
	__u8 laddr[16];
	__u8 raddr[16];
	/* FP_EV_CLOSE: the kernel's own counters of the connection (struct tcp_sock), 0
	 * for the other events */
	__u64 bytes_sent; /* payload bytes sent, retransmissions included */
	__u64 bytes_received; /* payload: the peer's FIN not counted */
	__u32 retrans_segs; /* total_retrans */
	__u32 srtt_us; /* smoothed RTT at the close; 0: never measured */
	/* FP_EV_OPEN with FP_OPEN_LOCAL_PEER: the cgroup of the client end's owner */
	__u64 peer_cgroup_id;
};

/* A server end's open: its client end is a socket of this host that the probe follows. */
#define FP_OPEN_LOCAL_PEER 1

#endif /* FOGPROBE_TCP_H */
