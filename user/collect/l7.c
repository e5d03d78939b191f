// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "collect/l7.h"
#include "collect/probe.h"
#include "lib/log.h"
#include "model/reorder.h"
#include "l7.skel.h"

_Static_assert(sizeof(struct fp_l7_event) == 64 + FP_L7_CAP_MAX, "fp_l7_event layout");
_Static_assert(sizeof(struct fp_l7_snip) == 16, "fp_l7_snip layout");
_Static_assert(sizeof(struct fp_l7_svc) == 8, "fp_l7_svc layout");
_Static_assert(sizeof(struct fp_l7_sndq) == 24, "fp_l7_sndq layout");

static const char *const syscalls[] = { "write",  "read",    "writev",     "readv",
					"sendto", "recvfrom", "sendmsg",   "recvmsg",
					"sendfile64", "splice", "connect", "accept4",
					"accept" };
#define N_SYSCALLS (sizeof(syscalls) / sizeof(syscalls[0]))

struct l7_collector {
	struct l7_bpf *skel;
	struct bpf_link *sndq_iter; /* NULL: no service asks for send queues */
	struct ring_buffer *rb;
	struct hook hook[2]; /* the capture; the send-queue reader */
	struct collector_sinks sinks;
	struct reorder *order; /* records held until their turn (model/reorder.h) */
	bool server_in_order[FP_MAX_SERVICES];
	bool sndq_iterator;
	int ncpu;
	__u64 malformed;
	__u64 released_until; /* every record with an older key has been handed over */
};

/* A write's record can come after the read of its answer (model/reorder.h): records are
 * held this long after their order key. It bounds the time a write may take between
 * sending and returning, a thread's preemption included. */
#define REORDER_WINDOW_NS 50000000ULL
#define REORDER_MAX_BYTES (32u << 20)

bool l7__sndq_iterator(const char *disable)
{
	return !probe__hook_disabled("iter", disable) && probe__iter_loads("bpf_map_elem");
}

/* The socket hooks: a send's start and the end of every socket send and receive. */
static const char *const sock_hooks[] = { "tp_btf/tcp_sendmsg_locked", "tp_btf/sock_send_length",
					  "tp_btf/sock_recv_length" };
#define N_SOCK_HOOKS (sizeof(sock_hooks) / sizeof(sock_hooks[0]))

enum { CAP_TP_BTF, CAP_SYSCALLS };

/* The send-queue row's fallback: the kernel keeps the queues at each inbound segment
 * and at each read and write of the capture's way in (way: -1 if none). */
static void plan_sndq_row(struct hook *h, int way)
{
	h->hook[1] = way == CAP_SYSCALLS ? "cgroup_skb/ingress ACKs + syscalls" :
					   "cgroup_skb/ingress ACKs + socket calls";
	h->program[1] = way == CAP_SYSCALLS ? "count_ingress/exit_*" : "count_ingress/sock_*";
	h->disabled[1] = way < 0;
	h->available[1] = way >= 0;
	h->chosen = h->available[0] && h->available[1] ? 0 : h->available[1] ? 1 : -1;
}


/* The capture: the socket tracepoints where the kernel has them (they fire for socket
 * calls only), else every syscall tracepoint it hooks (which put every task on the slow
 * syscall path). Send queues (message_queue_size) are read at each scrape by an iterator
 * over the flow table, or, where the kernel refuses iterators, kept by the kernel at
 * each inbound segment and at each read and write. iter: whether the iterator loads
 * (l7__sndq_iterator). */
