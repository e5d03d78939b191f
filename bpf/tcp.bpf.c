// SPDX-License-Identifier: GPL-2.0-only
/*
 * TCP lifecycle, throughput, retransmissions, resets, RTT and drops per service.
 *
 * Sockets are classified once (fp_classify) when first seen and remembered in the
 * flows LRU keyed by their struct sock address; every later event on the socket finds
 * its service there. Counters aggregate in per-CPU arrays indexed by service and kind;
 * lifecycle events go to userspace through the ring buffer.
 *
 * Hooks: classic tracepoints, cgroup_skb and, when the kernel allows them, tp_btf
 * variants (userspace picks one of each pair with bpf_program__set_autoload).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "tcp.h"
#include "proc.h"
#include "maps.bpf.h"
#include "core_fixes.bpf.h"

#define AF_INET 2
#define AF_INET6 10
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ECONNREFUSED 111
#define ETIMEDOUT 110
#define EHOSTUNREACH 113
#define ENETUNREACH 101

char LICENSE[] SEC("license") = "GPL";

static const __u64 lat_bounds_us[FP_LAT_BOUNDS] = FP_LAT_BOUNDS_US;

/* Set before load: the verifier drops the per-cgroup counting when it is off. */
const volatile bool targ_cgroup_net = false;
/* bit i: service i's send queues are kept (sndq_now; message_queue_size) */
const volatile __u32 targ_sndq_svcs = 0;
/* Bytes, segments and retransmits from the kernel's per-socket counters (the flow
 * iterator and the close) instead of per packet: set where iterators load. */
const volatile bool targ_sock_counters = false;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FP_PORTS);
	__type(key, __u32);
	__type(value, __u32);
} svc_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FP_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct fp_svc_match);
} svc_match SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FP_MAX_SERVICES * FP_KINDS);
	__type(key, __u32);
	__type(value, struct fp_svc_stats);
} svc_stats SEC(".maps");

/* Slot FP_MAX_SERVICES holds drops of no configured service (host-wide = sum). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, (FP_MAX_SERVICES + 1) * FP_DROP_REASONS);
	__type(key, __u32);
	__type(value, __u64);
} drop_stats SEC(".maps");

/* The slots of drop_stats that ever counted a drop, a byte each (no read-modify-write to
 * race on), set before the slot's first count and never cleared: userspace reads those
 * slots alone, FP_DROP_REASONS keys each, not all 8,448 per-CPU keys at every refresh. */
__u8 drop_slots[FP_MAX_SERVICES + 1];

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FP_LOST_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} lost_stats SEC(".maps");

/* Per-CPU: every packet of the host updates it, so no cache line is shared across CPUs.
 * Entries of removed cgroups are deleted by userspace. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, FP_MAX_CGROUPS);
	__type(key, __u64);
	__type(value, struct fp_cgroup_net);
} cgroup_net SEC(".maps");

#include "flows.bpf.h"
#include "proc_tasks.bpf.h"

/*
 * Per-socket cache of the flow's service for the packet path: socket-local storage is
 * one pointer away from the socket, where the flows hash costs a hash and a bucket walk
 * per packet. It is settled (trusted without the hash) once the flow's kind can no
 * longer change; until then every packet re-reads the flows entry.
 */
struct sk_hot {
	__u64 next_rtt_ns; /* RTT sampling: at most one sample per srtt */
	/* per packet: the socket's bytes_received already counted, from its flow's start
	 * when the storage is made */
	__u64 rx_acct;
	__u8 svc;
	__u8 kind;
	__u8 settled;
	__u8 pad[5];
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sk_hot);
} sk_hot SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FP_MAX_LISTENERS);
	__type(key, struct fp_listener_key);
	__type(value, struct fp_listener);
} listeners SEC(".maps");

/* The listening sockets counted in listeners: a socket that was listening before the
 * probe started is not, and its close must not take a count that a SO_REUSEPORT sibling
 * listening since added. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FP_MAX_LISTEN_SOCKS);
	__type(key, __u64);
	__type(value, __u8);
} listen_socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, FP_MAX_TUPLES);
	__type(key, struct fp_tuple_key);
	__type(value, __u64);
} tuples SEC(".maps");

/*
 * The sockets of services older than the probe, with their counters as sock_diag read
 * them at the daemon's start, where no egress program runs (the kernel's counters bring
 * the sent bytes): such a socket is classified at its first inbound segment, and what it
 * sent before that, since the start, is counted from these. Taken by that classification.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, FP_MAX_OLDER);
	__type(key, struct fp_older_key);
	__type(value, struct fp_sock_acct);
} older_socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, FP_RINGBUF_BYTES);
} events SEC(".maps");

static __always_inline void count_lost(__u32 slot)
{
	map_inc(&lost_stats, slot);
}

static __always_inline struct fp_svc_stats *stats_of(__u8 svc, __u8 kind)
{
	__u32 idx = (__u32)svc * FP_KINDS + kind;

	if (svc >= FP_MAX_SERVICES || kind >= FP_KINDS)
		return 0;
	return bpf_map_lookup_elem(&svc_stats, &idx);
}

static __always_inline __u32 lat_bucket(__u64 us)
{
	__u32 i;

	for (i = 0; i < FP_LAT_BOUNDS; i++)
		if (us <= lat_bounds_us[i])
			return i;
	return FP_LAT_BOUNDS;
}

/* What a classification may look at; a matcher whose input is unknown fails. */
struct cls_ctx {
	const char *comm; /* NULL: no task context (softirq) */
	struct cgroup *cg; /* socket's cgroup, or NULL */
	bool current_cg; /* use the current task's cgroup */
};

static __always_inline bool comm_eq(const char *a, const char *b)
{
	int i;

	for (i = 0; i < FP_COMM_LEN; i++) {
		if (a[i] != b[i])
			return false;
		if (!a[i])
			return true;
	}
	return true;
}

static __always_inline __u32 port_mask(__u16 port)
{
	__u32 key = port;
	__u32 *m = bpf_map_lookup_elem(&svc_ports, &key);

	return m ? *m : 0;
}

struct cls_loop {
	char comm[FP_COMM_LEN];
	struct cgroup *cg;
	__u32 lmask;
	__u32 mask;
	__u32 base; /* lowest candidate id */
	bool have_comm;
	bool current_cg;
	__u8 svc;
	__u8 kind;
};

/* One candidate service; bpf_loop callback so the verifier walks it once, not once per
 * service and call site. Returns 1 (stop) on a match. */
static long cls_step(__u32 n, void *ctx)
{
	struct cls_loop *l = ctx;
	struct fp_svc_match *m;
	__u32 i = n + l->base, key = i;

	if (i >= FP_MAX_SERVICES || !(l->mask & (1U << i)))
		return 0;
	m = bpf_map_lookup_elem(&svc_match, &key);
	if (!m || !m->active)
		return 0;
	if (m->n_comm) {
		bool hit = false;
		int j;

		if (!l->have_comm)
			return 0;
		for (j = 0; j < FP_MAX_COMM_MATCH; j++)
			if (j < m->n_comm && comm_eq(m->comm[j], l->comm))
				hit = true;
		if (!hit)
			return 0;
	}
	if (m->cg_level) {
		__u64 id = 0;

		if (l->current_cg)
			id = bpf_get_current_ancestor_cgroup_id(m->cg_level);
		else if (l->cg)
			id = cgroup_ancestor_id(l->cg, m->cg_level);
		if (id != m->cg_id)
			return 0;
	}
	l->svc = i;
	l->kind = (l->lmask & (1U << i)) ? FP_KIND_SERVER : FP_KIND_CLIENT;
	return 1;
}

/* Index of the lowest set bit; clang 14's BPF backend cannot lower __builtin_ctz. */
static __always_inline __u32 lowest_bit(__u32 m)
{
	__u32 b = m & -m, n = 0;

	if (b & 0xffff0000)
		n += 16;
	if (b & 0xff00ff00)
		n += 8;
	if (b & 0xf0f0f0f0)
		n += 4;
	if (b & 0xcccccccc)
		n += 2;
	if (b & 0xaaaaaaaa)
		n += 1;
	return n;
}

/*
 * The classification rule (mirrored by user/model/services.c): the lowest service id
 * that lists the local or remote port and whose comm and cgroup matchers hold.
 */
static __always_inline __u8 fp_classify(__u16 lport, __u16 rport, const struct cls_ctx *c,
					__u8 *kind)
{
	struct cls_loop l = {};

	*kind = FP_KIND_CLIENT;
	l.lmask = port_mask(lport);
	l.mask = l.lmask | (lport == rport ? 0 : port_mask(rport));
	if (!l.mask)
		return FP_SVC_NONE;
	if (c->comm) {
		__builtin_memcpy(l.comm, c->comm, FP_COMM_LEN);
		l.have_comm = true;
	}
	l.cg = c->cg;
	l.current_cg = c->current_cg;
	l.svc = FP_SVC_NONE;
	/* start at the lowest candidate: most ports name one service */
	l.base = lowest_bit(l.mask);
	bpf_loop(FP_MAX_SERVICES - l.base, cls_step, &l, 0);
	*kind = l.kind;
	return l.svc;
}

/*
 * A field of the socket sk: loaded where sk is a pointer the verifier knows the type of
 * (a tp_btf argument, what bpf_skc_to_tcp_sock returned): direct is then true, a literal,
 * and the load costs an instruction. Elsewhere (a classic tracepoint's address) read with
 * a helper call. Only struct sock's own fields: a tcp_sock's past it are read always.
 */
