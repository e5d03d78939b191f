// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <proc.h> /* include/proc.h: the process maps this object owns */
#include "collect/tcp.h"
#include "collect/probe.h"
#include "collect/proc.h"
#include "collect/services.h"
#include "collect/sockdiag.h"
#include "lib/log.h"
#include "tcp.skel.h"

_Static_assert(sizeof(struct fp_svc_match) == 80, "fp_svc_match layout");
_Static_assert(sizeof(struct fp_flow) == 136, "fp_flow layout");
_Static_assert(sizeof(struct fp_listener_key) == 8, "fp_listener_key layout");
_Static_assert(sizeof(struct fp_listener) == 40, "fp_listener layout");
_Static_assert(sizeof(struct fp_tuple_key) == 40, "fp_tuple_key layout");
_Static_assert(sizeof(struct fp_conn_event) == 144, "fp_conn_event layout");
_Static_assert(sizeof(struct fp_svc_stats) % 8 == 0, "fp_svc_stats layout");
_Static_assert(sizeof(struct fp_diag_rec) == 56, "fp_diag_rec layout");

/* Best hook first. tp_btf reads the kernel's structs directly (no tracefs buffer copy). */
static const struct hook_feature features[] = {
	/* tp_btf first: the classic tracepoints are skipped while any perf-event program
	 * runs on the CPU (bpf/tcp.bpf.c, handle_set_state_btf) */
	{ "lifecycle",
	  true,
	  { { "tp_btf/inet_sock_set_state", { "handle_set_state_btf" } },
	    { "tracepoint/sock/inet_sock_set_state", { "handle_set_state" } } } },
	/* A flow still there when its socket is destroyed: the close of a lifecycle run
	 * the kernel skipped (bpf/tcp.bpf.c, on_destroy) */
	{ "closes_missed",
	  false,
	  { { "tp_btf/tcp_destroy_sock", { "handle_destroy_sock_btf" } },
	    { "tracepoint/tcp/tcp_destroy_sock", { "handle_destroy_sock" } } } },
	/* Sent bytes come with the socket counters wherever those are the kernel's: no
	 * program then runs for outbound packets (tcp_follow_counters keeps the two
	 * choices equal; the egress program only where the counting is per packet, or
	 * for per-cgroup bytes). */
	{ "throughput_tx",
	  true,
	  { { "iter/bpf_map_elem", { "account_flows" } },
	    { "syscall/sock_diag", { "account_diag" } },
	    { "cgroup_skb/egress", { "count_egress" } } } },
	{ "throughput_rx", true, { { "cgroup_skb/ingress", { "count_ingress" } } } },
	/* Bytes, segments and retransmits of service sockets: the kernel's own per-socket
	 * counters (tcp_info), brought in at each scrape by an iterator over the flow table,
	 * else by the daemon through sock_diag (handed to a BPF_PROG_TYPE_SYSCALL program),
	 * and by the lifecycle hook at close; else counted per packet by the programs above
	 * (and the retransmit hooks below). */
	{ "socket_counters",
	  false,
	  { { "iter/bpf_map_elem", { "account_flows" } },
	    { "syscall/sock_diag", { "account_diag" } },
	    { "cgroup_skb/{egress,ingress}", { "count_egress" } } } },
	{ "retransmits",
	  false,
	  { { "tp_btf/tcp_retransmit_skb", { "handle_retransmit_btf" } },
	    { "tracepoint/tcp/tcp_retransmit_skb", { "handle_retransmit" } } } },
	{ "synack_retransmits",
	  false,
	  { { "tp_btf/tcp_retransmit_synack", { "handle_retransmit_synack_btf" } },
	    { "tracepoint/tcp/tcp_retransmit_synack", { "handle_retransmit_synack" } } } },
	{ "resets_rx",
	  false,
	  { { "tp_btf/tcp_receive_reset", { "handle_receive_reset_btf" } },
	    { "tracepoint/tcp/tcp_receive_reset", { "handle_receive_reset" } } } },
	{ "resets_tx", false, { { "tracepoint/tcp/tcp_send_reset", { "handle_send_reset" } } } },
	/* RTT is sampled by the ingress program (tp->srtt_us, once per round trip). */
	{ "rtt", false, { { "cgroup_skb/ingress", { "count_ingress" } } } },
	{ "drops",
	  false,
	  { { "tp_btf/kfree_skb", { "handle_kfree_skb_btf" } },
	    { "tracepoint/skb/kfree_skb", { "handle_kfree_skb" } } } },
};
#define N_FEATURES (sizeof(features) / sizeof(features[0]))

struct tcp_collector {
	struct tcp_bpf *skel;
	struct ring_buffer *rb;
	struct bpf_link *links[N_FEATURES];
	struct hook hooks[N_FEATURES];
	int cgroup_fd;
	int stats_fd; /* BPF_ENABLE_STATS: run time is measured while this is open */
	int ncpu;
	bool cgroup_net;
	struct collector_sinks sinks;
	char *reason_names[FP_DROP_REASONS];
	const char *reason_view[FP_DROP_REASONS]; /* every code named (tcp_snapshot) */
	__u64 lost[FP_LOST_SLOTS]; /* as of the last tcp__read */
	__u64 flows_live;
	__u64 flows_inserted, flows_deleted; /* read before and after the walk that counted
					       * flows_live */
	__u64 evicted_max; /* inserted - deleted - live is read racily: kept monotonic */
	struct fp_svc_stats raw_stats[FP_MAX_SERVICES * FP_KINDS]; /* tcp__read's buffer */
	struct cgroup_net *cg; /* the last tcp__read_cgroups() */
	size_t n_cg;
	struct bpf_link *counters_iter; /* account_flows, when socket_counters chose it */
	/* socket_counters through sock_diag: account_diag and its records */
	struct sockdiag *diag;
	int diag_prog_fd;
	struct fp_diag_rec *diag_recs; /* diag_recs, mapped */
	size_t diag_map_len;
	struct diag_flow *diag_flows;
	size_t n_diag_flows, cap_diag_flows;
	__u64 diag_read, diag_accounted; /* sockets read, records that moved a flow */
	__u16 *diag_ports; /* the services' ports: the dump's filter */
	size_t n_diag_ports;
	/* older_socks: sockets older than the probe read at start (and reload), and those
	 * the map had no room for (their sends before their first inbound segment are not
	 * counted) */
	__u64 older_kept, older_lost;
	bool diag_ok; /* sock_diag reaches the counters (sockdiag__available, asked once) */
};

