// SPDX-License-Identifier: GPL-2.0-only
#define _GNU_SOURCE /* strerrorname_np */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include "lib/ids.h"
#include "telemetry/spans.h"

const char *const span_drop_names[SPAN_DROP_N] = {
	[SPAN_DROP_QUEUE_FULL] = "queue_full",
	[SPAN_DROP_REJECTED] = "rejected",
	[SPAN_DROP_PARTIAL] = "partial_success",
	[SPAN_DROP_RETRIES] = "retries_exhausted",
	[SPAN_DROP_SHUTDOWN] = "shutdown",
};

/* A connection's TCP histograms' exemplar: the last span kept on it, given at its close
 * (the close and the bytes come through different rings: either may be first). */
struct conn_span {
	uint64_t key; /* 0: free */
	uint64_t connect_ns;
	bool has_span; /* ex holds the last span kept on it */
	bool exported; /* ... which reached the collector */
	bool closed; /* its close came first: svc, is_server, srtt_us wait for a span */
	bool is_server;
	int16_t svc;
	uint32_t srtt_us;
	struct metrics_exemplar ex;
};

struct spans {
	const struct config *cfg;
	const char *const *routes[CONFIG_MAX_SERVICES];
	const char *route_ptrs[CONFIG_MAX_SERVICES][CONFIG_MAX_ROUTES];
	double ratio;
	uint64_t slow_ns;
	uint64_t rng[4]; /* xoshiro256**: the loop thread only */
	struct metric_family *f_queue, *f_dropped, *f_exported;
	const struct http_exchange *last_x; /* the loop thread's last kept exchange */
	struct metrics_exemplar last_ex;
	bool other_kept; /* the last spans__other call kept its span: */
	uint8_t other_tid[16], other_sid[8];
	uint64_t other_dur_ns, other_end_ns;
	bool (*cgroup_ref)(void *ctx, uint64_t cgroup_id, struct cgroup_ref *out);
	void *cgroup_ctx;
	struct spans_tcp_sink tcp;
	struct conn_span *conns; /* SPANS_CONN_SLOTS, under lock */

	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct span *ring;
	size_t cap, head, n;
	size_t want; /* a taker waits for this many */
	bool closed;
	_Atomic uint64_t dropped[SPAN_DROP_N];
	_Atomic uint64_t exported;
};

#define AT(f) offsetof(struct spans, f)

static const struct metric_def span_defs[] = {
	{ "fogprobe_otlp_spans_exported_total",
	  "Spans sent to the OTLP collector and accepted by it.", METRIC_COUNTER,
	  .offset = AT(f_exported) },
	{ "fogprobe_otlp_spans_dropped_total",
	  "Sampled spans that never reached the collector, by reason (queue_full, rejected, partial_success, retries_exhausted, shutdown).",
	  METRIC_COUNTER, { "reason" }, .offset = AT(f_dropped) },
	{ "fogprobe_otlp_queue_spans", "Spans waiting in the export queue, read at the scrape.",
	  METRIC_GAUGE, .offset = AT(f_queue) },
};

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct spans *sp)
{
	uint64_t *s = sp->rng, r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

static void rng_fill(struct spans *sp, uint8_t *out, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!(i & 7))
			v = rng_next(sp);
		out[i] = (uint8_t)(v >> ((i & 7) * 8));
	}
}