#define SK_FIELD(direct, sk, field) ((direct) ? (sk)->field : BPF_CORE_READ(sk, field))

static __always_inline __u32 sk_netns(const struct sock *sk, bool direct)
{
	return direct ? sk->__sk_common.skc_net.net->ns.inum :
			BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

static __always_inline bool is_v4_mapped(const __u8 *a)
{
	const __u32 *w = (const __u32 *)a;

	return !w[0] && !w[1] && w[2] == bpf_htonl(0xffff);
}

/* A dual-stack listener is AF_INET6 but takes IPv4 connections too. */
static __always_inline struct fp_listener *listener_find(__u32 netns, __u16 port, __u16 family)
{
	struct fp_listener_key k = { .netns = netns, .port = port, .family = family };
	struct fp_listener *l = bpf_map_lookup_elem(&listeners, &k);

	if (!l && family == AF_INET) {
		k.family = AF_INET6;
		l = bpf_map_lookup_elem(&listeners, &k);
	}
	return l;
}

static __always_inline void sk_addrs(const struct sock *sk, struct fp_flow *f, bool direct)
{
	f->family = SK_FIELD(direct, sk, __sk_common.skc_family);
	f->lport = SK_FIELD(direct, sk, __sk_common.skc_num);
	f->rport = bpf_ntohs(SK_FIELD(direct, sk, __sk_common.skc_dport));
	if (f->family == AF_INET6) {
		bpf_core_read(f->laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(f->raddr, 16, &sk->__sk_common.skc_v6_daddr);
		/* IPv4 on a dual-stack socket (::ffff:a.b.c.d): keep it as IPv4, as its
		 * packets and its peer see it. */
		if (is_v4_mapped(f->raddr) && (is_v4_mapped(f->laddr))) {
			f->family = AF_INET;
			__builtin_memcpy(f->laddr, f->laddr + 12, 4);
			__builtin_memcpy(f->raddr, f->raddr + 12, 4);
			__builtin_memset(f->laddr + 4, 0, 12);
			__builtin_memset(f->raddr + 4, 0, 12);
		}
	} else {
		*(__be32 *)f->laddr = SK_FIELD(direct, sk, __sk_common.skc_rcv_saddr);
		*(__be32 *)f->raddr = SK_FIELD(direct, sk, __sk_common.skc_daddr);
	}
}

/* Payload bytes received of a bytes_received count: the peer's FIN takes a sequence
 * number that bytes_received counts too. tcp_fin() marks its receipt with SOCK_DONE (a
 * reset does not), after counting it: read the flags first, and when SOCK_DONE is seen
 * the FIN is in the count and comes out. */
static __always_inline __u64 payload_received(__u64 got, unsigned long sk_flags)
{
	return got && (sk_flags & (1UL << bpf_core_enum_value(enum sock_flags, SOCK_DONE))) ?
		       got - 1 :
		       got;
}

/* The counters of TCP socket tp: loaded where tp is a pointer the verifier vouches for
 * (direct), else read, which works from any context. */
static __always_inline void sock_counters(const struct tcp_sock *tp, struct fp_sock_acct *a,
					  bool direct)
{
	unsigned long flags = SK_FIELD(direct, tp, inet_conn.icsk_inet.sk.__sk_common.skc_flags);

	a->bytes_received = payload_received(SK_FIELD(direct, tp, bytes_received), flags);
	a->bytes_sent = SK_FIELD(direct, tp, bytes_sent);
	a->bytes_retrans = SK_FIELD(direct, tp, bytes_retrans);
	a->segs_out = SK_FIELD(direct, tp, segs_out);
	a->segs_in = SK_FIELD(direct, tp, segs_in);
	a->total_retrans = SK_FIELD(direct, tp, total_retrans);
	a->pad = 0;
}

/* A closing socket's counters, read once for its accounting and its close event. */
struct close_read {
	struct fp_sock_acct a;
	__u32 srtt_us;
};

/* close: the closing socket's counters (FP_EV_CLOSE), else NULL */
static __always_inline void emit(const struct fp_flow *f, __u64 sk, __u8 type, __u8 reason,
				 __u64 duration_ns, __s32 sk_err, __u64 peer_cgroup_id,
				 const struct close_read *close)
{
	struct fp_conn_event *e;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_lost(FP_LOST_RINGBUF);
		return;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->sk = sk;
	e->conn_start = f->start_ns;
	e->cgroup_id = f->cgroup_id;
	e->duration_ns = duration_ns;
	e->pid = f->pid;
	e->netns = f->netns;
	e->sk_err = sk_err;
	e->lport = f->lport;
	e->rport = f->rport;
	e->type = type;
	e->svc = f->svc;
	e->kind = f->kind;
	e->family = f->family;
	e->reason = reason;
	e->peer_cgroup_id = peer_cgroup_id;
	__builtin_memcpy(e->comm, f->comm, sizeof(e->comm));
	__builtin_memcpy(e->laddr, f->laddr, sizeof(e->laddr));
	__builtin_memcpy(e->raddr, f->raddr, sizeof(e->raddr));
	e->bytes_sent = close ? close->a.bytes_sent : 0;
	e->bytes_received = close ? close->a.bytes_received : 0;
	e->retrans_segs = close ? close->a.total_retrans : 0;
	e->srtt_us = close ? close->srtt_us : 0;
	/* A new listener wakes the daemon at once: its process is about to serve, and the
	 * OpenSSL binaries it maps are hooked from this event (user/collect/tls.c). */
	bpf_ringbuf_submit(e, type == FP_EV_LISTEN ?
				      BPF_RB_FORCE_WAKEUP :
				      rb_wakeup_flags(&events, FP_RINGBUF_WAKEUP_BYTES));
}

/* true if the flow was there */
static __always_inline bool flow_delete(__u64 key)
{
	if (bpf_map_delete_elem(&flows, &key))
		return false;
	count_lost(FP_STAT_FLOWS_DELETED);
	return true;
}

/*
 * fresh: the socket's connection starts now (SYN_SENT, an accepted socket), so a flow
 * already under its key is a former socket's at that address whose CLOSE and
 * destruction runs the kernel both skipped: it goes. Otherwise (a socket's first packet
 * on two CPUs at once) the flow inserted first is the one.
 */
static __always_inline struct fp_flow *flow_insert(__u64 key, const struct fp_flow *init,
						   bool fresh)
{
	__u32 slot = FP_STAT_FLOWS_INSERTED;
	__u64 *n;

	if (bpf_map_update_elem(&flows, &key, init, BPF_NOEXIST)) {
		if (!fresh || bpf_map_update_elem(&flows, &key, init, BPF_EXIST)) {
			struct fp_flow *f = bpf_map_lookup_elem(&flows, &key);

			if (!f)
				count_lost(FP_LOST_FLOW_INSERT);
			return f;
		}
		count_lost(FP_STAT_FLOWS_DELETED); /* the stale one, replaced */
	}
	n = bpf_map_lookup_elem(&lost_stats, &slot);
	if (n)
		fp_add(n, 1);
	return bpf_map_lookup_elem(&flows, &key);
}

/* ---- the kernel's per-socket counters (targ_sock_counters) ----------------------- */

/*
 * Compare-and-swap (BPF_ATOMIC BPF_CMPXCHG, Linux 5.12): *p becomes new if it was old;
 * returns what *p was. clang emits cmpxchg only when compiling for the v3 ISA, and
 * 6.1's verifier refused this object's count_egress built that way; so the objects stay
 * on the first ISA and the instruction is written out, with its registers fixed (r0 the
 * expected and returned value, r1 the address, r2 the new value).
 */
static __always_inline __u64 cas64(__u64 *p, __u64 old, __u64 new)
{
	register __u64 r0 asm("r0") = old;
	register __u64 *r1 asm("r1") = p;
	register __u64 r2 asm("r2") = new;

	/* r0 = cmpxchg_64(r1 + 0, r0, r2) */
	asm volatile(".quad 0x000000f1000021db" : "+r"(r0) : "r"(r1), "r"(r2) : "memory");
	return r0;
}

static __always_inline __u32 cas32(__u32 *p, __u32 old, __u32 new)
{
	register __u64 r0 asm("r0") = old;
	register __u32 *r1 asm("r1") = p;
	register __u64 r2 asm("r2") = new;

	/* w0 = cmpxchg32_32(r1 + 0, w0, w2) */
	asm volatile(".quad 0x000000f1000021c3" : "+r"(r0) : "r"(r1), "r"(r2) : "memory");
	return (__u32)r0;
}

/*
 * Move what was added of one counter forward to cur and add the difference to *to.
 * The iterator and the close of one socket may race on two CPUs, each with its own
 * reading: only the larger reading moves the counter, so the sum added is the last
 * value less the first, whatever the order. Counters only grow (u32 ones wrap).
 */
static __always_inline void advance64(__u64 *acct, __u64 cur, __u64 *to)
{
	__u64 old;
	int i;

	for (i = 0; i < 3; i++) {
		old = *(volatile __u64 *)acct;
		if ((__s64)(cur - old) <= 0)
			return;
		if (cas64(acct, old, cur) == old) {
			fp_add(to, cur - old);
			return;
		}
	}
}

static __always_inline void advance32(__u32 *acct, __u32 cur, __u64 *to)
{
	__u32 old;
	int i;

	for (i = 0; i < 3; i++) {
		old = *(volatile __u32 *)acct;
		if ((__s32)(cur - old) <= 0)
			return;
		if (cas32(acct, old, cur) == old) {
			fp_add(to, (__u32)(cur - old));
			return;
		}
	}
}

static __always_inline void sock_account(struct fp_flow *f, const struct fp_sock_acct *now)
{
	struct fp_svc_stats *s = stats_of(f->svc, f->kind);

	if (!s)
		return;
	advance64(&f->acct.bytes_sent, now->bytes_sent, &s->bytes[FP_TX]);
	advance64(&f->acct.bytes_received, now->bytes_received, &s->bytes[FP_RX]);
	advance64(&f->acct.bytes_retrans, now->bytes_retrans, &s->retrans_bytes);
	advance32(&f->acct.segs_out, now->segs_out, &s->segs[FP_TX]);
	advance32(&f->acct.segs_in, now->segs_in, &s->segs[FP_RX]);
	advance32(&f->acct.total_retrans, now->total_retrans, &s->retrans_segs);
}

/*
 * A socket with a flow, counted per packet: its retransmits are the kernel's own count
 * (total_retrans, bytes_retrans), moved forward at each retransmit the tracepoint
 * reports and at the close. One the tracepoint does not report (on 6.18 some retransmits
 * counted in TcpRetransSegs never reached it) is then counted at the next, or at the
 * close, and a firing that bailed out before the kernel counted moves nothing.
 */
static __always_inline void retrans_account(struct fp_flow *f, __u64 bytes_retrans,
					    __u32 total_retrans)
{
	struct fp_svc_stats *s = stats_of(f->svc, f->kind);

	if (!s)
		return;
	advance64(&f->acct.bytes_retrans, bytes_retrans, &s->retrans_bytes);
	advance32(&f->acct.total_retrans, total_retrans, &s->retrans_segs);
}

/* The counters of a closing socket: loaded through the tcp_sock the helper vouches for
 * where sk is a BTF pointer (direct), else read. */
static __always_inline void close_counters(const struct sock *sk, struct close_read *r,
					   bool direct)
{
	const struct tcp_sock *tp = direct ? bpf_skc_to_tcp_sock((void *)sk) : 0;

	if (tp) {
		sock_counters(tp, &r->a, true);
		r->srtt_us = tp->srtt_us >> 3;
	} else {
		tp = (const struct tcp_sock *)sk;
		sock_counters(tp, &r->a, false);
		r->srtt_us = BPF_CORE_READ(tp, srtt_us) >> 3;
	}
}

static __always_inline void task_attrib(struct fp_flow *f)
{
	f->pid = bpf_get_current_pid_tgid() >> 32;
	f->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(f->comm, sizeof(f->comm));
}

static __always_inline void tuple_of(const struct fp_flow *f, struct fp_tuple_key *k, bool rev)
{
	__builtin_memcpy(k->laddr, rev ? f->raddr : f->laddr, 16);
	__builtin_memcpy(k->raddr, rev ? f->laddr : f->raddr, 16);
	k->lport = rev ? f->rport : f->lport;
	k->rport = rev ? f->lport : f->rport;
	k->family = f->family;
}

/* The flow of the other end of f's connection when that end is on this host too: the
 * reversed 4-tuple names a socket with a flow. */
static __always_inline struct fp_flow *local_peer(const struct fp_flow *f)
{
	struct fp_tuple_key tk;
	__u64 *peer_sk, pk;

	tuple_of(f, &tk, true);
	peer_sk = bpf_map_lookup_elem(&tuples, &tk);
	if (!peer_sk)
		return 0;
	pk = *peer_sk;
	return bpf_map_lookup_elem(&flows, &pk);
}

/* ---- lifecycle -------------------------------------------------------------------- */

/*
 * listen() (inet_csk_listen_start, in the caller's context): every process that calls it
 * on a service's port serves the service, SO_REUSEPORT siblings included, each with a
 * socket of its own on one (netns, port, family). Each listen is reported; the process
 * is the service's from this moment, before it forks (nginx forks its workers right
 * after listen(), sooner than userspace could add it).
 */
static __always_inline void on_listen(const struct sock *sk, __u16 port, __u16 family,
				      bool direct)
{
	struct fp_listener_key k = { .netns = sk_netns(sk, direct), .port = port,
				     .family = family };
	struct cls_ctx c = { .current_cg = true };
	struct fp_listener *l, init = {};
	struct fp_flow f = {};
	__u64 skey = (__u64)sk;
	__u8 kind, one = 1;
	int err = 0;

	task_attrib(&f);
	c.comm = f.comm;
	f.svc = fp_classify(port, port, &c, &kind);
	if (f.svc == FP_SVC_NONE)
		return;
	proc_task_add(f.pid, f.svc);
	if (bpf_map_update_elem(&listen_socks, &skey, &one, BPF_NOEXIST)) {
		count_lost(FP_LOST_LISTENER_MAP);
		return;
	}
	/* The first socket on the port creates the entry, with its owner (the accepted
	 * sockets' attribution); siblings add to its count. Two that listen at once on
	 * two CPUs both find no entry: the one whose insert loses counts in the other's. */
	init.svc = f.svc;
	init.pid = f.pid;
	init.cgroup_id = f.cgroup_id;
	__builtin_memcpy(init.comm, f.comm, sizeof(init.comm));
	l = map_lookup_or_try_init(&listeners, &k, &init, &err);
	if (!l) {
		bpf_map_delete_elem(&listen_socks, &skey);
		count_lost(FP_LOST_LISTENER_MAP);
		return;
	}
	fp_add(&l->count, 1);
	f.kind = FP_KIND_SERVER;
	f.lport = port;
	f.family = family;
	f.netns = k.netns;
	emit(&f, skey, FP_EV_LISTEN, 0, 0, 0, 0, 0);
}

/* A counted listening socket closed (its owner's close or exit): one fewer on the
 * port; the entry goes with the last one. */
static __always_inline void on_unlisten(const struct sock *sk, __u16 port, __u16 family,
					bool direct)
{
	struct fp_listener_key k = { .netns = sk_netns(sk, direct), .port = port,
				     .family = family };
	struct fp_listener *l;
	struct fp_flow f = {};
	__u64 skey = (__u64)sk;

	if (bpf_map_delete_elem(&listen_socks, &skey))
		return;
	l = bpf_map_lookup_elem(&listeners, &k);
	if (!l)
		return;
	task_attrib(&f);
	f.svc = l->svc;
	f.kind = FP_KIND_SERVER;
	f.lport = port;
	f.family = family;
	f.netns = k.netns;
	if (l->count > 1)
		fp_add(&l->count, -1);
	else
		bpf_map_delete_elem(&listeners, &k);
	emit(&f, skey, FP_EV_UNLISTEN, 0, 0, 0, 0, 0);
}

/* connect(): the task is the owner; the source port is not bound yet (tcp_v4_connect
 * sets SYN_SENT before inet_hash_connect), so the remote port classifies. */
static __always_inline void on_syn_sent(const struct sock *sk, __u16 dport, __u16 family,
					bool direct)
{
	struct cls_ctx c = { .current_cg = true };
	struct fp_flow f = {};
	__u8 kind = FP_KIND_CLIENT;

	task_attrib(&f);
	c.comm = f.comm;
	f.svc = fp_classify(0, dport, &c, &kind);
	if (f.svc == FP_SVC_NONE)
		return;
	f.kind = FP_KIND_CLIENT;
	f.start_ns = bpf_ktime_get_ns();
	f.rport = dport;
	f.family = family;
	f.netns = sk_netns(sk, direct);
	flow_insert((__u64)sk, &f, true);
}

/* f, sk's flow since SYN_SENT, is established. late: found so by a later packet (the
 * lifecycle run of ESTABLISHED skipped), when the connect's duration is not known. */
static __always_inline void active_established(const struct sock *sk, struct fp_flow *f,
					       bool direct, bool late)
{
	__u64 key = (__u64)sk, now = bpf_ktime_get_ns(), us;
	struct fp_svc_stats *s;
	struct fp_tuple_key tk;

	sk_addrs(sk, f, direct);
	f->established = 1;
	us = (now - f->start_ns) / 1000;
	s = stats_of(f->svc, f->kind);
	if (s) {
		fp_add(&s->opens, 1);
		if (!late) {
			fp_add(&s->conn_bucket[lat_bucket(us)], 1);
			fp_add(&s->conn_sum_us, us);
		}
	}
	tuple_of(f, &tk, false);
	if (bpf_map_update_elem(&tuples, &tk, &key, BPF_ANY))
		count_lost(FP_LOST_TUPLE_INSERT);
	emit(f, key, FP_EV_OPEN, 0, late ? 0 : now - f->start_ns, 0, 0, 0);
}

static __always_inline void on_active_established(const struct sock *sk, bool direct)
{
	__u64 key = (__u64)sk;
	struct fp_flow *f = bpf_map_lookup_elem(&flows, &key);

	if (f)
		active_established(sk, f, direct, false);
}

/* A child socket completed the handshake (softirq): it belongs to its listener. */
static __always_inline void on_passive_established(const struct sock *sk, bool direct)
{
	struct fp_svc_stats *s;
	struct fp_tuple_key tk;
	struct fp_listener *l;
	struct fp_flow f = {}, *fp, *peer;
	__u64 key = (__u64)sk, peer_cg = 0;
	__u8 local = 0;

	sk_addrs(sk, &f, direct);
	f.netns = sk_netns(sk, direct);
	l = listener_find(f.netns, f.lport, f.family);
	if (l) {
		f.svc = l->svc;
		f.kind = FP_KIND_SERVER;
		f.pid = l->pid;
		f.cgroup_id = l->cgroup_id;
		__builtin_memcpy(f.comm, l->comm, sizeof(f.comm));
	} else {
		/* Listener older than the probe: ports and the socket's cgroup only. */
		struct cgroup *cg = sock_cgroup(sk);
		struct cls_ctx c = { .cg = cg };

		f.svc = fp_classify(f.lport, f.rport, &c, &f.kind);
		if (f.svc == FP_SVC_NONE)
			return;
		f.cgroup_id = BPF_CORE_READ(cg, kn, id);
	}
	f.start_ns = bpf_ktime_get_ns();
	f.established = 1;
	/* tcp_create_openreq_child() starts total_retrans at the SYN-ACKs resent, which
	 * handle_retransmit_synack counted */
	f.acct.total_retrans = BPF_CORE_READ((const struct tcp_sock *)sk, total_retrans);
	fp = flow_insert(key, &f, true);
	if (!fp)
		return;
	s = stats_of(f.svc, f.kind);
	if (s)
		fp_add(&s->opens, 1);
	tuple_of(&f, &tk, false);
	if (bpf_map_update_elem(&tuples, &tk, &key, BPF_ANY))
		count_lost(FP_LOST_TUPLE_INSERT);

	/* Is the client end on this host too? Then the server's view is the one that
	 * counts once: move the client's open to the local-peer kind. */
	peer = local_peer(&f);
	/* the client end's cgroup: the server end's spans make its client span */
	if (peer && peer->kind != FP_KIND_SERVER) {
		local = FP_OPEN_LOCAL_PEER;
		peer_cg = peer->cgroup_id;
	}
	if (peer && peer->kind == FP_KIND_CLIENT) {
		s = stats_of(peer->svc, FP_KIND_CLIENT);
		if (s)
			fp_add(&s->opens, -1);
		peer->kind = FP_KIND_CLIENT_LOCALPEER;
		s = stats_of(peer->svc, FP_KIND_CLIENT_LOCALPEER);
		if (s)
			fp_add(&s->opens, 1);
	}
	emit(fp, key, FP_EV_OPEN, local, 0, 0, peer_cg, 0);
}

static __always_inline __u8 connfail_reason(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return FP_CONNFAIL_REFUSED;
	case ETIMEDOUT:
		return FP_CONNFAIL_TIMEOUT;
	case EHOSTUNREACH:
	case ENETUNREACH:
		return FP_CONNFAIL_UNREACHABLE;
	case 0:
		return FP_CONNFAIL_ABORTED;
	default:
		return FP_CONNFAIL_OTHER;
	}
}

/* The flow f of sk ends: its counters are read, its close counted, its entries go. */
static __always_inline void close_flow(const struct sock *sk, struct fp_flow *f, int oldstate,
				       bool direct)
{
	__u64 key = (__u64)sk, now = bpf_ktime_get_ns();
	struct fp_flow_ref gone = {};
	struct close_read cr;
	struct fp_svc_stats *s;
	struct fp_tuple_key tk;
	int err;

	close_counters(sk, &cr, direct);
	if (targ_sock_counters)
		sock_account(f, &cr.a);
	else
		retrans_account(f, cr.a.bytes_retrans, cr.a.total_retrans);
	/* tcp_done_with_error() and tcp_write_err() set sk_err before tcp_done(). */
	err = SK_FIELD(direct, sk, sk_err);
	s = stats_of(f->svc, f->kind);
	if (!f->established) {
		if (oldstate == TCP_SYN_SENT) {
			__u8 r = connfail_reason(err);

			if (!f->lport)
				sk_addrs(sk, f, direct);
			if (s)
				fp_add(&s->conn_fail[r], 1);
			emit(f, key, FP_EV_CONNECT_FAIL, r, now - f->start_ns, err, 0, 0);
		}
	} else {
		if (s) {
			fp_add(&s->closes, 1);
			if (err == ETIMEDOUT)
				fp_add(&s->timeouts, 1);
		}
		tuple_of(f, &tk, false);
		bpf_map_delete_elem(&tuples, &tk);
		emit(f, key, FP_EV_CLOSE, 0, now - f->start_ns, err, 0, &cr);
		/* Still owned (not orphaned by close()): its owner may read or write once
		 * more, as after a reset from the peer. */
		if (!(SK_FIELD(direct, sk, __sk_common.skc_flags) &
		      (1UL << bpf_core_enum_value(enum sock_flags, SOCK_DEAD)))) {
			gone.start_ns = f->start_ns;
			gone.svc = f->svc;
			gone.kind = f->kind;
			bpf_map_update_elem(&gone_flows, &key, &gone, BPF_ANY);
		}
		if (targ_sndq_svcs & (1u << (f->svc & (FP_MAX_SERVICES - 1))))
			bpf_map_delete_elem(&sndq_now, &key);
	}
	flow_delete(key);
}

static __always_inline void on_close(const struct sock *sk, int oldstate, bool direct)
{
	__u64 key = (__u64)sk;
	struct fp_flow *f = bpf_map_lookup_elem(&flows, &key);

	if (f)
		close_flow(sk, f, oldstate, direct);
}

/*
 * A socket is born at key: a flow still there belongs to a dead socket whose close no run
 * saw (the kernel skipped it: recursion_misses). Left in place, the new socket would
 * inherit its service and its counters' baselines (total_retrans far above the new
 * socket's: its retransmits would not count until they passed it). It goes, with its
 * 4-tuple if that still names it, and is counted.
 */
static __always_inline void flow_unclosed(__u64 key)
{
	struct fp_flow *old = bpf_map_lookup_elem(&flows, &key);
	struct fp_tuple_key tk;
	__u64 *owner;

	if (!old)
		return;
	if (old->established) {
		tuple_of(old, &tk, false);
		owner = bpf_map_lookup_elem(&tuples, &tk);
		if (owner && *owner == key)
			bpf_map_delete_elem(&tuples, &tk);
	}
	if (flow_delete(key))
		count_lost(FP_LOST_FLOW_UNCLOSED);
}

/* sport, dport: host order */
static __always_inline int set_state(const struct sock *sk, int oldstate, int newstate,
				     __u16 family, __u16 sport, __u16 dport, bool direct)
{
	/* A socket's life starts here (a child of a listener is created in SYN_RECV): its
	 * address no longer names a connection that closed. Any socket: the address may
	 * have been a service's. */
	if (newstate == TCP_SYN_SENT || newstate == TCP_SYN_RECV || newstate == TCP_LISTEN) {
		__u64 key = (__u64)sk;

		/* a lookup first: a delete locks the bucket, and nearly every socket born
		 * has nothing there */
		if (bpf_map_lookup_elem(&gone_flows, &key))
			bpf_map_delete_elem(&gone_flows, &key);
		flow_unclosed(key);
	}
	/* Every flow and listener was classified by one of its ports (the remote one
	 * for active opens), so a socket whose ports no service lists has no state here:
	 * the common case costs two array reads. */
	if (!(port_mask(sport) | port_mask(dport)))
		return 0;
	switch (newstate) {
	case TCP_LISTEN:
		on_listen(sk, sport, family, direct);
		break;
	case TCP_SYN_SENT:
		on_syn_sent(sk, dport, family, direct);
		break;
	case TCP_ESTABLISHED:
		if (oldstate == TCP_SYN_SENT)
			on_active_established(sk, direct);
		else if (oldstate == TCP_SYN_RECV)
			on_passive_established(sk, direct);
		break;
	case TCP_CLOSE:
		if (oldstate == TCP_LISTEN)
			on_unlisten(sk, sport, family, direct);
		else
			on_close(sk, oldstate, direct);
		break;
	}
	return 0;
}

/*
 * The same transitions from the tracepoint's BTF form: a tp_btf program guards only
 * against itself. The classic tracepoint is skipped (recursion_misses) whenever any
 * perf-event program is already running on the CPU (bpf_prog_active), e.g. a syscall
 * tracepoint's program interrupted by the softirq that completes a handshake, or the
 * daemon inside a bpf() map call. A missed ESTABLISHED is made up at the socket's next
 * packet (count_skb, flow_from_skb), a missed CLOSE at its destruction (on_destroy).
 */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(handle_set_state_btf, const struct sock *sk, const int oldstate, const int newstate)
{
	const struct inet_sock *inet = (const void *)sk;
	__u16 sport;

	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	/* The local port is inet_sport, as the classic tracepoint's. Before CLOSE it is the
	 * bound port, skc_num, a load; CLOSE gives the port back first (inet_put_port sets
	 * inet_num 0), and inet_sport, an inet_sock field past the struct sock that sk is
	 * typed as, is read. */
	sport = newstate == TCP_CLOSE ? bpf_ntohs(BPF_CORE_READ(inet, inet_sport)) :
					sk->__sk_common.skc_num;
	return set_state(sk, oldstate, newstate, sk->__sk_common.skc_family, sport,
			 bpf_ntohs(sk->__sk_common.skc_dport), true);
}

SEC("tracepoint/sock/inet_sock_set_state")
int handle_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	/* The record is the program's context: direct (CO-RE relocated) loads. */
	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	return set_state(ctx->skaddr, ctx->oldstate, ctx->newstate, ctx->family, ctx->sport,
			 ctx->dport, false);
}