size_t tcp__plan(struct hook *hooks, size_t max, const char *disable)
{
	return probe__plan(features, N_FEATURES, hooks, max, disable);
}

static int handle_event(void *ctx, void *data, size_t size)
{
	struct tcp_collector *c = ctx;

	const struct fp_conn_event *r = data;
	struct conn_event e;

	if (size < sizeof(*r) || !c->sinks.conn)
		return 0;
	e = (struct conn_event){
		.type = r->type,
		.svc = r->svc < FP_MAX_SERVICES ? r->svc : -1,
		.end = r->kind < FP_KINDS ? (enum tcp_end)r->kind : TCP_END_CLIENT,
		.key = streams__key(r->sk, r->conn_start),
		.ts_ns = r->ts_ns,
		.duration_ns = r->duration_ns,
		.pid = r->pid,
		.cgroup_id = r->cgroup_id,
		.local_client = r->type == FP_EV_OPEN && r->reason == FP_OPEN_LOCAL_PEER,
		.client_cgroup_id = r->peer_cgroup_id,
		.sk = r->sk,
		.conn_start = r->conn_start,
		.netns = r->netns,
		.lport = r->lport,
		.rport = r->rport,
		.sk_err = r->sk_err,
		.reason = r->reason,
		.family = r->family,
		.bytes_sent = r->bytes_sent,
		.bytes_received = r->bytes_received,
		.retrans_segs = r->retrans_segs,
		.srtt_us = r->srtt_us,
		.peer = { .family = r->family },
	};
	memcpy(e.peer.addr, r->raddr, sizeof(e.peer.addr));
	memcpy(e.comm, r->comm, FP_COMM_LEN);
	e.comm[FP_COMM_LEN] = '\0';
	c->sinks.conn(c->sinks.ctx, &e);
	return 0;
}

static void load_reason_names(struct tcp_collector *c)
{
	const struct btf_type *t;
	const struct btf_enum *e;
	struct btf *btf;
	int id, i;

	btf = btf__load_vmlinux_btf();
	if (!btf)
		return;
	id = btf__find_by_name_kind(btf, "skb_drop_reason", BTF_KIND_ENUM);
	if (id > 0) {
		t = btf__type_by_id(btf, id);
		e = btf_enum(t);
		for (i = 0; i < btf_vlen(t); i++, e++) {
			const char *name = btf__name_by_offset(btf, e->name_off);

			if ((unsigned)e->val >= FP_DROP_REASONS || !name)
				continue;
			if (!strncmp(name, "SKB_DROP_REASON_", 16))
				name += 16;
			else if (!strncmp(name, "SKB_", 4))
				name += 4;
			free(c->reason_names[e->val]);
			c->reason_names[e->val] = strdup(name);
		}
	}
	btf__free(btf);
}

const char *tcp__drop_reason_name(const struct tcp_collector *c, unsigned reason)
{
	if (reason >= FP_DROP_REASONS)
		reason = FP_DROP_REASONS - 1;
	if (c->reason_names[reason])
		return c->reason_names[reason];
	return reason == FP_DROP_REASONS - 1 ? "SUBSYSTEM" : "UNKNOWN";
}

/* The plan's entry for a feature of features[]. */
static struct hook *hook_named(struct tcp_collector *c, const char *feature)
{
	size_t i;

	for (i = 0; i < N_FEATURES; i++)
		if (!strcmp(c->hooks[i].feature, feature))
			return &c->hooks[i];
	return NULL;
}

/* No hook, or a cgroup_skb program: the feature is served per packet. */
static bool per_packet_hook(const struct hook *h)
{
	return !h || h->chosen < 0 || !strncmp(h->hook[h->chosen], "cgroup_skb/", 11);
}

/* Sent bytes are counted per packet: the egress program is throughput_tx's hook. */
static bool tx_per_packet(struct tcp_collector *c)
{
	return per_packet_hook(hook_named(c, "throughput_tx"));
}

struct older_sweep {
	struct tcp_collector *c;
	int fd; /* older_socks */
	int tuples; /* a socket with a flow is in it (reload): no baseline is kept */
};

/* A socket's counters as sock_diag read them, as the BPF side keeps them. */
static struct fp_sock_acct diag_acct(const struct diag_sock *s)
{
	return (struct fp_sock_acct){
		.bytes_sent = s->bytes_sent,
		/* the peer's FIN, once received, is in bytes_received: as payload_received()
		 * takes it out (tcp_fin() sets SOCK_DONE before the state moves on, under the
		 * socket's lock) */
		.bytes_received = s->bytes_received -
				  (s->bytes_received &&
				   (s->state == BPF_TCP_CLOSE_WAIT || s->state == BPF_TCP_LAST_ACK ||
				    s->state == BPF_TCP_CLOSING)),
		.bytes_retrans = s->bytes_retrans,
		.segs_out = s->segs_out,
		.segs_in = s->segs_in,
		.total_retrans = s->total_retrans,
	};
}

static void older_sock(void *ctx, uint32_t netns, const struct diag_sock *s)
{
	struct older_sweep *w = ctx;
	struct fp_older_key k = { .netns = netns };
	struct fp_sock_acct a = diag_acct(s);
	__u64 sk;

	memcpy(k.t.laddr, s->laddr, 16);
	memcpy(k.t.raddr, s->raddr, 16);
	k.t.lport = s->lport;
	k.t.rport = s->rport;
	k.t.family = s->family;
	if (!bpf_map_lookup_elem(w->tuples, &k.t, &sk))
		return;
	/* a reading kept from before stays: what was moved since is still to count */
	if (!bpf_map_update_elem(w->fd, &k, &a, BPF_NOEXIST))
		w->c->older_kept++;
	else if (errno != EEXIST)
		w->c->older_lost++;
}

/*
 * Where no egress program runs, a socket older than the probe is classified at its first
 * inbound segment, and its counters then already hold what it sent before: the sockets
 * of services are read now (sock_diag, every network namespace), before the hooks attach
 * and at a reload, and older_socks keeps their counters as the baseline. A socket in a
 * namespace that cannot be reached is counted from its first inbound segment.
 */