static size_t plan(struct hook *hooks, size_t max, const char *disable, bool iter)
{
	struct hook *h = hooks;
	bool ok = true;
	size_t i;

	if (!max)
		return 0;
	memset(h, 0, sizeof(*h));
	h->feature = "l7_capture";
	h->n = 2;
	h->hook[CAP_TP_BTF] = "tp_btf/sock_{send,recv}_length";
	h->program[CAP_TP_BTF] = "sock_send_exit/sock_recv_exit";
	for (i = 0; i < N_SOCK_HOOKS; i++)
		ok &= probe__available(sock_hooks[i]);
	h->disabled[CAP_TP_BTF] = probe__hook_disabled("tp_btf/sock", disable) ||
				  probe__hook_disabled("tp_btf/tcp_sendmsg", disable);
	h->available[CAP_TP_BTF] = ok && !h->disabled[CAP_TP_BTF];
	h->hook[CAP_SYSCALLS] = "tracepoint/syscalls/sys_{enter,exit}_*";
	h->program[CAP_SYSCALLS] = "enter_*/exit_*";
	ok = true;
	for (i = 0; i < N_SYSCALLS; i++) {
		char ev[64];

		snprintf(ev, sizeof(ev), "tracepoint/syscalls/sys_exit_%s", syscalls[i]);
		ok &= probe__available(ev);
	}
	h->disabled[CAP_SYSCALLS] = probe__hook_disabled("tracepoint/syscalls", disable);
	h->available[CAP_SYSCALLS] = ok && !h->disabled[CAP_SYSCALLS];
	h->chosen = -1;
	for (i = 0; i < 2 && h->chosen < 0; i++)
		if (h->available[i])
			h->chosen = i;
	if (max < 2)
		return 1;
	h = hooks + 1;
	memset(h, 0, sizeof(*h));
	h->feature = "send_queue";
	h->n = 2;
	h->hook[0] = "iter/bpf_map_elem";
	h->program[0] = "dump_sndq";
	h->disabled[0] = probe__hook_disabled("iter", disable);
	h->available[0] = iter;
	plan_sndq_row(h, hooks[0].chosen);
	return 2;
}

size_t l7__plan(struct hook *hooks, size_t max, const char *disable)
{
	return plan(hooks, max, disable, l7__sndq_iterator(disable));
}

/* A record whose turn has come, as a typed chunk of its connection's stream. */
static void deliver(struct l7_collector *c, const struct fp_l7_event *e)
{
	const struct fp_l7_snip *sn = (const void *)(e->data + e->cap + e->tail);
	struct stream_snip snips[FP_L7_SNIPS];
	size_t i;

	/* metadata only: payload bytes never leave the daemon */
	if (log__level() >= LOG_DEBUG)
		pr_debug("l7 sk=%llx conn_start=%llu svc=%u kind=%u dir=%s len=%u cap=%u tail=%u "
			 "ts=%llu flags=%s\n",
			 (unsigned long long)e->sk, (unsigned long long)e->conn_start, e->svc,
			 e->kind, e->dir == FP_TX ? "tx" : "rx", e->len, e->cap, e->tail,
			 (unsigned long long)e->ts_ns, e->flags & FP_L7_F_TLS ? "tls" : "-");
	for (i = 0; i < e->nsnip && i < FP_L7_SNIPS; i++) {
		snips[i].off = sn[i].off;
		snips[i].len = e->len - sn[i].off < FP_L7_SNIP_BYTES ? e->len - sn[i].off :
								       FP_L7_SNIP_BYTES;
		snips[i].bytes = sn[i].bytes;
	}
	struct stream_chunk ch = {
		.is_server = e->kind == FP_KIND_SERVER,
		.tx = e->dir == FP_TX,
		.tls = e->flags & FP_L7_F_TLS,
		.sndq = e->sndq,
		.data = e->data,
		.captured = e->cap,
		.total = e->len,
		.snips = snips,
		.nsnip = i,
		.tail = e->tail ? e->data + e->cap : NULL,
		.tail_len = e->tail,
		.ts_ns = e->ts_ns,
	};

	if (c->sinks.chunk)
		c->sinks.chunk(c->sinks.ctx, streams__key(e->sk, e->conn_start), e->svc, &ch);
}

static void release(void *ctx, const void *rec, size_t size)
{
	(void)size;
	deliver(ctx, rec);
}