/* ---- throughput: cgroup_skb on the cgroup v2 root sees every socket's packets ---- */

/* An accepted socket's segs_in before any segment reached it (not its listener): the SYN
 * (tcp_create_openreq_child starts it at 1) and the handshake's last ACK
 * (tcp_child_process). A first data segment that completes the handshake instead (its
 * ACK lost) counts its GRO segments: that socket is left counted from its next packet. */
#define FP_CHILD_SEGS_IN 2

/*
 * A socket with no flow: one that predates the probe, or one whose ESTABLISHED run the
 * kernel skipped (recursion_misses); classified on its first packet. sent, sent_segs:
 * that packet's payload and segments if outbound (the socket's counters include them).
 */
static __always_inline struct fp_flow *flow_from_skb(struct __sk_buff *skb, struct bpf_sock *bsk,
						     struct sock *sk, __u64 key, __u32 sent,
						     __u32 sent_segs)
{
	struct cls_ctx c = { .cg = sock_cgroup(sk) };
	struct tcp_sock *tp = (struct tcp_sock *)sk; /* what bpf_skc_to_tcp_sock returned */
	struct fp_older_key ok = {};
	struct fp_listener *l = 0;
	struct fp_sock_acct *base;
	struct fp_flow f = {}, *fp, *peer;
	__u32 state = bsk->state;
	__u64 peer_cg = 0;
	__u8 local = 0;

	if (state == TCP_LISTEN || state == TCP_CLOSE || state == TCP_SYN_SENT ||
	    state == TCP_SYN_RECV || state == TCP_NEW_SYN_RECV)
		return 0;
	f.svc = fp_classify(bsk->src_port, bpf_ntohs(bsk->dst_port), &c, &f.kind);
	if (f.svc == FP_SVC_NONE)
		return 0;
	sk_addrs(sk, &f, true);
	f.netns = sk_netns(sk, true);
	f.cgroup_id = bpf_skb_cgroup_id(skb);
	f.start_ns = bpf_ktime_get_ns();
	f.established = 1;
	tuple_of(&f, &ok.t, false);
	ok.netns = f.netns;
	base = bpf_map_lookup_elem(&older_socks, &ok);
	if (base) {
		/* read at the daemon's start: what it moved since is counted */
		f.acct = *base;
		bpf_map_delete_elem(&older_socks, &ok);
	} else if (f.kind == FP_KIND_SERVER && tp->segs_in <= FP_CHILD_SEGS_IN &&
		   (l = listener_find(f.netns, f.lport, f.family))) {
		/* Not read at the start, accepted through a listener whose LISTEN ran here,
		 * and no segment through its own socket yet: accepted just now, its
		 * ESTABLISHED run skipped. (A flow the full table evicted from a socket
		 * that has lived is not this: counting it from its start would count its
		 * past twice.) Counted from its start, as on_passive_established would
		 * have: its retransmits so far are the SYN-ACKs resent, which their own
		 * program counted. */
		f.acct.bytes_retrans = tp->bytes_retrans;
		f.acct.total_retrans = tp->total_retrans;
		f.pid = l->pid;
		__builtin_memcpy(f.comm, l->comm, sizeof(f.comm));
	} else {
		/* What it moved before the probe saw it is not counted: its counters now
		 * are the start. An outbound packet is in them already (__tcp_transmit_skb
		 * counts it before the IP output runs this program), an inbound one not
		 * yet. */
		f.acct.bytes_sent = tp->bytes_sent - sent;
		f.acct.bytes_received = tp->bytes_received;
		f.acct.bytes_retrans = tp->bytes_retrans;
		f.acct.segs_out = tp->segs_out - sent_segs;
		f.acct.segs_in = tp->segs_in;
		f.acct.total_retrans = tp->total_retrans;
	}
	bpf_map_update_elem(&tuples, &ok.t, &key, BPF_ANY);
	/* Both ends on this host: as at a handshake (on_passive_established), the client
	 * end becomes the local peer's, whichever end moves a packet first. Otherwise both
	 * ends of an older connection would be parsed and each request counted twice. */
	peer = local_peer(&f);
	if (peer && f.kind == FP_KIND_CLIENT && peer->kind == FP_KIND_SERVER)
		f.kind = FP_KIND_CLIENT_LOCALPEER;
	else if (peer && f.kind == FP_KIND_SERVER && peer->kind == FP_KIND_CLIENT)
		peer->kind = FP_KIND_CLIENT_LOCALPEER;
	if (peer && peer->kind != FP_KIND_SERVER) {
		local = FP_OPEN_LOCAL_PEER;
		peer_cg = peer->cgroup_id;
	}
	fp = flow_insert(key, &f, false);
	/* the open of a connection accepted since the probe started, once (a flow another
	 * CPU inserted first has its own start_ns) */
	if (l && fp && fp->start_ns == f.start_ns) {
		struct fp_svc_stats *s = stats_of(f.svc, f.kind);

		if (s)
			fp_add(&s->opens, 1);
		emit(fp, key, FP_EV_OPEN, local, 0, 0, peer_cg, 0);
	}
	return fp;
}