static void older_snapshot(struct tcp_collector *c)
{
	struct older_sweep w = { .c = c };
	unsigned unreachable = 0;
	struct sockdiag *d;
	int n;

	if (!c->skel || tx_per_packet(c) || !c->n_diag_ports)
		return;
	w.fd = bpf_map__fd(c->skel->maps.older_socks);
	w.tuples = bpf_map__fd(c->skel->maps.tuples);
	d = sockdiag__new();
	if (!d)
		return;
	n = sockdiag__ports(d, c->diag_ports, c->n_diag_ports);
	if (!n)
		n = sockdiag__dump_all(d, older_sock, &w, &unreachable);
	sockdiag__free(d);
	if (n < 0)
		pr_warn("sockets older than the probe: %s: what they send before their first "
			"inbound segment is not counted\n",
			strerror(-n));
	else if (n || unreachable)
		pr_info("sockets older than the probe: %d of services read, %llu kept in all, "
			"%u network namespaces unreachable\n",
			n, (unsigned long long)c->older_kept, unreachable);
}

int tcp__set_services(struct tcp_collector *c, const struct service_tables *t)
{
	int ports = bpf_map__fd(c->skel->maps.svc_ports);
	int match = bpf_map__fd(c->skel->maps.svc_match);
	size_t n;
	__u32 k;

	for (k = 0; k < FP_PORTS; k++) {
		/* Only touch ports that are or were configured: 64k syscalls otherwise. */
		__u32 old = 0;

		if (bpf_map_lookup_elem(ports, &k, &old))
			return -errno;
		if (old == t->port_mask[k])
			continue;
		if (bpf_map_update_elem(ports, &k, &t->port_mask[k], BPF_ANY))
			return -errno;
	}
	for (k = 0; k < FP_MAX_SERVICES; k++)
		if (bpf_map_update_elem(match, &k, &t->match[k], BPF_ANY))
			return -errno;
	n = 0;
	for (k = 0; k < FP_PORTS; k++)
		n += !!t->port_mask[k];
	free(c->diag_ports);
	c->diag_ports = calloc(n ?: 1, sizeof(*c->diag_ports));
	c->n_diag_ports = 0;
	if (!c->diag_ports)
		return -ENOMEM;
	for (k = 0; k < FP_PORTS; k++)
		if (t->port_mask[k])
			c->diag_ports[c->n_diag_ports++] = k;
	older_snapshot(c);
	return c->diag ? sockdiag__ports(c->diag, c->diag_ports, c->n_diag_ports) : 0;
}

/* ---- socket counters through sock_diag ---- */

/* What a sweep needs of a live flow: which socket to read, and which flow it was. */
struct diag_flow {
	__u64 sk;
	__u64 start_ns;
	__u32 netns;
	__u32 pid;
	__u16 lport, rport;
	__u8 family;
	__u8 pad[3];
	__u8 laddr[16], raddr[16];
};

static void diag_close(struct tcp_collector *c)
{
	if (c->diag_recs)
		munmap(c->diag_recs, c->diag_map_len);
	c->diag_recs = NULL;
	sockdiag__free(c->diag);
	c->diag = NULL;
	free(c->diag_flows);
	c->diag_flows = NULL;
	c->n_diag_flows = c->cap_diag_flows = 0;
}

static int diag_open(struct tcp_collector *c, struct bpf_program *p)
{
	struct bpf_map *m = c->skel->maps.diag_recs;
	long page = sysconf(_SC_PAGESIZE);
	void *mem;
	int err;

	c->diag_map_len = (bpf_map__value_size(m) * bpf_map__max_entries(m) + page - 1) /
			  page * page;
	mem = mmap(NULL, c->diag_map_len, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(m), 0);
	if (mem == MAP_FAILED) {
		err = -errno;
		pr_warn("socket counters: mapping diag_recs: %s\n", strerror(-err));
		return err;
	}
	c->diag = sockdiag__new();
	if (!c->diag) {
		munmap(mem, c->diag_map_len);
		return -ENOMEM;
	}
	c->diag_recs = mem;
	c->diag_prog_fd = bpf_program__fd(p);
	err = sockdiag__ports(c->diag, c->diag_ports, c->n_diag_ports);
	if (err) {
		pr_warn("socket counters: the sock_diag port filter: %s\n", strerror(-err));
		diag_close(c);
	}
	return err;
}

static int diag_cmp(const void *a, const void *b)
{
	const struct diag_flow *x = a, *y = b;

	if (x->netns != y->netns)
		return x->netns < y->netns ? -1 : 1;
	if (x->lport != y->lport)
		return x->lport < y->lport ? -1 : 1;
	if (x->rport != y->rport)
		return x->rport < y->rport ? -1 : 1;
	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	return memcmp(x->laddr, y->laddr, 32); /* laddr, then raddr */
}

/* The established flows, sorted by network namespace and 4-tuple. */
static int diag_take_flows(struct tcp_collector *c)
{
	enum { CHUNK = 256 };
	int fd = bpf_map__fd(c->skel->maps.flows);
	static __u64 keys[CHUNK];
	static struct fp_flow vals[CHUNK];
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u64 batch = 0;
	void *in = NULL;
	bool last = false;

	c->n_diag_flows = 0;
	while (!last) {
		__u32 i, count = CHUNK;

		if (bpf_map_lookup_batch(fd, in, &batch, keys, vals, &count, &opts)) {
			if (errno != ENOENT)
				return -errno;
			last = true;
		}
		in = &batch;
		for (i = 0; i < count; i++) {
			const struct fp_flow *f = &vals[i];
			struct diag_flow *d;

			if (!f->established)
				continue;
			if (c->n_diag_flows == c->cap_diag_flows) {
				size_t cap = c->cap_diag_flows ? c->cap_diag_flows * 2 : 256;
				void *p = realloc(c->diag_flows, cap * sizeof(*d));

				if (!p)
					return -ENOMEM;
				c->diag_flows = p;
				c->cap_diag_flows = cap;
			}
			d = &c->diag_flows[c->n_diag_flows++];
			*d = (struct diag_flow){ .sk = keys[i], .start_ns = f->start_ns,
						 .netns = f->netns, .pid = f->pid, .lport = f->lport,
						 .rport = f->rport, .family = f->family };
			memcpy(d->laddr, f->laddr, 16);
			memcpy(d->raddr, f->raddr, 16);
		}
	}
	qsort(c->diag_flows, c->n_diag_flows, sizeof(*c->diag_flows), diag_cmp);
	return 0;
}