static int handle(void *ctx, void *data, size_t size)
{
	struct l7_collector *c = ctx;
	const struct fp_l7_event *e = data;

	if (size < offsetof(struct fp_l7_event, data) || e->cap > FP_L7_CAP_MAX ||
	    e->nsnip > FP_L7_SNIPS || e->tail > FP_L7_TAIL_BYTES ||
	    e->tail > (__u64)e->len - e->cap ||
	    size < offsetof(struct fp_l7_event, data) + e->cap + e->tail +
			   e->nsnip * sizeof(struct fp_l7_snip)) {
		c->malformed++; /* never expected: counted, not silently ignored */
		return 0;
	}
	if (e->kind == FP_KIND_SERVER && e->svc < FP_MAX_SERVICES && c->server_in_order[e->svc]) {
		deliver(c, e);
		return 0;
	}
	reorder__push(c->order, e->order_ns, e,
		      offsetof(struct fp_l7_event, data) + e->cap + e->tail +
			      e->nsnip * sizeof(struct fp_l7_snip),
		      release, c);
	return 0;
}

/* Open and load the object for one way in (enum above); the skeleton stays in c. */
static int load_way(struct l7_collector *c, const struct l7_collector_opts *opts, int way)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = collectors__btf_path());
	struct bpf_program *p;
	int err;

	l7_bpf__destroy(c->skel);
	c->skel = l7_bpf__open_opts(&oo);
	if (!c->skel)
		return -errno;
	bpf_map__set_max_entries(c->skel->maps.l7_scratch, c->ncpu);
	/* attached below, to the flow table; loaded only where the kernel takes iterators
	 * (a refused program would fail the whole object) */
	bpf_program__set_autoattach(c->skel->progs.dump_sndq, false);
	bpf_program__set_autoload(c->skel->progs.dump_sndq, c->hook[1].chosen == 0);
	/* one way in: the socket tracepoints or the syscall tracepoints */
	bpf_object__for_each_program(p, c->skel->obj) {
		const char *sec = bpf_program__section_name(p);

		if (!strncmp(sec, "tp_btf/", 7))
			bpf_program__set_autoload(p, way == CAP_TP_BTF);
		else if (!strncmp(sec, "tracepoint/syscalls/", 20))
			bpf_program__set_autoload(p, way == CAP_SYSCALLS);
	}
	err = bpf_map__reuse_fd(c->skel->maps.flows, opts->flows_fd);
	if (!err)
		err = bpf_map__reuse_fd(c->skel->maps.gone_flows, opts->gone_flows_fd);
	if (!err)
		err = bpf_map__reuse_fd(c->skel->maps.sndq_now, opts->sndq_fd);
	if (!err)
		err = l7_bpf__load(c->skel);
	return err;
}