/*
 * RTT, piggybacked on ingress: the socket's smoothed RTT (tp->srtt_us, as of the last
 * ACK the stack processed) is sampled at most once per srtt, and at most once per clock
 * tick: the coarse clock costs a load where a precise read costs ~90 ns in a VM.
 */
static __always_inline void sample_rtt(__u64 *next_ns, struct fp_svc_stats *s,
				       struct bpf_sock *bsk)
{
	__u64 now = bpf_ktime_get_coarse_ns();
	struct tcp_sock *tp;
	__u32 srtt;

	if (now < *next_ns)
		return;
	tp = bpf_skc_to_tcp_sock(bsk);
	if (!tp)
		return;
	srtt = tp->srtt_us >> 3;
	if (!srtt)
		return;
	*next_ns = now + (__u64)srtt * 1000;
	fp_add(&s->rtt_bucket[lat_bucket(srtt)], 1);
	fp_add(&s->rtt_sum_us, srtt);
}

#define TCPHDR_SYN 0x02
#define TCPHDR_ACK 0x10

/* IP + TCP header length of a cgroup_skb packet (it starts at the network header) and
 * the TCP flags byte. 0 if the headers cannot be read. */
static __always_inline __u32 headers_len(struct __sk_buff *skb, __u8 *flags, __u32 *ip_len)
{
	unsigned char *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	__u8 b[2];
	__u32 off;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		if (data + 1 > end) {
			if (bpf_skb_load_bytes(skb, 0, b, 1))
				return 0;
		} else {
			b[0] = data[0];
		}
		off = (b[0] & 0x0f) * 4;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		off = 40;
	} else {
		return 0;
	}
	off &= 0x3f;
	data += off;
	if (data + 14 > end) {
		/* headers outside the linear area: rare, take the slow copy */
		if (bpf_skb_load_bytes(skb, off + 12, b, 2))
			return 0;
	} else {
		b[0] = data[12];
		b[1] = data[13];
	}
	*flags = b[1];
	*ip_len = off;
	return off + (b[0] >> 4) * 4;
}

