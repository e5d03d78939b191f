/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The per-socket flow table and the flows of sockets gone to CLOSE, defined once for
 * all objects: bpf/tcp.bpf.c owns them, bpf/l7.bpf.c and bpf/tls.bpf.c read them
 * (userspace hands them the same maps with bpf_map__reuse_fd).
 */
#ifndef FOGPROBE_FLOWS_BPF_H
#define FOGPROBE_FLOWS_BPF_H

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, FP_MAX_FLOWS);
	__type(key, __u64);
	__type(value, struct fp_flow);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, FP_GONE_FLOWS);
	__type(key, __u64);
	__type(value, struct fp_flow_ref);
} gone_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, FP_MAX_SNDQ);
	__type(key, __u64);
	__type(value, struct fp_sndq);
} sndq_now SEC(".maps");

/* Keep the send queue of socket sk: write_seq - una (snd_una, or an inbound segment's
 * acknowledgment number not yet processed, see tcp.bpf.c count_skb). */
static __always_inline void sndq_store(__u64 sk, __u64 start_ns, __u32 write_seq, __u32 una)
{
	struct fp_sndq v = { .start_ns = start_ns, .sndq = write_seq - una };

	bpf_map_update_elem(&sndq_now, &sk, &v, BPF_ANY);
}

/* A read or write of sk (tracing programs): its send queue now, returned, and kept when
 * asked (no iterator reads it at the scrape). */
static __always_inline __u32 sndq_sample(__u64 sk, __u64 start_ns, bool keep)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	__u32 w = BPF_CORE_READ(tp, write_seq), u = BPF_CORE_READ(tp, snd_una);

	if (keep)
		sndq_store(sk, start_ns, w, u);
	return w - u;
}

/*
 * The flow of socket sk as the L7 capture needs it: from the flow table while the socket
 * lives, else from gone_flows (the last reads and writes of a connection closed by the
 * peer). False for a socket of no service.
 */
static __always_inline bool flow_ref(__u64 sk, struct fp_flow_ref *r)
{
	struct fp_flow *f = bpf_map_lookup_elem(&flows, &sk);
	struct fp_flow_ref *g;

	if (f) {
		r->start_ns = f->start_ns;
		r->svc = f->svc;
		r->kind = f->kind;
		return true;
	}
	/* only a closed socket has a flow there: an open socket of no service stops here */
	if (BPF_CORE_READ((struct sock *)sk, __sk_common.skc_state) != TCP_CLOSE)
		return false;
	g = bpf_map_lookup_elem(&gone_flows, &sk);
	/* every new TCP socket at this address removed it; memory reused for another kind
	 * of socket would not have */
	if (!g || BPF_CORE_READ((struct sock *)sk, sk_protocol) != IPPROTO_TCP)
		return false;
	*r = *g;
	return true;
}

#endif