struct diag_sweep {
	struct tcp_collector *c;
	__u32 netns;
	__u32 n; /* records in diag_recs */
};

static void diag_flush(struct diag_sweep *w)
{
	struct fp_diag_args a = { .n = w->n };
	LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = &a, .ctx_size_in = sizeof(a));

	if (!w->n)
		return;
	/* the program writes its context back in place */
	if (bpf_prog_test_run_opts(w->c->diag_prog_fd, &o))
		pr_debug("socket counters: account_diag: %s\n", strerror(errno));
	else
		w->c->diag_accounted += a.accounted;
	w->n = 0;
}

static void diag_sock(void *ctx, const struct diag_sock *s)
{
	struct diag_sweep *w = ctx;
	struct tcp_collector *c = w->c;
	struct diag_flow key = { .netns = w->netns, .lport = s->lport, .rport = s->rport,
				 .family = s->family };
	const struct diag_flow *f;
	struct fp_diag_rec *r;

	memcpy(key.laddr, s->laddr, 16);
	memcpy(key.raddr, s->raddr, 16);
	f = bsearch(&key, c->diag_flows, c->n_diag_flows, sizeof(key), diag_cmp);
	c->diag_read++;
	if (!f)
		return;
	r = &c->diag_recs[w->n++];
	*r = (struct fp_diag_rec){
		.sk = f->sk,
		.start_ns = f->start_ns,
		.acct = diag_acct(s),
	};
	if (w->n == FP_DIAG_BATCH)
		diag_flush(w);
}

/*
 * Bring the live sockets' counters into svc_stats through sock_diag: the flows are taken
 * first, then each network namespace they are in is dumped, and each reading is handed
 * to account_diag with the flow's start_ns. A failed dump delays the counts to the next
 * sweep or the close, losing none.
 */
static void account_diag(struct tcp_collector *c)
{
	struct diag_sweep w = { .c = c };
	size_t i;
	int err;

	err = diag_take_flows(c);
	if (err) {
		pr_debug("socket counters: reading flows: %s\n", strerror(-err));
		return;
	}
	sockdiag__begin(c->diag);
	for (i = 0; i < c->n_diag_flows; i++) {
		const struct diag_flow *f = &c->diag_flows[i];

		if (i && f->netns == c->diag_flows[i - 1].netns)
			continue;
		w.netns = f->netns;
		err = sockdiag__dump(c->diag, f->netns, f->pid, diag_sock, &w);
		if (err < 0)
			pr_debug("socket counters: network namespace %u: %s\n", f->netns,
				 strerror(-err));
	}
	diag_flush(&w);
	pr_debug("socket counters: %zu flows, %llu sockets read, %llu accounted so far\n",
		 c->n_diag_flows, (unsigned long long)c->diag_read,
		 (unsigned long long)c->diag_accounted);
}

static int attach_one(struct tcp_collector *c, size_t i)
{
	struct hook *h = &c->hooks[i];
	struct bpf_program *p;
	struct bpf_link *l;
	size_t k;

	if (h->chosen < 0) {
		if (h->required) {
			pr_warn("no usable hook for %s\n", h->feature);
			return -EOPNOTSUPP;
		}
		return 0;
	}
	/* a program serving several features is attached once */
	for (k = 0; k < i; k++)
		if (c->hooks[k].chosen >= 0 &&
		    !strcmp(c->hooks[k].program[c->hooks[k].chosen], h->program[h->chosen]))
			break;
	if (k < i) {
		h->attached = c->hooks[k].attached;
		return 0;
	}
	p = bpf_object__find_program_by_name(c->skel->obj, h->program[h->chosen]);
	if (!p)
		return -ENOENT;
	if (!strncmp(h->hook[h->chosen], "cgroup_skb/", 11)) {
		l = bpf_program__attach_cgroup(p, c->cgroup_fd);
	} else if (!strncmp(h->hook[h->chosen], "syscall/", 8)) {
		/* run by the daemon at each scrape: nothing to attach */
		h->attached = diag_open(c, p) == 0;
		if (h->attached)
			pr_info("%s: %s\n", h->feature, h->hook[h->chosen]);
		return 0;
	} else if (!strncmp(h->hook[h->chosen], "iter/", 5)) {
		union bpf_iter_link_info li = { .map.map_fd =
							bpf_map__fd(c->skel->maps.flows) };
		LIBBPF_OPTS(bpf_iter_attach_opts, io, .link_info = &li,
			    .link_info_len = sizeof(li));

		l = bpf_program__attach_iter(p, &io);
		c->counters_iter = l;
	} else {
		l = bpf_program__attach(p);
	}
	if (!l) {
		int err = -errno;

		snprintf(h->error, sizeof(h->error), "%s", strerror(-err));
		pr_warn("attaching %s (%s): %s\n", h->hook[h->chosen], h->feature,
			strerror(-err));
		return h->required ? err : 0;
	}
	c->links[i] = l;
	h->attached = true;
	pr_info("%s: %s\n", h->feature, h->hook[h->chosen]);
	return 0;
}

static int attach_hooks(struct tcp_collector *c)
{
	size_t i;
	int err;

	for (i = 0; i < N_FEATURES; i++) {
		err = attach_one(c, i);
		if (err)
			return err;
	}
	return 0;
}

static struct hook *counters_hook(struct tcp_collector *c)
{
	return hook_named(c, "socket_counters");
}

/* throughput_tx takes the hook socket_counters has, or the egress program where the
 * counting is per packet, where there is no way to the socket counters, or where
 * containers' bytes are counted per cgroup (per_packet). */
static void tx_follow_counters(struct tcp_collector *c, bool per_packet)
{
	struct hook *sc = counters_hook(c), *tx = hook_named(c, "throughput_tx");
	int j;

	if (!sc || !tx)
		return;
	/* the sockets older than the probe are read through sock_diag (older_snapshot) */
	per_packet = per_packet || per_packet_hook(sc) || !c->diag_ok;
	tx->chosen = -1;
	for (j = 0; j < tx->n; j++) {
		bool want = per_packet ? !strncmp(tx->hook[j], "cgroup_skb/", 11) :
					 !strcmp(tx->hook[j], sc->hook[sc->chosen]);

		if (want && tx->available[j] && !tx->disabled[j]) {
			tx->chosen = j;
			return;
		}
	}
}