/* Network bytes of the socket's cgroup (the cgroup of the task that created it). */
static __always_inline void count_cgroup(struct __sk_buff *skb, int dir)
{
	__u64 id = bpf_skb_cgroup_id(skb);
	struct fp_cgroup_net *v = bpf_map_lookup_elem(&cgroup_net, &id);

	if (!v) {
		struct fp_cgroup_net zero = {};
		long err = bpf_map_update_elem(&cgroup_net, &id, &zero, BPF_NOEXIST);

		if (err && err != -17 /* EEXIST: a softirq on this CPU won the race */) {
			count_lost(FP_LOST_CGROUP_MAP);
			return;
		}
		v = bpf_map_lookup_elem(&cgroup_net, &id);
		if (!v)
			return;
	}
	fp_add(&v->bytes[dir], skb->len);
}

/*
 * The send queue of a watched socket as of an inbound segment. This program runs in
 * sk_filter(), before tcp_ack() has applied the segment's acknowledgment, so a valid ACK
 * number (after snd_una, not after snd_nxt) stands in for the snd_una it is about to
 * become: ACKs drain the queue without any syscall of the owner to sample it.
 */
static __always_inline void note_sndq(struct __sk_buff *skb, struct bpf_sock *bsk, __u8 flags,
				      __u32 ip_len)
{
	struct bpf_sock *full = bpf_sk_fullsock(bsk);
	__u64 key = (__u64)bsk;
	struct tcp_sock *tp;
	struct fp_flow *f;
	__u32 ack, una;

	f = bpf_map_lookup_elem(&flows, &key);
	if (!f || !f->established || !full)
		return;
	tp = bpf_skc_to_tcp_sock(full);
	if (!tp)
		return;
	una = tp->snd_una;
	if (flags & TCPHDR_ACK) {
		/* the TCP header's acknowledgment number, at the offset headers_len() found */
		if (!bpf_skb_load_bytes(skb, (ip_len & 0x3f) + 8, &ack, 4)) {
			ack = bpf_ntohl(ack);
			/* before()/after() of include/net/tcp.h: sequence numbers wrap */
			if ((__s32)(ack - una) > 0 && (__s32)(ack - tp->snd_nxt) <= 0)
				una = ack;
		}
	}
	sndq_store(key, f->start_ns, tp->write_seq, una);
}

