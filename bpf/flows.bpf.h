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
	g = bpf_map_lookup_elem(&gone_flows, &sk);
	/* every new TCP socket at this address removed it; memory reused for another kind
	 * of socket would not have */
	if (!g || BPF_CORE_READ((struct sock *)sk, sk_protocol) != IPPROTO_TCP)
		return false;
	*r = *g;
	return true;
}

#endif