/* The kernel's per-socket counters, not the per-packet ones, bring bytes and segments. */
static bool counters_chosen(struct tcp_collector *c)
{
	return !per_packet_hook(counters_hook(c));
}

static int load(struct tcp_collector *c, const struct tcp_collector_opts *opts)
{
	struct bpf_program *p;
	size_t i;
	int j, err;
	LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = collectors__btf_path());

	c->skel = tcp_bpf__open_opts(&oo);
	if (!c->skel)
		return -errno;
	bpf_object__for_each_program(p, c->skel->obj) bpf_program__set_autoload(p, false);
	for (i = 0; i < N_FEATURES; i++) {
		struct hook *h = &c->hooks[i];

		if (h->chosen < 0)
			continue;
		p = bpf_object__find_program_by_name(c->skel->obj, h->program[h->chosen]);
		if (p)
			bpf_program__set_autoload(p, true);
	}
	bpf_map__set_max_entries(c->skel->maps.flows, opts->max_flows ?: FP_MAX_FLOWS);
	bpf_map__set_max_entries(c->skel->maps.events, opts->ringbuf_bytes ?: FP_RINGBUF_BYTES);
	bpf_map__set_max_entries(c->skel->maps.listen_socks,
				 opts->max_listen_socks ?: FP_MAX_LISTEN_SOCKS);
	bpf_map__set_max_entries(c->skel->maps.proc_tasks,
				 opts->max_proc_tasks ?: FP_MAX_PROC_TASKS);
	bpf_map__set_max_entries(c->skel->maps.task_flags, proc__task_flag_entries());
	c->cgroup_net = opts->cgroup_net == TCP_CGROUP_NET_ON ||
			(opts->cgroup_net == TCP_CGROUP_NET_PER_PACKET && !counters_chosen(c));
	c->skel->rodata->targ_cgroup_net = c->cgroup_net;
	c->skel->rodata->targ_sndq_svcs = opts->sndq_services;
	c->skel->rodata->targ_sock_counters = counters_chosen(c);
	err = tcp_bpf__load(c->skel);
	if (!err)
		return 0;
	/* A fast hook that passed its probe can still fail to verify: fall back once. */
	for (i = 0; i < N_FEATURES; i++) {
		struct hook *h = &c->hooks[i];

		if (h->chosen >= 0 && (!strncmp(h->hook[h->chosen], "tp_btf/", 7) ||
				       !strncmp(h->hook[h->chosen], "syscall/", 8))) {
			h->available[h->chosen] = false;
			for (j = h->chosen + 1; j < h->n && !h->available[j]; j++)
				;
			h->chosen = j < h->n ? j : -1;
			err = 1;
		}
	}
	tcp_bpf__destroy(c->skel);
	c->skel = NULL;
	if (err != 1)
		return -EINVAL;
	tx_follow_counters(c, opts->cgroup_net == TCP_CGROUP_NET_ON);
	pr_info("loading with fast hooks failed, retrying with tracepoints\n");
	return load(c, opts);
}

/* Load, fill the service tables, attach. */
static int start(struct tcp_collector *c, const struct tcp_collector_opts *opts,
		 const struct service_tables *t)
{
	int err = load(c, opts);

	if (err) {
		pr_warn("loading BPF programs: %s\n", strerror(-err));
		return err;
	}
	err = tcp__set_services(c, t);
	if (err) {
		pr_warn("writing service tables: %s\n", strerror(-err));
		return err;
	}
	c->rb = ring_buffer__new(bpf_map__fd(c->skel->maps.events), handle_event, c, NULL);
	if (!c->rb)
		return -errno;
	return attach_hooks(c);
}

/* Undo start(). */
static void stop(struct tcp_collector *c)
{
	size_t i;

	for (i = 0; i < N_FEATURES; i++) {
		bpf_link__destroy(c->links[i]);
		c->links[i] = NULL;
		c->hooks[i].attached = false;
	}
	c->counters_iter = NULL;
	diag_close(c);
	ring_buffer__free(c->rb);
	c->rb = NULL;
	tcp_bpf__destroy(c->skel);
	c->skel = NULL;
}

int tcp__open(const struct tcp_collector_opts *opts, const struct service_tables *t,
	      struct tcp_collector **out)
{
	struct tcp_collector *c;
	char cgroot[256];
	unsigned i;
	int err;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->cgroup_fd = -1;
	c->stats_fd = -1;
	c->sinks = opts->sinks;
	c->ncpu = libbpf_num_possible_cpus();
	if (c->ncpu <= 0) {
		err = c->ncpu ?: -EINVAL;
		goto cleanup;
	}
	tcp__plan(c->hooks, N_FEATURES, opts->disable);
	c->diag_ok = sockdiag__available();
	tx_follow_counters(c, opts->cgroup_net == TCP_CGROUP_NET_ON);
	err = probe__cgroup2_root(cgroot, sizeof(cgroot));
	if (err)
		goto cleanup;
	c->cgroup_fd = open(cgroot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->cgroup_fd < 0) {
		err = -errno;
		pr_warn("opening cgroup root %s: %s\n", cgroot, strerror(-err));
		goto cleanup;
	}
	/* Run-time statistics for fogprobe_bpf_program_run*, kept on while the fd is open,
	 * only when asked: they cost every run of every BPF program on the host two clock
	 * reads, the probe's own and other tools' alike. */
	if (opts->bpf_stats) {
		c->stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
		if (c->stats_fd < 0)
			pr_warn("--bpf-stats: BPF_ENABLE_STATS refused: %s\n", strerror(errno));
	}
	err = start(c, opts, t);
	while (!err && counters_chosen(c) && !c->counters_iter && !c->diag) {
		/* counted neither per packet nor by the kernel's counters: next candidate */
		struct hook *h = counters_hook(c);
		int j;

		pr_warn("socket counters: %s did not attach, trying the next way\n",
			h->hook[h->chosen]);
		stop(c);
		h->available[h->chosen] = false;
		for (j = h->chosen + 1; j < h->n && !h->available[j]; j++)
			;
		h->chosen = j < h->n ? j : -1;
		tx_follow_counters(c, opts->cgroup_net == TCP_CGROUP_NET_ON);
		err = start(c, opts, t);
	}
	if (err)
		goto cleanup;
	load_reason_names(c);
	for (i = 0; i < FP_DROP_REASONS; i++)
		c->reason_view[i] = tcp__drop_reason_name(c, i);
	*out = c;
	return 0;
cleanup:
	tcp__close(c);
	return err;
}