/*
 * Per packet, received bytes come from the socket's own count (bytes_received, the FIN
 * taken out as in sock_counters): every packet of the socket, either way, moves what was
 * added forward. An inbound segment is counted by the socket after this program ran (it
 * runs in sk_filter), so its bytes are added by the next packet: the ACK the socket sends
 * for it. Counting each segment's payload instead adds every retransmission of what had
 * arrived already (8.3 % over at 10 % loss, measured).
 */
static __always_inline void rx_advance(struct sk_hot *h, struct bpf_sock *bsk, struct fp_svc_stats *s)
{
	struct bpf_sock *full = bpf_sk_fullsock(bsk);
	struct tcp_sock *tp = full ? bpf_skc_to_tcp_sock(full) : 0;
	unsigned long flags;

	if (!tp)
		return;
	flags = tp->inet_conn.icsk_inet.sk.__sk_common.skc_flags;
	advance64(&h->rx_acct, payload_received(tp->bytes_received, flags), &s->bytes[FP_RX]);
}

static __always_inline int count_skb(struct __sk_buff *skb, int dir)
{
	struct bpf_sock *bsk = skb->sk;
	struct fp_svc_stats *s;
	struct fp_flow *f = 0;
	struct sk_hot *h;
	__u8 svc, kind, flags = 0;
	__u32 hdr, ip_len = 0;
	__u64 key;

	if (!bsk)
		return 1;
	if (targ_cgroup_net)
		count_cgroup(skb, dir);
	/* Sockets of no service (the ports say so) cost two inlined array reads. */
	if (!(port_mask(bsk->src_port) | port_mask(bpf_ntohs(bsk->dst_port))))
		return 1;
	h = bpf_sk_storage_get(&sk_hot, bsk, 0, 0);
	/* With the kernel's counters an outbound packet of a known socket has nothing left
	 * to do here: RTT and send queues are read on inbound ones. */
	if (targ_sock_counters && dir == FP_TX && h && h->settled)
		return 1;
	hdr = headers_len(skb, &flags, &ip_len);
	if (h && h->settled) {
		svc = h->svc;
		kind = h->kind;
	} else {
		/* skb->sk is the kernel's struct sock: the key the tracepoints use. Only
		 * TCP sockets of services are in flows. */
		key = (__u64)bsk;
		f = bpf_map_lookup_elem(&flows, &key);
		if (!f) {
			struct bpf_sock *full = bpf_sk_fullsock(bsk);
			struct tcp_sock *tp;

			if (!full || full->protocol != IPPROTO_TCP)
				return 1;
			tp = bpf_skc_to_tcp_sock(full);
			if (!tp)
				return 1;
			f = flow_from_skb(skb, full, (struct sock *)tp, key,
					  dir == FP_TX && hdr && skb->len > hdr ? skb->len - hdr : 0,
					  dir == FP_TX ? (skb->gso_segs ?: 1) : 0);
			if (!f)
				return 1;
		} else if (!f->established && bsk->state == TCP_ESTABLISHED) {
			/* A client's flow from SYN_SENT whose ESTABLISHED run was skipped: the
			 * state is stored after that run, so none is under way. */
			struct bpf_sock *full = bpf_sk_fullsock(bsk);
			struct tcp_sock *tp = full ? bpf_skc_to_tcp_sock(full) : 0;

			if (tp)
				active_established((struct sock *)tp, f, true, true);
		}
		svc = f->svc;
		kind = f->kind;
		/* Per packet, the storage is made at the first (its rx_acct counts from
		 * there). With the kernel's counters it only saves each packet the flow
		 * lookup, and costs an allocation and a free: made once the socket has
		 * shown it lives long enough (FP_HOT_AFTER packets), so that a connection
		 * per request pays for neither. */
		if (!h && (!targ_sock_counters || ++f->pkts >= FP_HOT_AFTER)) {
			/* made once: a racing CPU gets the one made first, start included */
			struct sk_hot init = { .rx_acct = f->acct.bytes_received };

			h = bpf_sk_storage_get(&sk_hot, bsk, &init, BPF_SK_STORAGE_GET_F_CREATE);
		}
	}
	s = stats_of(svc, kind);
	if (!s)
		return 1;
	if (!targ_sock_counters) {
		/* A GSO/GRO skb carries the headers once and gso_segs segments. */
		if (dir == FP_TX && hdr && skb->len > hdr)
			fp_add(&s->bytes[FP_TX], skb->len - hdr);
		if (h)
			rx_advance(h, bsk, s);
		else if (dir == FP_RX && hdr && skb->len > hdr) /* no socket storage */
			fp_add(&s->bytes[FP_RX], skb->len - hdr);
		fp_add(&s->segs[dir], skb->gso_segs ?: 1);
	}
	if (h && !h->settled) {
		h->svc = svc;
		h->kind = kind;
		/* A client's kind changes once, when its server end on this host turns
		 * ESTABLISHED. Nothing but a SYN-ACK reaches the client before that, so the
		 * first other inbound segment settles it; other kinds never change. */
		if (kind != FP_KIND_CLIENT || (dir == FP_RX && hdr && !(flags & TCPHDR_SYN)))
			h->settled = 1;
	}
	if (dir == FP_RX) {
		if (targ_sndq_svcs && svc < FP_MAX_SERVICES && (targ_sndq_svcs & (1u << svc)) && hdr)
			note_sndq(skb, bsk, flags, ip_len);
		if (h)
			sample_rtt(&h->next_rtt_ns, s, bsk);
		else if (f)
			sample_rtt(&f->next_rtt_ns, s, bsk);
	}
	return 1;
}

SEC("cgroup_skb/egress")
int count_egress(struct __sk_buff *skb)
{
	return count_skb(skb, FP_TX);
}

SEC("cgroup_skb/ingress")
int count_ingress(struct __sk_buff *skb)
{
	return count_skb(skb, FP_RX);
}

/*
 * targ_sock_counters: run by userspace at each scrape over the flow table, it brings each
 * live socket's counters into svc_stats (the close brings the rest). Every context and
 * netns alike: the key is the socket's address. A flow removed since the iterator took
 * it may name memory that another socket reuses (TCP sockets are SLAB_TYPESAFE_BY_RCU),
 * so the flow is looked up again after the read: the same connection, or nothing.
 */
SEC("iter/bpf_map_elem")
int account_flows(struct bpf_iter__bpf_map_elem *ctx)
{
	struct fp_flow *seen = ctx->value, *f;
	struct fp_sock_acct now;
	__u64 *key = ctx->key, k;

	if (!key || !seen)
		return 0;
	k = *key;
	sock_counters((const struct tcp_sock *)k, &now, false);
	f = bpf_map_lookup_elem(&flows, &k);
	if (!f || f->start_ns != seen->start_ns)
		return 0;
	sock_account(f, &now);
	return 0;
}

/*
 * targ_sock_counters where iterators are refused: the daemon reads each live flow's
 * socket through sock_diag (tcp_info, the same tcp_sock fields) after taking the flow's
 * start_ns from the table, writes the readings to diag_recs and runs this program. A
 * flow still there with that start_ns is the connection that was read: its socket
 * lived from before the read to now, and no other socket had its 4-tuple in its netns
 * meanwhile. Anything else (closed since: the close brought its counters) is skipped.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE); /* the daemon writes the records in place */
	__uint(max_entries, FP_DIAG_BATCH);
	__type(key, __u32);
	__type(value, struct fp_diag_rec);
} diag_recs SEC(".maps");

static long diag_one(__u32 i, void *ctx)
{
	struct fp_diag_rec *r = bpf_map_lookup_elem(&diag_recs, &i);
	__u32 *accounted = ctx;
	struct fp_flow *f;

	if (!r)
		return 1;
	f = bpf_map_lookup_elem(&flows, &r->sk);
	if (f && f->start_ns == r->start_ns) {
		sock_account(f, &r->acct);
		(*accounted)++;
	}
	return 0;
}

SEC("syscall")
int account_diag(struct fp_diag_args *a)
{
	__u32 n = a->n, accounted = 0;

	if (n > FP_DIAG_BATCH)
		n = FP_DIAG_BATCH;
	bpf_loop(n, diag_one, &accounted, 0);
	a->accounted = accounted;
	return 0;
}

/* ---- retransmissions ----------------------------------------------------------------- */

/* The stats of a socket without a flow, by its ports. */
static __always_inline struct fp_svc_stats *stats_by_ports(__u16 lport, __u16 rport)
{
	struct cls_ctx c = {};
	__u8 kind, svc;

	svc = fp_classify(lport, rport, &c, &kind);
	return stats_of(svc, kind);
}

/*
 * __tcp_retransmit_skb adds tcp_skb_pcount(skb) to TCP_MIB_RETRANSSEGS once the skb is
 * cut to the current MSS, just before transmitting: one GSO skb, many segments, so the
 * count comes from the skb's control block; and skb->len to the socket's bytes_retrans
 * (tcp_info), which the transmit leaves as it was (it sends a clone). Since Linux 6.17
 * the tracepoint also fires for retransmits that bailed out *before* that point (goto
 * out with EBUSY when the original is still in the host queue, EAGAIN for a closed
 * window, EINVAL, EHOSTUNREACH, ENOMEM): those are not retransmitted segments. Errors
 * from the transmit itself (ENOBUFS from the qdisc, ...) come after the count and are
 * kept.
 */