int l7__open(const struct l7_collector_opts *opts, struct l7_collector **out)
{
	struct l7_collector *c;
	__u32 k;
	int err;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->sinks = opts->sinks;
	for (k = 0; k < FP_MAX_SERVICES; k++)
		c->server_in_order[k] = opts->svc[k].server_in_order;
	c->sndq_iterator = opts->sndq_iterator;
	c->ncpu = libbpf_num_possible_cpus();
	c->order = reorder__new(REORDER_WINDOW_NS, REORDER_MAX_BYTES);
	if (!c->order) {
		free(c);
		return -ENOMEM;
	}
	plan(c->hook, 2, opts->disable, opts->sndq_iterator);
	if (c->hook[0].chosen < 0) {
		err = -EOPNOTSUPP;
		goto cleanup;
	}
	/* A way in the verifier refuses falls back to the next available one, and says so
	 * (fogprobe check then differs from fogprobe_probe_attached). */
	for (;;) {
		int way = c->hook[0].chosen, next;

		err = load_way(c, opts, way);
		if (!err)
			break;
		for (next = way + 1; next < c->hook[0].n && !c->hook[0].available[next]; next++)
			;
		if (next >= c->hook[0].n) {
			pr_warn("loading the L7 capture: %s\n", strerror(-err));
			goto cleanup;
		}
		pr_warn("loading the L7 capture on %s: %s; falling back to %s\n",
			c->hook[0].hook[way], strerror(-err), c->hook[0].hook[next]);
		c->hook[0].chosen = next;
		plan_sndq_row(&c->hook[1], next);
	}
	for (k = 0; k < FP_MAX_SERVICES; k++) {
		struct fp_l7_svc on = opts->svc[k];

		if (on.cap > FP_L7_CAP_MAX)
			on.cap = FP_L7_CAP_MAX;
		if (bpf_map_update_elem(bpf_map__fd(c->skel->maps.l7_svc), &k, &on, BPF_ANY)) {
			err = -errno;
			goto cleanup;
		}
	}
	c->rb = ring_buffer__new(bpf_map__fd(c->skel->maps.l7_events), handle, c, NULL);
	if (!c->rb) {
		err = -errno;
		goto cleanup;
	}
	err = l7_bpf__attach(c->skel);
	if (err) {
		snprintf(c->hook[0].error, sizeof(c->hook[0].error), "%s", strerror(-err));
		pr_warn("attaching the L7 capture: %s\n", strerror(-err));
		goto cleanup;
	}
	c->hook[0].attached = true;
	for (k = 0; k < FP_MAX_SERVICES && !opts->svc[k].sndq; k++)
		;
	if (k < FP_MAX_SERVICES && c->hook[1].chosen == 1) {
		c->hook[1].attached = true;
		pr_info("send_queue: at each inbound segment, read and write (no map iterator)\n");
	} else if (k < FP_MAX_SERVICES) {
		union bpf_iter_link_info li = { .map.map_fd = opts->flows_fd };
		LIBBPF_OPTS(bpf_iter_attach_opts, io, .link_info = &li,
			    .link_info_len = sizeof(li));

		c->sndq_iter = bpf_program__attach_iter(c->skel->progs.dump_sndq, &io);
		if (!c->sndq_iter) { /* send queues then come from the syscalls alone */
			snprintf(c->hook[1].error, sizeof(c->hook[1].error), "%s",
				 strerror(errno));
			pr_warn("send-queue iterator: %s\n", strerror(errno));
		}
		c->hook[1].attached = c->sndq_iter != NULL;
	}
	pr_info("l7_capture: %s\n", c->hook[0].chosen == 0 ? "socket hooks (tp_btf)" :
							       "syscall tracepoints");
	*out = c;
	return 0;
cleanup:
	l7__close(c);
	return err;
}

void l7__close(struct l7_collector *c)
{
	if (!c)
		return;
	bpf_link__destroy(c->sndq_iter);
	ring_buffer__free(c->rb);
	l7_bpf__destroy(c->skel);
	reorder__free(c->order); /* the last window's records go with it */
	free(c);
}

/* Without an iterator: the samples the kernel keeps at each inbound segment (with its
 * ACK applied), read and write of these sockets. Keys may vanish under the walk (closes,
 * LRU): get_next_key then restarts from the first, which only repeats updates. */
static int read_sndq_map(struct l7_collector *c, l7_sndq_fn fn, void *ctx)
{
	int fd = bpf_map__fd(c->skel->maps.sndq_now);
	__u64 key, next, *prev = NULL;
	struct fp_sndq v;
	unsigned int guard = 0;

	while (!bpf_map_get_next_key(fd, prev, &next) && guard++ < 4 * FP_MAX_SNDQ) {
		if (!bpf_map_lookup_elem(fd, &next, &v))
			fn(ctx, streams__key(next, v.start_ns), v.sndq);
		key = next;
		prev = &key;
	}
	return 0;
}