static bool all_zero(const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static void new_id(struct spans *sp, uint8_t *out, size_t n)
{
	do
		rng_fill(sp, out, n);
	while (all_zero(out, n));
}

struct spans *spans__new(const struct spans_opts *opts)
{
	struct spans *sp = calloc(1, sizeof(*sp));
	uint64_t seed = opts->seed;
	int i, j;

	if (!sp)
		return NULL;
	sp->cfg = opts->cfg;
	sp->ratio = opts->cfg->otlp.sample_ratio;
	sp->slow_ns = (uint64_t)opts->cfg->otlp.keep_slower_ms * 1000000ULL;
	sp->cap = opts->cfg->otlp.queue_spans ? opts->cfg->otlp.queue_spans : 1;
	for (i = 0; i < opts->cfg->n_services; i++) {
		const struct service_config *sc = &opts->cfg->services[i];

		for (j = 0; j < sc->n_routes; j++)
			sp->route_ptrs[i][j] = sc->routes[j];
		sp->routes[i] = sp->route_ptrs[i];
	}
	for (i = 0; i < 4; i++) {
		if (!opts->seed && getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
			seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)sp;
		/* splitmix64 spreads a seed over the state */
		seed += 0x9E3779B97F4A7C15ULL;
		sp->rng[i] = seed;
		sp->rng[i] = (sp->rng[i] ^ (sp->rng[i] >> 30)) * 0xBF58476D1CE4E5B9ULL;
		sp->rng[i] = (sp->rng[i] ^ (sp->rng[i] >> 27)) * 0x94D049BB133111EBULL;
		sp->rng[i] ^= sp->rng[i] >> 31;
	}
	sp->cgroup_ref = opts->cgroup_ref;
	sp->cgroup_ctx = opts->cgroup_ctx;
	sp->tcp = opts->tcp;
	sp->ring = calloc(sp->cap, sizeof(*sp->ring));
	sp->conns = calloc(SPANS_CONN_SLOTS, sizeof(*sp->conns));
	if (!sp->ring || !sp->conns)
		goto fail;
	if (opts->reg && metrics__register(opts->reg, sp, span_defs, ARRAY_LEN(span_defs)))
		goto fail;
	for (i = 0; i < SPAN_DROP_N && sp->f_dropped; i++)
		metrics__add(sp->f_dropped, METRICS_LABELS(span_drop_names[i]), 0);
	if (sp->f_exported)
		metrics__add(sp->f_exported, NULL, 0);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* deadlines of spans__take */
		pthread_cond_init(&sp->cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	pthread_mutex_init(&sp->lock, NULL);
	return sp;
fail:
	free(sp->ring);
	free(sp->conns);
	free(sp);
	return NULL;
}

void spans__free(struct spans *sp)
{
	if (!sp)
		return;
	pthread_mutex_destroy(&sp->lock);
	pthread_cond_destroy(&sp->cond);
	free(sp->ring);
	free(sp->conns);
	free(sp);
}

bool spans__ratio_keeps(const uint8_t trace_id[16], double ratio)
{
	uint64_t v = 0;
	int i;

	if (ratio >= 1)
		return true;
	if (ratio <= 0)
		return false;
	/* the right 7 bytes are the random part of a Level 2 trace id */
	for (i = 9; i < 16; i++)
		v = v << 8 | trace_id[i];
	return (double)v < ratio * (double)(1ULL << 56);
}

static uint64_t mono_to_unix(uint64_t mono)
{
	struct timespec r, m;
	uint64_t rn, mn;

	clock_gettime(CLOCK_REALTIME, &r);
	clock_gettime(CLOCK_MONOTONIC, &m);
	rn = (uint64_t)r.tv_sec * 1000000000ULL + (uint64_t)r.tv_nsec;
	mn = (uint64_t)m.tv_sec * 1000000000ULL + (uint64_t)m.tv_nsec;
	return rn - mn + mono;
}

static bool push(struct spans *sp, const struct span *s)
{
	bool ok;

	pthread_mutex_lock(&sp->lock);
	ok = sp->n < sp->cap;
	if (ok) {
		sp->ring[(sp->head + sp->n) % sp->cap] = *s;
		sp->n++;
		if (sp->want && sp->n >= sp->want)
			pthread_cond_signal(&sp->cond);
	}
	pthread_mutex_unlock(&sp->lock);
	if (!ok)
		spans__dropped(sp, SPAN_DROP_QUEUE_FULL, 1);
	return ok;
}

static void copy(char *dst, const char *src, size_t size)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = 0;
}

/* "a b" into dst, cut to size - 1 bytes as snprintf would (a span per request: no
 * format parsing) */
static void join(char *dst, size_t size, const char *a, const char *b)
{
	size_t n = strlen(a), m = strlen(b);

	if (n > size - 1)
		n = size - 1;
	memcpy(dst, a, n);
	if (n + 1 < size) {
		dst[n++] = ' ';
		if (m > size - 1 - n)
			m = size - 1 - n;
		memcpy(dst + n, b, m);
		n += m;
	}
	dst[n] = 0;
}

/* "name", "name:port", "[v6]" or "[v6]:port" into the address (brackets dropped, as
 * server.address wants) and the port it names or the scheme's default; 0 and "" when
 * the value is not one of those. */
static uint16_t host_port(const char *host, bool tls, char *addr, size_t size)
{
	const char *end = host + strlen(host), *colon = NULL, *a = host, *ae;
	unsigned long port = tls ? 443 : 80;
	char *stop;

	if (*host == '[') {
		ae = strchr(host, ']');
		if (!ae || (ae[1] && ae[1] != ':'))
			return 0;
		a = host + 1;
		colon = ae[1] ? ae + 1 : NULL;
	} else {
		colon = strchr(host, ':');
		ae = colon ? colon : end;
		if (colon && strchr(colon + 1, ':'))
			return 0;
	}
	if (colon) {
		if (!colon[1])
			return 0;
		port = strtoul(colon + 1, &stop, 10);
		if (*stop || !port || port > 65535)
			return 0;
	}
	if (ae == a || (size_t)(ae - a) >= size)
		return 0;
	memcpy(addr, a, (size_t)(ae - a));
	addr[ae - a] = 0;
	return (uint16_t)port;
}

void spans__peer_format(const struct otlp_config *cfg, const struct conn_peer *peer, char *out,
			size_t size)
{
	uint8_t a[16] = { 0 };
	unsigned bits, i;

	out[0] = 0;
	if (!cfg->peer_address || !peer ||
	    (peer->family != AF_INET && peer->family != AF_INET6))
		return;
	bits = peer->family == AF_INET ? cfg->peer_prefix_ipv4 : cfg->peer_prefix_ipv6;
	for (i = 0; i < 16 && bits; i++, bits = bits > 8 ? bits - 8 : 0)
		a[i] = peer->addr[i] & (uint8_t)(bits >= 8 ? 0xff : 0xff << (8 - bits));
	if (!inet_ntop(peer->family, a, out, (socklen_t)size))
		out[0] = 0;
}

bool spans__http(struct spans *sp, int svc, bool is_server, bool tls,
		 const struct http_exchange *x, struct span *out)
{
	return spans__http_conn(sp, svc, is_server, tls, x, NULL, out);
}

static struct conn_span *conn_slot(struct spans *sp, uint64_t key)
{
	/* keys are socket addresses mixed with a start time: spread them */
	return &sp->conns[(key * 0x9E3779B97F4A7C15ULL) >> 52 & (SPANS_CONN_SLOTS - 1)];
}

/* Where the span came from (resource): the container and pod of cgroup_id (0: none). */
static void set_origin(struct spans *sp, uint64_t cgroup_id, struct span *s)
{
	memset(&s->origin, 0, sizeof(s->origin));
	if (cgroup_id && sp->cgroup_ref)
		sp->cgroup_ref(sp->cgroup_ctx, cgroup_id, &s->origin);
}

/* A connection's entry has both its kept span and its close: taken out into *out. */
static bool take_complete(struct conn_span *c, struct conn_span *out)
{
	if (!c->has_span || !c->closed)
		return false;
	*out = *c;
	c->key = 0;
	return true;
}

static void give(struct spans *sp, const struct conn_span *c)
{
	if (sp->tcp.exemplar)
		sp->tcp.exemplar(sp->tcp.ctx, c->svc, c->is_server, c->srtt_us, c->connect_ns,
				 &c->ex, c->exported);
}

static void remember(struct spans *sp, const struct conn_meta *meta, const struct span *s)
{
	struct conn_span *c, done;
	bool ready;

	if (!meta || !meta->key)
		return;
	pthread_mutex_lock(&sp->lock);
	c = conn_slot(sp, meta->key);
	if (c->key != meta->key)
		*c = (struct conn_span){ .key = meta->key };
	c->connect_ns = meta->connect_ns;
	c->has_span = true;
	c->exported = false;
	memcpy(c->ex.trace_id, s->trace_id, 16);
	memcpy(c->ex.span_id, s->span_id, 8);
	c->ex.ts = (double)s->end_ns / 1e9;
	ready = take_complete(c, &done);
	pthread_mutex_unlock(&sp->lock);
	if (ready)
		give(sp, &done);
}

void spans__conn_close(struct spans *sp, const struct conn_event *e)
{
	struct conn_span *c, done;
	bool ready = false;

	if (!sp || !e->key || e->svc < 0 || e->svc >= sp->cfg->n_services)
		return;
	pthread_mutex_lock(&sp->lock);
	c = conn_slot(sp, e->key);
	if (c->key == e->key || !c->key || !c->has_span) {
		/* its own entry, a free one, or one that only waits (never a kept span's) */
		if (c->key != e->key)
			*c = (struct conn_span){ .key = e->key };
		c->closed = true;
		c->svc = (int16_t)e->svc;
		c->is_server = e->end == TCP_END_SERVER;
		c->srtt_us = e->srtt_us;
		ready = take_complete(c, &done);
	}
	pthread_mutex_unlock(&sp->lock);
	if (ready)
		give(sp, &done);
}

void spans__confirm(struct spans *sp, const uint64_t *sorted_ids, size_t n)
{
	size_t i;

	if (!sp || !n)
		return;
	pthread_mutex_lock(&sp->lock);
	for (i = 0; i < SPANS_CONN_SLOTS; i++)
		if (sp->conns[i].key && sp->conns[i].has_span && !sp->conns[i].exported &&
		    ids__has(sorted_ids, n, ids__of(sp->conns[i].ex.span_id)))
			sp->conns[i].exported = true;
	pthread_mutex_unlock(&sp->lock);
}

/* What an HTTP span of either end says of exchange x: all but ids, flags and origin. */
static void describe(struct spans *sp, int svc, bool is_server, bool tls,
		     const struct http_exchange *x, struct span *s)
{
	const struct service_config *sc = &sp->cfg->services[svc];

	/* semantic conventions: 5xx is an error of a server span, 4xx and 5xx of a client's */
	s->status = !x->status || x->status >= (is_server ? 500 : 400) ? SPAN_STATUS_ERROR :
									    SPAN_STATUS_UNSET;
	s->kind = is_server ? SPAN_KIND_SERVER : SPAN_KIND_CLIENT;
	s->svc = (int16_t)svc;
	s->start_ns = mono_to_unix(x->start_ns);
	s->end_ns = s->start_ns + (x->end_ns > x->start_ns ? x->end_ns - x->start_ns : 0);
	copy(s->method, x->method, sizeof(s->method));
	copy(s->path, x->path, sizeof(s->path));
	s->status_code = x->status;
	s->tls = tls;
	if (x->minor) {
		s->version[0] = '1';
		s->version[1] = '.';
		s->version[2] = (char)x->minor;
		s->version[3] = 0;
	}
	s->route[0] = 0;
	if (is_server) {
		http__route(x->path, sp->routes[svc], (size_t)sc->n_routes, s->route,
			    sizeof(s->route));
		join(s->name, sizeof(s->name), s->method, s->route);
	} else {
		copy(s->name, s->method, sizeof(s->method)); /* method fits in name */
	}
	s->error_type[0] = 0;
	if (x->status >= (is_server ? 500 : 400))
		snprintf(s->error_type, sizeof(s->error_type), "%u", x->status);
	/* a server's Host names this server; a client's names its peer: private by default */
	s->server_port = 0;
	s->server_address[0] = 0;
	if (x->host && (is_server || sp->cfg->otlp.peer_address))
		s->server_port = host_port(x->host, tls, s->server_address, sizeof(s->server_address));
	if (x->trace.valid && x->tracestate)
		copy(s->trace_state, x->tracestate, sizeof(s->trace_state));
}

bool spans__http_conn(struct spans *sp, int svc, bool is_server, bool tls,
		      const struct http_exchange *x, const struct conn_meta *meta,
		      struct span *out)
{
	struct span s, c;
	bool keep, local;

	if (sp)
		sp->last_x = NULL;
	if (!sp || svc < 0 || svc >= sp->cfg->n_services)
		return false;
	/* a server end whose client end is a socket of this host: the client's span too */
	local = is_server && meta && meta->local_client;
	memset(&s, 0, sizeof(s));
	if (x->trace.valid) {
		memcpy(s.trace_id, x->trace.trace_id, 16);
		s.flags = x->trace.flags & (TRACE_FLAG_SAMPLED | TRACE_FLAG_RANDOM);
		keep = x->trace.flags & TRACE_FLAG_SAMPLED;
		if (is_server) {
			memcpy(s.parent_id, x->trace.span_id, 8);
			s.has_parent = s.remote_parent = true;
			new_id(sp, s.span_id, 8);
		} else {
			/* the caller's outgoing span: the server's parent */
			memcpy(s.span_id, x->trace.span_id, 8);
		}
	} else {
		new_id(sp, s.trace_id, 16);
		new_id(sp, s.span_id, 8);
		s.flags = TRACE_FLAG_RANDOM;
		keep = spans__ratio_keeps(s.trace_id, sp->ratio);
		if (local) { /* the client's span (new) is the server's parent */
			new_id(sp, s.parent_id, 8);
			s.has_parent = s.remote_parent = true;
		}
	}
	/* errors are kept, a client's (4xx too) with its server's */
	if (!x->status || x->status >= (is_server && !local ? 500 : 400))
		keep = true;
	if (sp->slow_ns && x->end_ns >= x->start_ns && x->end_ns - x->start_ns >= sp->slow_ns)
		keep = true;
	if (!keep)
		return false;
	s.flags |= TRACE_FLAG_SAMPLED;
	describe(sp, svc, is_server, tls, x, &s);
	spans__peer_format(&sp->cfg->otlp, meta ? &meta->peer : NULL, s.peer_address,
			   sizeof(s.peer_address));
	set_origin(sp, meta ? meta->cgroup_id : 0, &s);
	if (local) {
		/* timed by the server end's capture: on one host the kernel hands the bytes
		 * over in microseconds, and the client end is not parsed a second time */
		c = s;
		c.has_parent = c.remote_parent = false;
		memset(c.parent_id, 0, sizeof(c.parent_id));
		memcpy(c.span_id, s.parent_id, 8);
		describe(sp, svc, false, tls, x, &c);
		c.start_ns = s.start_ns; /* one clock reading for both */
		c.end_ns = s.end_ns;
		c.peer_address[0] = 0;
		set_origin(sp, meta->client_cgroup_id, &c);
		push(sp, &c);
	}
	if (out)
		*out = s;
	if (!push(sp, &s))
		return false;
	remember(sp, meta, &s);
	sp->last_x = x;
	memcpy(sp->last_ex.trace_id, s.trace_id, 16);
	memcpy(sp->last_ex.span_id, s.span_id, 8);
	sp->last_ex.ts = (double)s.end_ns / 1e9;
	return true;
}

bool spans__exemplar_for(struct spans *sp, const struct http_exchange *x,
			 struct metrics_exemplar *ex)
{
	if (!sp || sp->last_x != x)
		return false;
	*ex = sp->last_ex;
	sp->last_x = NULL;
	return true;
}

bool spans__other(struct spans *sp, const struct span_desc *d, struct span *out)
{
	struct span s;
	bool keep;
	int i;

	if (sp)
		sp->other_kept = false;
	if (!sp || d->svc < 0 || d->svc >= sp->cfg->n_services)
		return false;
	memset(&s, 0, sizeof(s));
	s.type = SPAN_OTHER;
	new_id(sp, s.span_id, 8);
	if (d->parent && d->parent->valid) {
		memcpy(s.trace_id, d->parent->trace_id, 16);
		memcpy(s.parent_id, d->parent->span_id, 8);
		s.has_parent = s.remote_parent = true;
		s.flags = d->parent->flags & (TRACE_FLAG_SAMPLED | TRACE_FLAG_RANDOM);
		keep = d->parent->flags & TRACE_FLAG_SAMPLED;
	} else {
		new_id(sp, s.trace_id, 16);
		s.flags = TRACE_FLAG_RANDOM;
		keep = spans__ratio_keeps(s.trace_id, sp->ratio);
	}
	if (d->sampled_always || d->error)
		keep = true;
	if (sp->slow_ns && d->end_ns >= d->start_ns && d->end_ns - d->start_ns >= sp->slow_ns)
		keep = true;
	if (!keep)
		return false;
	s.flags |= TRACE_FLAG_SAMPLED;
	s.kind = d->is_server ? SPAN_KIND_SERVER : SPAN_KIND_CLIENT;
	s.status = d->error ? SPAN_STATUS_ERROR : SPAN_STATUS_UNSET;
	s.svc = (int16_t)d->svc;
	s.start_ns = mono_to_unix(d->start_ns);
	s.end_ns = s.start_ns + (d->end_ns > d->start_ns ? d->end_ns - d->start_ns : 0);
	snprintf(s.name, sizeof(s.name), "%s", d->name);
	for (i = 0; i < SPAN_ATTRS && d->keys[i]; i++) {
		s.attrs[i].key = d->keys[i];
		snprintf(s.attrs[i].value, sizeof(s.attrs[i].value), "%s", d->values[i]);
	}
	s.n_attrs = (uint8_t)i;
	for (i = 0; i < SPAN_INTS && d->int_keys[i]; i++) {
		s.int_keys[i] = d->int_keys[i];
		s.int_values[i] = d->int_values[i];
	}
	s.n_ints = (uint8_t)i;
	s.event = d->event;
	s.event_ns = s.end_ns;
	set_origin(sp, d->meta ? d->meta->cgroup_id : 0, &s);
	if (out)
		*out = s;
	if (!push(sp, &s))
		return false;
	remember(sp, d->meta, &s);
	sp->other_kept = true;
	memcpy(sp->other_tid, s.trace_id, 16);
	memcpy(sp->other_sid, s.span_id, 8);
	sp->other_dur_ns = s.end_ns - s.start_ns;
	sp->other_end_ns = s.end_ns;
	return true;
}

void spans__tcp(struct spans *sp, const struct conn_event *e)
{
	bool server = e->end == TCP_END_SERVER;
	char err[24], peer[SPAN_PEER_MAX];
	/* key 0: not the span a connection's histograms point at (its requests' are) */
	struct conn_meta meta = { .cgroup_id = e->cgroup_id };
	struct span_desc d;
	int n = 2;

	if (!sp || e->type != CONN_CLOSE || !sp->cfg->otlp.tcp_spans)
		return;
	d = (struct span_desc){
		.svc = e->svc, .is_server = server, .error = e->sk_err != 0,
		.name = "TCP connection",
		.start_ns = e->ts_ns > e->duration_ns ? e->ts_ns - e->duration_ns : e->ts_ns,
		.end_ns = e->ts_ns,
		.keys = { "network.transport", "network.type" },
		.values = { "tcp", e->family == AF_INET6 ? "ipv6" : "ipv4" },
		.int_keys = { "server.port", "fogprobe.tcp.bytes_sent",
			      "fogprobe.tcp.bytes_received", "fogprobe.tcp.retransmits",
			      e->srtt_us ? "fogprobe.tcp.rtt_us" : NULL },
		.int_values = { server ? e->lport : e->rport, (int64_t)e->bytes_sent,
				(int64_t)e->bytes_received, e->retrans_segs, e->srtt_us },
		.meta = &meta,
	};
	/* the optional ones after: the list ends at the first NULL key */
	spans__peer_format(&sp->cfg->otlp, &e->peer, peer, sizeof(peer));
	if (peer[0])
		d.keys[n] = "network.peer.address", d.values[n++] = peer;
	if (e->sk_err) { /* the errno's name, as the socket's error (ECONNRESET, ETIMEDOUT) */
		snprintf(err, sizeof(err), "%s", strerrorname_np(e->sk_err) ?: "error");
		d.keys[n] = "error.type", d.values[n++] = err;
	}
	spans__other(sp, &d, NULL);
}

bool spans__exemplar_other(struct spans *sp, double seconds, struct metrics_exemplar *ex)
{
	double d;

	if (!sp || !sp->other_kept)
		return false;
	/* the observation is this span's own duration, not another measure that happened
	 * to come next (the sinks of one event are called in a row, the span's first) */
	d = (double)sp->other_dur_ns / 1e9 - seconds;
	if (d > 1e-6 || d < -1e-6)
		return false;
	memcpy(ex->trace_id, sp->other_tid, 16);
	memcpy(ex->span_id, sp->other_sid, 8);
	ex->ts = (double)sp->other_end_ns / 1e9;
	return true;
}

bool spans__last_other(struct spans *sp, uint8_t trace_id[16], uint8_t span_id[8])
{
	if (!sp || !sp->other_kept)
		return false;
	memcpy(trace_id, sp->other_tid, 16);
	memcpy(span_id, sp->other_sid, 8);
	return true;
}

static void on_exchange(void *ctx, int svc, bool is_server, bool tls,
			const struct http_exchange *x, const struct conn_meta *meta)
{
	spans__http_conn(ctx, svc, is_server, tls, x, meta, NULL);
}

static const char *const drop_reasons[WEB_DROP_N] = {
	[WEB_DROP_NONE] = "none",
	[WEB_DROP_ABNORMAL_CLOSE] = "abnormal_close",
	[WEB_DROP_RESET] = "reset",
	[WEB_DROP_NO_CLOSE_FRAME] = "no_close_frame",
	[WEB_DROP_IDLE_TIMEOUT] = "idle_timeout",
};

static void on_session(void *ctx, int svc, bool is_server, bool tls, const struct trace_ctx *tc,
		       uint64_t start_ns, uint64_t end_ns, uint16_t close_code,
		       enum web_drop drop, const struct conn_meta *meta)
{
	struct span_desc d = {
		.svc = svc, .is_server = is_server, .sampled_always = true,
		.error = drop != WEB_DROP_NONE, .name = "WebSocket session",
		.start_ns = start_ns, .end_ns = end_ns, .parent = tc,
		.keys = { "network.protocol.name", "url.scheme", "fogprobe.websocket.drop_reason" },
		.values = { "websocket", tls ? "wss" : "ws",
			    drop < WEB_DROP_N ? drop_reasons[drop] : "other" },
		.int_keys = { close_code ? "fogprobe.websocket.close_code" : NULL },
		.int_values = { close_code },
		.event = drop != WEB_DROP_NONE ? "connection dropped" : NULL,
		.meta = meta,
	};

	spans__other(ctx, &d, NULL);
}

static void on_ws_message(void *ctx, int svc, bool is_server, uint64_t start_ns, uint64_t end_ns,
			  const struct conn_meta *meta)
{
	struct span_desc d = {
		.svc = svc, .is_server = is_server, .name = "BitChat message",
		.start_ns = start_ns, .end_ns = end_ns,
		.keys = { "network.protocol.name" }, .values = { "websocket" }, .meta = meta,
	};

	spans__other(ctx, &d, NULL);
}

static void on_circuit(void *ctx, int svc, bool is_server, uint64_t start_ns, uint64_t end_ns,
		       const char *failure, const struct conn_meta *meta)
{
	struct span_desc d = {
		.svc = svc, .is_server = is_server, .sampled_always = true, .error = failure,
		.name = "Betanet circuit build", .start_ns = start_ns, .end_ns = end_ns,
		.keys = { "network.protocol.name", failure ? "error.type" : NULL },
		.values = { "betanet", failure },
		.event = failure ? "handshake failed" : NULL, .meta = meta,
	};

	spans__other(ctx, &d, NULL);
}

static void on_bn_message(void *ctx, int svc, bool is_server, bool data, uint64_t start_ns,
			  uint64_t end_ns, const struct conn_meta *meta)
{
	struct span_desc d = {
		.svc = svc, .is_server = is_server, .name = "Betanet message",
		.start_ns = start_ns, .end_ns = end_ns, .meta = meta,
		.keys = { "network.protocol.name", "fogprobe.betanet.message_type" },
		.values = { "betanet", data ? "data" : "control" },
	};

	spans__other(ctx, &d, NULL);
}

struct web_trace_sink spans__web_sink(struct spans *sp)
{
	struct web_trace_sink s = { .ctx = sp };

	if (sp) {
		s.exchange = on_exchange;
		s.session = on_session;
		s.message = on_ws_message;
	}
	return s;
}

struct betanet_trace_sink spans__betanet_sink(struct spans *sp)
{
	struct betanet_trace_sink s = { .ctx = sp };

	if (sp) {
		s.circuit = on_circuit;
		s.message = on_bn_message;
	}
	return s;
}

static void deadline_ts(uint64_t ns, struct timespec *ts)
{
	ts->tv_sec = (time_t)(ns / 1000000000ULL);
	ts->tv_nsec = (long)(ns % 1000000000ULL);
}

size_t spans__take(struct spans *sp, struct span *out, size_t max, uint64_t deadline_ns)
{
	struct timespec ts;
	size_t i, n;

	deadline_ts(deadline_ns, &ts);
	pthread_mutex_lock(&sp->lock);
	sp->want = max;
	while (!sp->closed && sp->n < max) {
		if (pthread_cond_timedwait(&sp->cond, &sp->lock, &ts) == ETIMEDOUT)
			break;
	}
	sp->want = 0;
	n = sp->n < max ? sp->n : max;
	for (i = 0; i < n; i++)
		out[i] = sp->ring[(sp->head + i) % sp->cap];
	sp->head = (sp->head + n) % sp->cap;
	sp->n -= n;
	pthread_mutex_unlock(&sp->lock);
	return n;
}

void spans__close(struct spans *sp)
{
	pthread_mutex_lock(&sp->lock);
	sp->closed = true;
	pthread_cond_broadcast(&sp->cond);
	pthread_mutex_unlock(&sp->lock);
}

size_t spans__queued(struct spans *sp)
{
	size_t n;

	pthread_mutex_lock(&sp->lock);
	n = sp->n;
	pthread_mutex_unlock(&sp->lock);
	return n;
}

void spans__dropped(struct spans *sp, enum span_drop why, uint64_t n)
{
	if (!n)
		return;
	atomic_fetch_add(&sp->dropped[why], n);
	if (sp->f_dropped)
		metrics__add(sp->f_dropped, METRICS_LABELS(span_drop_names[why]), (double)n);
}

uint64_t spans__dropped_count(struct spans *sp, enum span_drop why)
{
	return atomic_load(&sp->dropped[why]);
}

void spans__exported(struct spans *sp, uint64_t n)
{
	atomic_fetch_add(&sp->exported, n);
	if (sp->f_exported && n)
		metrics__add(sp->f_exported, NULL, (double)n);
}

uint64_t spans__exported_count(struct spans *sp)
{
	return atomic_load(&sp->exported);
}

void spans__update(struct spans *sp)
{
	if (sp && sp->f_queue)
		metrics__set(sp->f_queue, NULL, (double)spans__queued(sp));
}