static __always_inline bool retrans_counted(int err)
{
	return err != -16 /* EBUSY */ && err != -11 /* EAGAIN */ && err != -22 /* EINVAL */ &&
	       err != -113 /* EHOSTUNREACH */ && err != -12 /* ENOMEM */;
}

static __always_inline int on_retransmit(const struct sock *sk, const struct sk_buff *skb,
					 int err)
{
	const struct tcp_skb_cb *cb;
	struct fp_svc_stats *s;
	__u64 key = (__u64)sk;
	struct fp_flow *f;
	__u16 segs;

	f = sk ? bpf_map_lookup_elem(&flows, &key) : 0;
	if (f) {
		/* with targ_sock_counters the iterator and the close bring them */
		if (!targ_sock_counters)
			retrans_account(f, BPF_CORE_READ((const struct tcp_sock *)sk, bytes_retrans),
					BPF_CORE_READ((const struct tcp_sock *)sk, total_retrans));
		return 0;
	}
	if (!retrans_counted(err))
		return 0;
	s = stats_by_ports(BPF_CORE_READ(sk, __sk_common.skc_num),
			   bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport)));
	if (!s)
		return 0;
	cb = (const void *)skb + bpf_core_field_offset(struct sk_buff, cb);
	segs = BPF_CORE_READ(cb, tcp_gso_segs);
	fp_add(&s->retrans_segs, segs ?: 1);
	fp_add(&s->retrans_bytes, BPF_CORE_READ(skb, len));
	return 0;
}