int l7__read_sndq(struct l7_collector *c, l7_sndq_fn fn, void *ctx)
{
	struct fp_l7_sndq r[64];
	ssize_t n;
	int fd, i;

	if (!c->sndq_iter)
		return read_sndq_map(c, fn, ctx);
	fd = bpf_iter_create(bpf_link__fd(c->sndq_iter));
	if (fd < 0)
		return -errno;
	while ((n = read(fd, r, sizeof(r))) > 0)
		for (i = 0; i < n / (ssize_t)sizeof(r[0]); i++)
			fn(ctx, streams__key(r[i].sk, r[i].conn_start), r[i].sndq);
	close(fd);
	return n < 0 ? -errno : 0;
}

int l7__epoll_fd(const struct l7_collector *c)
{
	return ring_buffer__epoll_fd(c->rb);
}

int l7__consume(struct l7_collector *c)
{
	struct timespec t;
	int n;

	/* Every record committed before t is read below: those older than the window can
	 * no longer be overtaken by a write still in progress. */
	clock_gettime(CLOCK_MONOTONIC, &t);
	n = ring_buffer__consume(c->rb);
	reorder__drain(c->order, (__u64)t.tv_sec * 1000000000ULL + t.tv_nsec, release, c);
	if (c->sinks.drained)
		c->sinks.drained(c->sinks.ctx);
	c->released_until = (__u64)t.tv_sec * 1000000000ULL + t.tv_nsec - REORDER_WINDOW_NS;
	return n;
}

__u64 l7__released_until(const struct l7_collector *c)
{
	return c->released_until;
}

int l7__ring_full(const struct l7_collector *c, __u64 *lost)
{
	__u64 v[256];
	__u32 k = 0;
	int i;

	if (c->ncpu > 256)
		return -E2BIG;
	if (bpf_map_lookup_elem(bpf_map__fd(c->skel->maps.l7_stats), &k, v))
		return -errno;
	*lost = 0;
	for (i = 0; i < c->ncpu; i++)
		*lost += v[i];
	return 0;
}

size_t l7__hooks(const struct l7_collector *c, const struct hook **hooks)
{
	*hooks = c->hook;
	return 2;
}

int l7__map_fd(const struct l7_collector *c, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(c->skel->obj, name);

	return m ? bpf_map__fd(m) : -ENOENT;
}

size_t l7__prog_stats(const struct l7_collector *c, struct prog_stats *out, size_t max)
{
	return probe__prog_stats(c->skel->obj, out, max);
}

void l7__losses(const struct l7_collector *c, struct losses *l)
{
	__u64 full;

	if (!l7__ring_full(c, &full))
		losses__set(l, LOSS_L7_RINGBUF_FULL, full);
	losses__set(l, LOSS_L7_MALFORMED, c->malformed);
}

/* ---- the collector interface ---- */

/* The protocols with a parser; the prefix: the service's "capture", else
 * --capture-bytes, else what the protocol needs (an HTTP head, a Betanet header, a
 * whole compressed WebSocket message: see FP_L7_CAP_WS_DEFAULT). */
static void svc_settings(const struct service_config *sc, uint32_t capture_bytes,
			 bool sndq_iterator, struct fp_l7_svc *on)
{
	bool web = sc->protocol == FP_PROTO_HTTP || sc->protocol == FP_PROTO_WEBSOCKET;

	memset(on, 0, sizeof(*on));
	if (!config__l7(sc))
		return;
	on->mode = web ? FP_L7_TAIL : FP_L7_LENGTH_PREFIXED;
	if (sc->protocol == FP_PROTO_WEBSOCKET) /* message_queue_size */
		on->sndq = FP_L7_SNDQ_EVENT | (sndq_iterator ? 0 : FP_L7_SNDQ_KEEP);
	/* a client may read a response before its request's write returns; a server
	 * reads a request before it can answer. WebSocket and Betanet are duplex. */
	on->server_in_order = sc->protocol == FP_PROTO_HTTP;
	on->cap = sc->capture		       ? sc->capture :
		  capture_bytes		       ? capture_bytes :
		  sc->protocol == FP_PROTO_WEBSOCKET ? FP_L7_CAP_WS_DEFAULT :
		  web			       ? FP_L7_CAP_HTTP_DEFAULT :
						 FP_L7_CAP_DEFAULT;
	if (on->cap > FP_L7_CAP_MAX)
		on->cap = FP_L7_CAP_MAX;
}