void tcp__close(struct tcp_collector *c)
{
	size_t i;

	if (!c)
		return;
	stop(c);
	if (c->cgroup_fd >= 0)
		close(c->cgroup_fd);
	if (c->stats_fd >= 0)
		close(c->stats_fd);
	for (i = 0; i < FP_DROP_REASONS; i++)
		free(c->reason_names[i]);
	free(c->diag_ports);
	free(c->cg);
	free(c);
}

int tcp__poll(struct tcp_collector *c, int timeout_ms)
{
	int n, m;

	/* Producers wake us only when the ring is filling; drain what is there anyway. */
	n = ring_buffer__poll(c->rb, timeout_ms);
	m = n < 0 && n != -EINTR ? 0 : ring_buffer__consume(c->rb);
	if (c->sinks.drained)
		c->sinks.drained(c->sinks.ctx);
	if (n < 0 && n != -EINTR)
		return n;
	if (m < 0)
		return m;
	return (n > 0 ? n : 0) + m;
}

/*
 * Read keys first .. first + n - 1 of a per-CPU array of values of vsize bytes (a whole
 * number of u64 counters) in one batch syscall and sum over CPUs into out (out[0] is
 * key first's). One syscall per range instead of one per key. A batch starts after the
 * key it is given (in_batch is the previous batch's last): first - 1, none for key 0.
 */
static int read_percpu_range(struct tcp_collector *c, int fd, __u32 first, __u32 n,
			     size_t vsize, void *out)
{
	size_t words = vsize / sizeof(__u64), stride = words * c->ncpu;
	__u32 count = n, in_batch = first - 1, out_batch = 0, *keys;
	__u64 *vals, *sum = out;
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	size_t k, cpu, w;
	int err = 0;

	keys = calloc(n, sizeof(*keys));
	vals = calloc((size_t)n * stride, sizeof(__u64));
	if (!keys || !vals) {
		err = -ENOMEM;
		goto cleanup;
	}
	if (bpf_map_lookup_batch(fd, first ? &in_batch : NULL, &out_batch, keys, vals, &count,
				 &opts) &&
	    errno != ENOENT) {
		err = -errno;
		goto cleanup;
	}
	memset(out, 0, (size_t)n * vsize);
	for (k = 0; k < count; k++) {
		if (keys[k] < first || keys[k] - first >= n)
			continue;
		for (cpu = 0; cpu < (size_t)c->ncpu; cpu++)
			for (w = 0; w < words; w++)
				sum[(keys[k] - first) * words + w] += vals[k * stride + cpu * words + w];
	}
cleanup:
	free(keys);
	free(vals);
	return err;
}

/* The whole per-CPU array of n values, summed over CPUs. */
static int read_percpu_sum(struct tcp_collector *c, int fd, __u32 n, size_t vsize, void *out)
{
	return read_percpu_range(c, fd, 0, n, vsize, out);
}

/* Fold every live flow into the snapshot, a batch of entries per syscall. */
static int read_flows(struct tcp_collector *c, struct tcp_snapshot *s)
{
	int fd = bpf_map__fd(c->skel->maps.flows);
	__u32 batch = 1024, count, i;
	__u64 in_tok = 0, out_tok = 0, *keys;
	struct fp_flow *vals;
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	bool first = true, done = false;
	int err = 0;

	keys = calloc(batch, sizeof(*keys));
	vals = calloc(batch, sizeof(*vals));
	if (!keys || !vals) {
		err = -ENOMEM;
		goto cleanup;
	}
	while (!done) {
		count = batch;
		if (bpf_map_lookup_batch(fd, first ? NULL : &in_tok, &out_tok, keys, vals, &count,
					 &opts)) {
			if (errno != ENOENT) {
				err = -errno;
				goto cleanup;
			}
			done = true;
		}
		for (i = 0; i < count; i++) {
			const struct fp_flow *f = &vals[i];

			s->flows_live++;
			if (f->svc < FP_MAX_SERVICES && f->kind < FP_KINDS && f->established)
				s->open[f->svc][f->kind]++;
		}
		in_tok = out_tok;
		first = false;
	}
cleanup:
	free(keys);
	free(vals);
	return err;
}

_Static_assert(FP_MAX_SERVICES == TCP_MAX_SERVICES, "service ids");
_Static_assert((int)FP_KINDS == (int)TCP_ENDS && (int)FP_DIRS == (int)TCP_DIRS,
	       "ends and directions");
_Static_assert((int)FP_CONNFAILS == (int)TCP_CONNFAILS &&
		       (int)FP_CONNFAIL_OTHER == (int)TCP_CONNFAIL_OTHER,
	       "connect failure reasons");
_Static_assert(FP_LAT_BOUNDS == TCP_LAT_BOUNDS && FP_DROP_REASONS == TCP_DROP_REASONS,
	       "histogram bounds and drop reasons");
_Static_assert((int)FP_EV_OPEN == (int)CONN_OPEN && (int)FP_EV_RESET == (int)CONN_RESET,
	       "event types");

static void convert_stats(struct tcp_service_stats *to, const struct fp_svc_stats *from)
{
	int i;

	for (i = 0; i < FP_DIRS; i++) {
		to->bytes[i] = from->bytes[i];
		to->segs[i] = from->segs[i];
		to->resets[i] = from->resets[i];
	}
	to->retrans_segs = from->retrans_segs;
	to->retrans_bytes = from->retrans_bytes;
	to->opens = from->opens;
	to->closes = from->closes;
	for (i = 0; i < FP_CONNFAILS; i++)
		to->conn_fail[i] = from->conn_fail[i];
	to->timeouts = from->timeouts;
	for (i = 0; i <= FP_LAT_BOUNDS; i++) {
		to->rtt_bucket[i] = from->rtt_bucket[i];
		to->conn_bucket[i] = from->conn_bucket[i];
	}
	to->rtt_sum_us = from->rtt_sum_us;
	to->conn_sum_us = from->conn_sum_us;
}