SEC("tracepoint/tcp/tcp_retransmit_skb")
int handle_retransmit(void *ctx)
{
	if (bpf_core_type_exists(struct trace_event_raw_tcp_retransmit_skb)) {
		struct trace_event_raw_tcp_retransmit_skb *n = ctx;
		int err = 0;

		if (bpf_core_field_exists(n->err))
			err = BPF_CORE_READ(n, err);
		return on_retransmit(BPF_CORE_READ(n, skaddr), BPF_CORE_READ(n, skbaddr), err);
	}
	struct trace_event_raw_tcp_event_sk_skb___old *o = ctx;

	/* before 6.17 only successful retransmits were traced */
	return on_retransmit(BPF_CORE_READ(o, skaddr), BPF_CORE_READ(o, skbaddr), 0);
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(handle_retransmit_btf, const struct sock *sk, const struct sk_buff *skb)
{
	int err = 0;

	/* The err argument exists where the tracepoint has its own event class. */
	if (bpf_core_type_exists(struct trace_event_raw_tcp_retransmit_skb))
		err = (int)ctx[2];
	return on_retransmit(sk, skb, err);
}

/* tcp_rtx_synack counts one RETRANSSEGS per successful SYN-ACK resend; sk = listener. */
static __always_inline int on_retransmit_synack(const struct sock *sk, __u16 family, __u16 sport,
						__u16 dport, bool direct)
{
	struct fp_listener_key k = { .netns = sk_netns(sk, direct), .port = sport,
				     .family = family };
	struct fp_listener *l = bpf_map_lookup_elem(&listeners, &k);
	struct fp_svc_stats *s;

	s = l ? stats_of(l->svc, FP_KIND_SERVER) : stats_by_ports(sport, dport);
	if (s)
		fp_add(&s->retrans_segs, 1);
	return 0;
}

SEC("tracepoint/tcp/tcp_retransmit_synack")
int handle_retransmit_synack(struct trace_event_raw_tcp_retransmit_synack *ctx)
{
	return on_retransmit_synack(BPF_CORE_READ(ctx, skaddr), BPF_CORE_READ(ctx, family),
				    BPF_CORE_READ(ctx, sport), BPF_CORE_READ(ctx, dport), false);
}

/* The tracepoint's ports: the request's local port (host order) and remote port. */
SEC("tp_btf/tcp_retransmit_synack")
int BPF_PROG(handle_retransmit_synack_btf, const struct sock *sk, const struct request_sock *req)
{
	return on_retransmit_synack(sk, sk->__sk_common.skc_family, req->__req_common.skc_num,
				    bpf_ntohs(req->__req_common.skc_dport), true);
}

/* ---- closes no lifecycle run saw ----------------------------------------------------- */

/*
 * A socket destroyed with its flow still in the table: the kernel skipped the lifecycle
 * run that would have seen its CLOSE (recursion_misses: a softirq's transition on a CPU
 * where handle_set_state_btf was already running for another socket, in task context).
 * With the kernel's counters that run is where a closed socket's counts since the last
 * scrape are read: the socket still holds them here (tcp_v4_destroy_sock traces first),
 * so the flow is closed now, as at CLOSE, and a skipped run costs no connection its
 * counts. A listener still counted goes the same way. Every other socket pays the two
 * port reads.
 */
static __always_inline int on_destroy(const struct sock *sk, bool direct)
{
	/* the local port from inet_sport: CLOSE gave the bound port back (skc_num 0) */
	__u16 sport = bpf_ntohs(BPF_CORE_READ((const struct inet_sock *)sk, inet_sport));
	__u16 dport = bpf_ntohs(SK_FIELD(direct, sk, __sk_common.skc_dport));
	__u64 key = (__u64)sk;
	struct fp_flow *f;

	if (!(port_mask(sport) | port_mask(dport)))
		return 0;
	/* the state it left is unknown: a flow never established is only taken out */
	f = bpf_map_lookup_elem(&flows, &key);
	if (f)
		close_flow(sk, f, TCP_CLOSE, direct);
	/* a listener's, likewise; only a socket without a peer port ever listened */
	else if (!dport && bpf_map_lookup_elem(&listen_socks, &key))
		on_unlisten(sk, sport, SK_FIELD(direct, sk, __sk_common.skc_family), direct);
	return 0;
}

SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(handle_destroy_sock_btf, const struct sock *sk)
{
	return on_destroy(sk, true);
}

SEC("tracepoint/tcp/tcp_destroy_sock")
int handle_destroy_sock(struct trace_event_raw_tcp_event_sk *ctx)
{
	return on_destroy(BPF_CORE_READ(ctx, skaddr), false);
}

/* ---- resets ------------------------------------------------------------------------ */

static __always_inline int on_receive_reset(const struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct fp_svc_stats *s;
	struct fp_flow *f;

	f = bpf_map_lookup_elem(&flows, &key);
	if (!f)
		return 0;
	s = stats_of(f->svc, f->kind);
	if (s)
		fp_add(&s->resets[FP_RX], 1);
	emit(f, key, FP_EV_RESET, FP_RX, 0, 0, 0, 0);
	return 0;
}

SEC("tracepoint/tcp/tcp_receive_reset")
int handle_receive_reset(struct trace_event_raw_tcp_event_sk *ctx)
{
	return on_receive_reset(BPF_CORE_READ(ctx, skaddr));
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(handle_receive_reset_btf, const struct sock *sk)
{
	return on_receive_reset(sk);
}

SEC("tracepoint/tcp/tcp_send_reset")
int handle_send_reset(void *ctx)
{
	struct trace_event_raw_tcp_send_reset *n = ctx;
	struct trace_event_raw_tcp_send_reset___old *o = ctx;
	struct trace_event_raw_tcp_event_sk_skb___old *cls = ctx;
	bool own_class = bpf_core_type_exists(struct trace_event_raw_tcp_send_reset);
	const struct sock *sk;
	struct fp_svc_stats *s;
	struct cls_ctx c = {};
	struct fp_flow *f;
	__u16 lport, rport;
	__u8 kind, svc;
	__u64 key;

	/*
	 * Each layout's reads stay inside its branch: the field offsets of both types are
	 * the same before relocation, and clang would otherwise compute the address once,
	 * above the branch, where the relocation the running kernel cannot resolve (libbpf
	 * poisons it) is reached. barrier_var makes the pointer opaque from there on.
	 */
	if (own_class) {
		barrier_var(n);
		sk = BPF_CORE_READ(n, skaddr);
	} else {
		barrier_var(cls);
		sk = BPF_CORE_READ(cls, skaddr);
	}
	key = (__u64)sk;
	f = sk ? bpf_map_lookup_elem(&flows, &key) : 0;
	if (f) {
		s = stats_of(f->svc, f->kind);
		if (s)
			fp_add(&s->resets[FP_TX], 1);
		emit(f, key, FP_EV_RESET, FP_TX, 0, 0, 0, 0);
		return 0;
	}
	/* No full socket (closed port, TIME_WAIT, request sock): the tracepoint already
	 * reversed the offending skb's tuple, so saddr is this host's end. */
	if (!own_class) {
		barrier_var(cls);
		lport = BPF_CORE_READ(cls, sport);
		rport = BPF_CORE_READ(cls, dport);
	} else if (bpf_core_field_exists(o->sport)) {
		barrier_var(o);
		lport = BPF_CORE_READ(o, sport);
		rport = BPF_CORE_READ(o, dport);
	} else {
		__u8 a[4];

		barrier_var(n);
		/* sin_port and sin6_port both sit at offset 2, network order */
		BPF_CORE_READ_INTO(&a, n, saddr);
		lport = (__u16)a[2] << 8 | a[3];
		BPF_CORE_READ_INTO(&a, n, daddr);
		rport = (__u16)a[2] << 8 | a[3];
	}
	svc = fp_classify(lport, rport, &c, &kind);
	s = stats_of(svc, kind);
	if (s)
		fp_add(&s->resets[FP_TX], 1);
	return 0;
}

/* ---- drops ------------------------------------------------------------------------- */

/* The tuple of a socketless skb from its headers (e.g. an inbound packet that netfilter
 * dropped before socket lookup), oriented as sent: laddr/lport = the packet's source. */
static __always_inline bool skb_tuple(const struct sk_buff *skb, struct fp_tuple_key *t,
				      __u8 *flags)
{
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 nh = BPF_CORE_READ(skb, network_header);
	__u16 proto = bpf_ntohs(BPF_CORE_READ(skb, protocol));
	/* One read of the headers: an IPv6 header or an IPv4 one without options, and the
	 * TCP header's first 14 bytes (ports, flags). The linear area holds them, and the
	 * head's allocation ends in skb_shared_info, past any short packet's bytes. */
	__u8 h[60];
	const __u8 *tcp;

	if (nh == (__u16)~0U || bpf_probe_read_kernel(h, sizeof(h), head + nh))
		return false;
	if (proto == ETH_P_IP) {
		__u32 ihl = (h[0] & 0x0f) * 4;

		if (h[9] != IPPROTO_TCP || ihl < 20)
			return false;
		__builtin_memcpy(t->laddr, h + 12, 4);
		__builtin_memcpy(t->raddr, h + 16, 4);
		t->family = AF_INET;
		tcp = h + 20;
		if (ihl != 20) { /* options: the TCP header starts further */
			if (bpf_probe_read_kernel(h, 14, head + nh + ihl))
				return false;
			tcp = h;
		}
	} else if (proto == ETH_P_IPV6) {
		if (h[6] != IPPROTO_TCP)
			return false;
		__builtin_memcpy(t->laddr, h + 8, 16);
		__builtin_memcpy(t->raddr, h + 24, 16);
		t->family = AF_INET6;
		tcp = h + 40;
	} else {
		return false;
	}
	t->lport = (__u16)tcp[0] << 8 | tcp[1];
	t->rport = (__u16)tcp[2] << 8 | tcp[3];
	/* byte 13 of the TCP header holds the flags */
	if (flags)
		*flags = tcp[13];
	return true;
}

static __always_inline __u8 svc_of_sock(__u64 sk)
{
	struct fp_flow *f = bpf_map_lookup_elem(&flows, &sk);

	return f ? f->svc : FP_SVC_NONE;
}

/* A dropped skb's service by the local and remote ports of its end on this host: the
 * listener of the local port in netns, else the classification rule (with sk's cgroup
 * when there is a socket to take it from). */
static __always_inline __u8 svc_by_ports(__u32 netns, __u16 lport, __u16 rport, __u16 family,
					 const struct sock *sk)
{
	struct fp_listener *l = listener_find(netns, lport, family);
	struct cls_ctx c = {};
	__u8 kind;

	if (l)
		return l->svc;
	if (sk)
		c.cg = sock_cgroup(sk);
	return fp_classify(lport, rport, &c, &kind);
}

/*
 * Service of a dropped skb's socket when it has no flow (a socket closed already, as
 * when its receive queue is purged at destruction, or one of no service): by its own
 * ports, as its flow was classified (the listener of its local port, else the ports and
 * its cgroup). A socket of no service costs two array reads and no header read. False
 * for a request or time-wait socket (what they share with a full one ends before the
 * protocol): the headers say then.
 */
static __always_inline bool svc_of_sock_ports(const struct sock *sk, __u8 *svc, bool direct)
{
	__u16 family = SK_FIELD(direct, sk, __sk_common.skc_family), lport, rport;
	__u8 state = SK_FIELD(direct, sk, __sk_common.skc_state);

	*svc = FP_SVC_NONE;
	if (family != AF_INET && family != AF_INET6)
		return true;
	if (state == TCP_TIME_WAIT || state == TCP_NEW_SYN_RECV)
		return false;
	if (SK_FIELD(direct, sk, sk_protocol) != IPPROTO_TCP)
		return true;
	/* not skc_num: a socket gone to CLOSE released its port (inet_put_port zeroes it);
	 * inet_sport lies past struct sock, read always */
	lport = bpf_ntohs(BPF_CORE_READ((const struct inet_sock *)sk, inet_sport));
	rport = bpf_ntohs(SK_FIELD(direct, sk, __sk_common.skc_dport));
	if (port_mask(lport) | port_mask(rport))
		*svc = svc_by_ports(sk_netns(sk, direct), lport, rport, family, sk);
	return true;
}

/*
 * Service of a dropped skb without a socket: the connection it belongs to (either
 * direction), else the listener its destination port reaches in the device's
 * namespace, else the ports alone (a service with comm/cgroup matchers then cannot
 * match: there is no task or socket to test them against).
 */
static __always_inline __u8 svc_of_headers(const struct sk_buff *skb)
{
	struct fp_tuple_key t = {}, r = {};
	__u64 *sk;
	__u8 svc;

	if (!skb_tuple(skb, &t, 0))
		return FP_SVC_NONE;
	sk = bpf_map_lookup_elem(&tuples, &t);
	if (sk && (svc = svc_of_sock(*sk)) != FP_SVC_NONE)
		return svc;
	__builtin_memcpy(r.laddr, t.raddr, 16);
	__builtin_memcpy(r.raddr, t.laddr, 16);
	r.lport = t.rport;
	r.rport = t.lport;
	r.family = t.family;
	sk = bpf_map_lookup_elem(&tuples, &r);
	if (sk && (svc = svc_of_sock(*sk)) != FP_SVC_NONE)
		return svc;
	return svc_by_ports(BPF_CORE_READ(skb, dev, nd_net.net, ns.inum), t.rport, t.lport,
			    t.family, 0);
}

/*
 * Before Linux 6.10 tcp_send_reset fired only for full sockets (tcp_v{4,6}_send_reset
 * traced "if (sk && sk_fullsock(sk))"): the RST answering a segment that reached no
 * socket was invisible there. That segment is then freed with NO_SOCKET by
 * tcp_v{4,6}_rcv right after the reset went out, unless it was a RST itself (never
 * answered) or failed its checksum (freed as TCP_CSUM instead): count the reset here.
 */
static __always_inline void socketless_reset(const struct sk_buff *skb)
{
	struct fp_tuple_key t = {};
	struct fp_svc_stats *s;
	struct cls_ctx c = {};
	__u8 flags, kind, svc;

	if (!skb_tuple(skb, &t, &flags) || (flags & 0x04 /* RST */))
		return;
	/* the segment's destination is this host's end */
	svc = fp_classify(t.rport, t.lport, &c, &kind);
	s = stats_of(svc, kind);
	if (s)
		fp_add(&s->resets[FP_TX], 1);
}

/* direct: skb is a BTF pointer (tp_btf), its socket then too: plain loads */
static __always_inline int on_drop(void *ctx, const struct sk_buff *skb, __u32 reason,
				   bool direct)
{
	const struct sock *sk;
	__u32 slot = FP_MAX_SERVICES, idx;
	__u8 svc = FP_SVC_NONE;
	__u64 *v;

	/* SKB_NOT_DROPPED_YET and SKB_CONSUMED are normal frees, not drops. SKB_CONSUMED is
	 * the running kernel's: before it existed (Linux 6.1) its value was
	 * SKB_DROP_REASON_NOT_SPECIFIED's, a drop. */
	if (reason <= (bpf_core_enum_value_exists(enum skb_drop_reason, SKB_CONSUMED) ?
			       bpf_core_enum_value(enum skb_drop_reason, SKB_CONSUMED) :
			       SKB_NOT_DROPPED_YET))
		return 0;
	if (!bpf_core_type_exists(struct trace_event_raw_tcp_send_reset) &&
	    reason == bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_NO_SOCKET))
		socketless_reset(skb);
	sk = direct ? skb->sk : BPF_CORE_READ(skb, sk);
	if (!sk && !direct &&
	    bpf_core_field_exists(((struct trace_event_raw_kfree_skb___new *)ctx)->rx_sk))
		sk = BPF_CORE_READ((struct trace_event_raw_kfree_skb___new *)ctx, rx_sk);
	if (!sk ||
	    ((svc = svc_of_sock((__u64)sk)) == FP_SVC_NONE && !svc_of_sock_ports(sk, &svc, direct)))
		svc = svc_of_headers(skb);
	if (svc < FP_MAX_SERVICES)
		slot = svc;
	barrier_var(slot);
	if (slot > FP_MAX_SERVICES)
		return 0;
	if (!drop_slots[slot])
		drop_slots[slot] = 1;
	/* Subsystem reasons (high 16 bits) share the last slot. */
	idx = slot * FP_DROP_REASONS + (reason < FP_DROP_REASONS ? reason : FP_DROP_REASONS - 1);
	v = bpf_map_lookup_elem(&drop_stats, &idx);
	if (v)
		fp_add(v, 1);
	return 0;
}

SEC("tracepoint/skb/kfree_skb")
int handle_kfree_skb(struct trace_event_raw_kfree_skb *ctx)
{
	return on_drop(ctx, BPF_CORE_READ(ctx, skbaddr), BPF_CORE_READ(ctx, reason), false);
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(handle_kfree_skb_btf, struct sk_buff *skb, void *location,
	     enum skb_drop_reason reason)
{
	return on_drop(0, skb, reason, true);
}