int l7__set_service(struct l7_collector *c, int svc, const struct service_config *sc,
		    uint32_t capture_bytes)
{
	struct fp_l7_svc on;
	__u32 k = (__u32)svc;

	if (!c || svc < 0 || svc >= FP_MAX_SERVICES)
		return -EINVAL;
	svc_settings(sc, capture_bytes, c->sndq_iterator, &on);
	/* ordering first: the kernel captures as soon as the map says so */
	c->server_in_order[svc] = on.server_in_order;
	if (bpf_map_update_elem(bpf_map__fd(c->skel->maps.l7_svc), &k, &on, BPF_ANY))
		return -errno;
	return 0;
}

int l7__watch_process(struct l7_collector *c, __u32 tgid, int svc)
{
	struct fp_l7_svc on;
	__u32 k = (__u32)svc;
	__u8 one = 1;

	if (!c)
		return 0;
	if (svc < 0 || svc >= FP_MAX_SERVICES)
		return -EINVAL;
	if (bpf_map_lookup_elem(bpf_map__fd(c->skel->maps.l7_svc), &k, &on) || !on.mode)
		return 0;
	if (bpf_map_update_elem(bpf_map__fd(c->skel->maps.l7_tasks), &tgid, &one, BPF_ANY))
		return -errno;
	return 0;
}

static int ops_open(const struct collector_env *env, void **out)
{
	struct l7_collector_opts o = {
		.sndq_iterator = env->sndq_iterator,
		.disable = env->disable,
		.sinks = env->sinks,
	};
	const struct config *cfg = env->cfg;
	bool any = false;
	int i;

	*out = NULL;
	for (i = 0; i < cfg->n_services && i < FP_MAX_SERVICES; i++) {
		const struct service_config *sc = &cfg->services[i];

		svc_settings(sc, env->capture_bytes, env->sndq_iterator, &o.svc[i]);
		any |= config__l7(sc);
	}
	if (!any)
		return 0;
	o.flows_fd = collectors__map_fd(env->set, FP_MAP_FLOWS);
	o.gone_flows_fd = collectors__map_fd(env->set, FP_MAP_GONE_FLOWS);
	o.sndq_fd = collectors__map_fd(env->set, FP_MAP_SNDQ);
	if (o.flows_fd < 0 || o.gone_flows_fd < 0 || o.sndq_fd < 0)
		return -ENOENT;
	return l7__open(&o, (struct l7_collector **)out);
}

static void ops_close(void *c)
{
	l7__close(c);
}

static int ops_epoll_fd(const void *c)
{
	return l7__epoll_fd(c);
}

static int ops_consume(void *c)
{
	return l7__consume(c);
}

static int ops_map_fd(const void *c, const char *name)
{
	return l7__map_fd(c, name);
}

static size_t ops_hooks(const void *c, const struct hook **out)
{
	return l7__hooks(c, out);
}

static size_t ops_prog_stats(const void *c, struct prog_stats *out, size_t max)
{
	return l7__prog_stats(c, out, max);
}

static void ops_losses(const void *c, struct losses *l)
{
	l7__losses(c, l);
}

const struct collector_ops l7_collector_ops = {
	.name = "L7 capture",
	.unavailable = "Betanet message, HTTP and BitChat metrics stay at zero",
	.plan = l7__plan,
	.open = ops_open,
	.close = ops_close,
	.epoll_fd = ops_epoll_fd,
	.consume = ops_consume,
	.map_fd = ops_map_fd,
	.hooks = ops_hooks,
	.prog_stats = ops_prog_stats,
	.losses = ops_losses,
};