/*
 * Bring the live sockets' counters into svc_stats: one run of the flow iterator (it
 * writes nothing out). A failed run delays the counts to the next one, losing none: each
 * socket's counters are moved forward from what was already added.
 */
static void account_flows(struct tcp_collector *c)
{
	char buf[64];
	int fd;

	if (!c->counters_iter)
		return;
	fd = bpf_iter_create(bpf_link__fd(c->counters_iter));
	if (fd < 0) {
		pr_debug("socket counters: bpf_iter_create: %s\n", strerror(errno));
		return;
	}
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
}

int tcp__read(struct tcp_collector *c, struct tcp_snapshot *s)
{
	struct fp_svc_stats *stats = c->raw_stats;
	int fd_lis = bpf_map__fd(c->skel->maps.listeners);
	struct fp_listener_key lk, lnext, *lkp = NULL;
	struct fp_listener l;
	__u64 after[FP_LOST_SLOTS];
	int err, k;

	account_flows(c);
	if (c->diag)
		account_diag(c);
	err = read_percpu_sum(c, bpf_map__fd(c->skel->maps.svc_stats),
			      FP_MAX_SERVICES * FP_KINDS, sizeof(struct fp_svc_stats), stats);
	if (!err)
		err = tcp__read_drops(c, s);
	if (!err)
		err = read_percpu_sum(c, bpf_map__fd(c->skel->maps.lost_stats), FP_LOST_SLOTS,
				      sizeof(__u64), c->lost);
	if (err)
		return err;
	for (k = 0; k < FP_MAX_SERVICES * FP_KINDS; k++)
		convert_stats(&s->stats[k / FP_KINDS][k % FP_KINDS], &stats[k]);
	memset(s->open, 0, sizeof(s->open));
	memset(s->listeners, 0, sizeof(s->listeners));
	s->flows_live = 0;
	err = read_flows(c, s);
	if (err)
		return err;
	c->flows_live = s->flows_live;
	/* Deletions as of after the walk, insertions (c->lost) from before it: then
	 * inserted - deleted - live never exceeds the evictions. Both from before, a
	 * connection closed during the walk read as one. */
	err = read_percpu_sum(c, bpf_map__fd(c->skel->maps.lost_stats), FP_LOST_SLOTS,
			      sizeof(__u64), after);
	if (err)
		return err;
	c->flows_inserted = c->lost[FP_STAT_FLOWS_INSERTED];
	c->flows_deleted = after[FP_STAT_FLOWS_DELETED];
	/* listeners: a few entries, plain iteration */
	while (!bpf_map_get_next_key(fd_lis, lkp, &lnext)) {
		lk = lnext;
		lkp = &lk;
		if (!bpf_map_lookup_elem(fd_lis, &lk, &l) && l.svc < FP_MAX_SERVICES)
			s->listeners[l.svc] += l.count;
	}
	return 0;
}

/* Only the slots (a service's, or none's) that ever counted a drop (drop_slots): the
 * others are zero. A slot's flag is set before its first count: one that a refresh
 * finds unset has nothing that refresh would miss for longer than until the next. */
int tcp__read_drops(struct tcp_collector *c, struct tcp_snapshot *s)
{
	const volatile __u8 *used = c->skel->bss->drop_slots;
	int fd = bpf_map__fd(c->skel->maps.drop_stats), err;
	__u32 slot;

	s->drop_reason_names = c->reason_view;
	for (slot = 0; slot <= FP_MAX_SERVICES; slot++) {
		if (!used[slot]) {
			memset(s->drops[slot], 0, sizeof(s->drops[slot]));
			continue;
		}
		err = read_percpu_range(c, fd, slot * FP_DROP_REASONS, FP_DROP_REASONS,
					sizeof(__u64), s->drops[slot]);
		if (err)
			return err;
	}
	return 0;
}

bool tcp__counts_cgroups(const struct tcp_collector *c)
{
	return c->cgroup_net;
}

int tcp__read_cgroups(struct tcp_collector *c, const struct cgroup_net **out, size_t *n)
{
	int fd = bpf_map__fd(c->skel->maps.cgroup_net);
	size_t words = sizeof(struct fp_cgroup_net) / sizeof(__u64), stride = words * c->ncpu;
	__u32 batch = 256, count, i, cpu;
	__u64 in_tok = 0, out_tok = 0, *keys = NULL, *vals = NULL;
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	bool first = true, done = false;
	int err = 0;

	*out = NULL;
	*n = 0;
	c->n_cg = 0;
	if (!c->cg) {
		c->cg = calloc(FP_MAX_CGROUPS, sizeof(*c->cg));
		if (!c->cg)
			return -ENOMEM;
	}
	keys = calloc(batch, sizeof(*keys));
	vals = calloc((size_t)batch * stride, sizeof(*vals));
	if (!keys || !vals) {
		err = -ENOMEM;
		goto cleanup;
	}
	while (!done) {
		count = batch;
		if (bpf_map_lookup_batch(fd, first ? NULL : &in_tok, &out_tok, keys, vals, &count,
					 &opts)) {
			if (errno != ENOENT) {
				err = -errno;
				goto cleanup;
			}
			done = true;
		}
		for (i = 0; i < count && c->n_cg < FP_MAX_CGROUPS; i++) {
			struct cgroup_net *e = &c->cg[c->n_cg++];
			const __u64 *v = vals + (size_t)i * stride;

			memset(e, 0, sizeof(*e));
			e->cgid = keys[i];
			for (cpu = 0; cpu < (__u32)c->ncpu; cpu++, v += words) {
				const struct fp_cgroup_net *pc = (const void *)v;

				e->bytes[FP_TX] += pc->bytes[FP_TX];
				e->bytes[FP_RX] += pc->bytes[FP_RX];
			}
		}
		in_tok = out_tok;
		first = false;
	}
	*out = c->cg;
	*n = c->n_cg;
cleanup:
	free(keys);
	free(vals);
	return err;
}

size_t tcp__prune_cgroups(struct tcp_collector *c, bool (*alive)(void *ctx, __u64 cgid),
			  void *ctx)
{
	int fd = bpf_map__fd(c->skel->maps.cgroup_net);
	size_t i, n = 0;

	for (i = 0; i < c->n_cg; i++)
		if (!alive(ctx, c->cg[i].cgid) && !bpf_map_delete_elem(fd, &c->cg[i].cgid))
			n++;
	return n;
}

int tcp__epoll_fd(const struct tcp_collector *c)
{
	return ring_buffer__epoll_fd(c->rb);
}

void tcp__diag_counts(const struct tcp_collector *c, __u64 *read, __u64 *accounted)
{
	*read = c->diag_read;
	*accounted = c->diag_accounted;
}

int tcp__detach(struct tcp_collector *c, const char *feature)
{
	size_t i;

	for (i = 0; i < N_FEATURES; i++) {
		if (strcmp(c->hooks[i].feature, feature) || !c->links[i])
			continue;
		bpf_link__destroy(c->links[i]);
		c->links[i] = NULL;
		c->hooks[i].attached = false;
		return 0;
	}
	return -ENOENT;
}

int tcp__flows_fd(const struct tcp_collector *c)
{
	return bpf_map__fd(c->skel->maps.flows);
}

bool tcp__enters_netns(const struct tcp_collector *c)
{
	return c->diag != NULL;
}

size_t tcp__hooks(const struct tcp_collector *c, const struct hook **hooks)
{
	*hooks = c->hooks;
	return N_FEATURES;
}

size_t tcp__prog_stats(const struct tcp_collector *c, struct prog_stats *out, size_t max)
{
	return probe__prog_stats(c->skel->obj, out, max);
}

void tcp__losses(const struct tcp_collector *c, struct losses *l)
{
	static const enum loss_reason slot[FP_LOSTS] = {
		[FP_LOST_RINGBUF] = LOSS_RINGBUF_FULL,
		[FP_LOST_LISTENER_MAP] = LOSS_LISTENER_MAP_FULL,
		[FP_LOST_FLOW_INSERT] = LOSS_FLOW_MAP_UPDATE,
		[FP_LOST_TUPLE_INSERT] = LOSS_TUPLE_MAP_UPDATE,
	};
	struct tcp_collector *w = (struct tcp_collector *)c; /* the monotonic maximum */
	__u64 in = c->flows_inserted, out = c->flows_deleted;
	__u64 evicted;
	int i;

	for (i = 0; i < FP_LOSTS; i++)
		losses__set(l, slot[i], c->lost[i]);
	/* Flows the LRU evicted without a close: inserted - deleted - live, a lower bound
	 * (see tcp__read). Evictions only happen when the table is full, so this is the
	 * map-full loss count. */
	evicted = in > out + c->flows_live ? in - out - c->flows_live : 0;
	if (evicted > w->evicted_max)
		w->evicted_max = evicted;
	losses__set(l, LOSS_FLOW_EVICTED, c->evicted_max);
	if (c->cgroup_net)
		losses__set(l, LOSS_CGROUP_MAP_FULL, c->lost[FP_LOST_CGROUP_MAP]);
	losses__set(l, LOSS_FLOW_UNCLOSED, c->lost[FP_LOST_FLOW_UNCLOSED]);
	losses__set(l, LOSS_OLDER_SOCKET_MAP_FULL, c->older_lost);
}

/* ---- the collector interface ---- */

static int ops_open(const struct collector_env *env, void **out)
{
	struct tcp_collector_opts o = {
		.disable = env->disable,
		.cgroup_net = !env->cfg->containers.enabled ? TCP_CGROUP_NET_OFF :
			      env->cfg->containers.network == CONTAINER_NETWORK_CGROUP ?
								TCP_CGROUP_NET_ON :
			      env->cfg->containers.network == CONTAINER_NETWORK_AUTO ?
								TCP_CGROUP_NET_PER_PACKET :
								TCP_CGROUP_NET_OFF,
		.bpf_stats = env->bpf_stats,
		.sinks = env->sinks,
	};
	int k, err;

	/* send queues kept by the kernel only where no iterator reads them */
	for (k = 0; !env->sndq_iterator && k < env->cfg->n_services && k < FP_MAX_SERVICES; k++)
		if (env->cfg->services[k].protocol == FP_PROTO_WEBSOCKET) /* message_queue_size */
			o.sndq_services |= 1u << k;
	err = tcp__open(&o, env->tables, (struct tcp_collector **)out);
	if (!err && env->cfg->containers.enabled)
		pr_info("container network bytes: %s\n",
			tcp__counts_cgroups(*out) ? "per cgroup, counted per packet (cgroup_skb)" :
						    "from each container's network namespace");
	return err;
}

static void ops_close(void *c)
{
	tcp__close(c);
}

static int ops_epoll_fd(const void *c)
{
	return tcp__epoll_fd(c);
}

static int ops_consume(void *c)
{
	return tcp__poll(c, 0);
}

static int ops_map_fd(const void *v, const char *name)
{
	const struct tcp_collector *c = v;

	if (!strcmp(name, FP_MAP_FLOWS))
		return bpf_map__fd(c->skel->maps.flows);
	if (!strcmp(name, FP_MAP_GONE_FLOWS))
		return bpf_map__fd(c->skel->maps.gone_flows);
	if (!strcmp(name, FP_MAP_SNDQ))
		return bpf_map__fd(c->skel->maps.sndq_now);
	if (!strcmp(name, FP_MAP_PROC_TASKS))
		return bpf_map__fd(c->skel->maps.proc_tasks);
	if (!strcmp(name, FP_MAP_LOST_PROC))
		return bpf_map__fd(c->skel->maps.lost_proc);
	if (!strcmp(name, FP_MAP_TASK_FLAGS))
		return bpf_map__fd(c->skel->maps.task_flags);
	return -ENOENT;
}

static size_t ops_hooks(const void *c, const struct hook **out)
{
	return tcp__hooks(c, out);
}

static size_t ops_prog_stats(const void *c, struct prog_stats *out, size_t max)
{
	return tcp__prog_stats(c, out, max);
}

static void ops_losses(const void *c, struct losses *l)
{
	tcp__losses(c, l);
}

const struct collector_ops tcp_collector_ops = {
	.name = "TCP probe",
	.plan = tcp__plan,
	.open = ops_open,
	.close = ops_close,
	.epoll_fd = ops_epoll_fd,
	.consume = ops_consume,
	.map_fd = ops_map_fd,
	.hooks = ops_hooks,
	.prog_stats = ops_prog_stats,
	.losses = ops_losses,
};
