// SPDX-License-Identifier: GPL-2.0-only
#include <stdlib.h>
#include <string.h>

#include "model/streams.h"

#define PENDING 32 /* outstanding requests remembered per connection */
#define EVICT_IDLE_NS (600ULL * 1000000000ULL) /* forget connections silent this long */

struct stream {
	uint64_t sk;
	uint64_t start_ns;
	uint64_t last_ns;
	int32_t next; /* hash chain, -1 ends */
	bool used;
	bool is_server;
	bool handshake_done;
	bool idle_reported;
	bool failed; /* a handshake failure was reported */
	bool opened; /* its open was seen (data can come first: two rings) */
	bool closing; /* its close was seen; bytes sent before it may still be on the way */
	bool closed; /* kept a moment so that late data is not taken for a new stream */
	bool reset; /* a reset was seen: bytes may still be read after the close */
	bool web_proto; /* http/websocket: the session is web, the Betanet fields unused */
	int svc;
	struct web_conn *web; /* web_proto: NULL if it could not be allocated */
	struct conn_meta meta; /* Betanet spans (a web_conn keeps its own); key 0: unset */
	uint64_t closed_ns;
	uint64_t grace_ns; /* after closed_ns: see streams__close */
	uint8_t head, count; /* pending ring */
	uint64_t pend_ts[PENDING];
	bool pend_data[PENDING];
	struct betanet_parser p;
};

struct streams {
	struct stream *e;
	int32_t *bucket;
	size_t cap, nbuckets, used, handshaken;
	int32_t free_head; /* returned entries chained through next */
	size_t fresh; /* entries [fresh, cap) were never used */
	uint64_t evicted;
	uint64_t timeout_ns;
	struct betanet_sink sink;
	struct betanet_trace_sink trace;
	const struct config *cfg;
	struct web *web;
	struct stream *cur; /* the stream being fed, for the parser callback */
	/* Connections that finished: their keys, kept CLOSED_KEEP_NS so that late bytes
	 * are not taken for a new stream. A ring in close order with a hash index: 24
	 * bytes each instead of a whole stream entry (at 17,000 closes a second, the
	 * 2 s keep alone would otherwise need 34,000 entries of the stream table). */
	struct tomb *tomb;
	int32_t *tomb_bucket;
	size_t tomb_head, tomb_n;
	uint64_t tomb_evicted;
};

struct tomb {
	uint64_t key;
	uint64_t ns;
	int32_t next;
};

#define TOMB_CAP 65536 /* a power of two */

static size_t bucket_of(const struct streams *s, uint64_t sk)
{
	return (size_t)((sk >> 6) * 0x9E3779B97F4A7C15ULL >> 20) & (s->nbuckets - 1);
}

struct streams *streams__new(const struct streams_opts *opts)
{
	struct streams *s = calloc(1, sizeof(*s));
	size_t i;

	if (!s)
		return NULL;
	s->cap = opts->max_streams ? opts->max_streams : STREAMS_DEFAULT_MAX;
	for (s->nbuckets = 1; s->nbuckets < s->cap; s->nbuckets <<= 1)
		;
	/* calloc: pages of unused entries are never touched, so RSS follows use */
	s->e = calloc(s->cap, sizeof(*s->e));
	s->bucket = malloc(s->nbuckets * sizeof(*s->bucket));
	if (!s->e || !s->bucket) {
		streams__free(s);
		return NULL;
	}
	for (i = 0; i < s->nbuckets; i++)
		s->bucket[i] = -1;
	s->tomb = calloc(TOMB_CAP, sizeof(*s->tomb));
	s->tomb_bucket = malloc(TOMB_CAP * sizeof(*s->tomb_bucket));
	if (!s->tomb || !s->tomb_bucket) {
		streams__free(s);
		return NULL;
	}
	for (i = 0; i < TOMB_CAP; i++)
		s->tomb_bucket[i] = -1;
	/* Entries never used are taken in order (fresh); the free list holds returned
	 * ones. Nothing touches an entry before its first use, so memory follows use. */
	s->free_head = -1;
	s->fresh = 0;
	s->timeout_ns = opts->routing_timeout_ns ? opts->routing_timeout_ns : 5000000000ULL;
	s->sink = opts->sink;
	s->trace = opts->trace_sink;
	s->cfg = opts->cfg;
	if (s->cfg) {
		struct web_opts wo = { .cfg = s->cfg, .sink = opts->web_sink,
				       .trace_sink = opts->web_trace_sink };

		s->web = web__new(&wo);
		if (!s->web) {
			streams__free(s);
			return NULL;
		}
	}
	return s;
}

void streams__free(struct streams *s)
{
	if (!s)
		return;
	if (s->e) {
		size_t i;

		for (i = 0; i < s->fresh; i++)
			if (s->e[i].used && s->e[i].web)
				web__forget(s->web, s->e[i].web);
	}
	web__free(s->web);
	free(s->e);
	free(s->bucket);
	free(s->tomb);
	free(s->tomb_bucket);
	free(s);
}

static struct stream *find(struct streams *s, uint64_t sk)
{
	int32_t i;

	for (i = s->bucket[bucket_of(s, sk)]; i >= 0; i = s->e[i].next)
		if (s->e[i].sk == sk)
			return &s->e[i];
	return NULL;
}

static size_t tomb_bucket_of(uint64_t key)
{
	return (size_t)((key >> 6) * 0x9E3779B97F4A7C15ULL >> 20) & (TOMB_CAP - 1);
}

static bool tomb_has(const struct streams *s, uint64_t key)
{
	int32_t i;

	for (i = s->tomb_bucket[tomb_bucket_of(key)]; i >= 0; i = s->tomb[i].next)
		if (s->tomb[i].key == key)
			return true;
	return false;
}

/* The oldest out: unlinked from its chain. */
static void tomb_pop(struct streams *s)
{
	int32_t idx = (int32_t)s->tomb_head, *pp;

	pp = &s->tomb_bucket[tomb_bucket_of(s->tomb[idx].key)];
	while (*pp >= 0 && *pp != idx)
		pp = &s->tomb[*pp].next;
	if (*pp == idx)
		*pp = s->tomb[idx].next;
	s->tomb_head = (s->tomb_head + 1) & (TOMB_CAP - 1);
	s->tomb_n--;
}

static void tomb_add(struct streams *s, uint64_t key, uint64_t ns)
{
	size_t b = tomb_bucket_of(key), idx;

	if (s->tomb_n == TOMB_CAP) { /* closes faster than 32,768 a second: the oldest goes */
		tomb_pop(s);
		s->tomb_evicted++;
	}
	idx = (s->tomb_head + s->tomb_n) & (TOMB_CAP - 1);
	s->tomb[idx].key = key;
	s->tomb[idx].ns = ns;
	s->tomb[idx].next = s->tomb_bucket[b];
	s->tomb_bucket[b] = (int32_t)idx;
	s->tomb_n++;
}

/* Without a config (unit tests of the Betanet logic) every service is Betanet. */
static bool is_web(const struct streams *s, int svc)
{
	return s->cfg && svc >= 0 && svc < s->cfg->n_services &&
	       (s->cfg->services[svc].protocol == FP_PROTO_HTTP ||
		s->cfg->services[svc].protocol == FP_PROTO_WEBSOCKET);
}

static struct stream *insert(struct streams *s, uint64_t sk, int svc, bool is_server, uint64_t now)
{
	size_t b = bucket_of(s, sk);
	struct stream *st;
	int32_t i = s->free_head;

	if (i >= 0) {
		s->free_head = s->e[i].next;
	} else if (s->fresh < s->cap) {
		i = (int32_t)s->fresh++;
	} else {
		s->evicted++;
		return NULL;
	}
	st = &s->e[i];
	memset(st, 0, sizeof(*st));
	st->used = true;
	st->sk = sk;
	st->is_server = is_server;
	st->start_ns = now;
	st->last_ns = now;
	st->svc = svc;
	st->web_proto = is_web(s, svc);
	if (st->web_proto)
		st->web = web__conn_new(s->web, svc, is_server);
	else
		betanet__init(&st->p);
	st->next = s->bucket[b];
	s->bucket[b] = i;
	s->used++;
	return st;
}

static void forget(struct streams *s, struct stream *st)
{
	int32_t idx = (int32_t)(st - s->e), *pp = &s->bucket[bucket_of(s, st->sk)];

	while (*pp >= 0 && *pp != idx)
		pp = &s->e[*pp].next;
	if (*pp == idx)
		*pp = st->next;
	if (st->handshake_done)
		s->handshaken--;
	if (st->web) {
		web__forget(s->web, st->web);
		st->web = NULL;
	}
	st->used = false;
	st->next = s->free_head;
	s->free_head = idx;
	s->used--;
}

static void pend_push(struct streams *s, struct stream *st, uint64_t ts, bool data)
{
	(void)s;
	if (st->count == PENDING) {
		/* the oldest cannot be paired any more: drop it unreported */
		st->head = (st->head + 1) % PENDING;
		st->count--;
	}
	st->pend_ts[(st->head + st->count) % PENDING] = ts;
	st->pend_data[(st->head + st->count) % PENDING] = data;
	st->count++;
}

static void finish(struct streams *s, struct stream *st, uint64_t ts_ns);

static void on_parser_event(void *ctx, const struct betanet_event *ev)
{
	struct streams *s = ctx;
	struct stream *st = s->cur;
	const struct betanet_sink *k = &s->sink;

	switch (ev->type) {
	case BETANET_EV_FRAME:
		k->frame(k->ctx, ev->frame_type, ev->from_server, ev->wire_len);
		if (ev->frame_type == BETANET_DATA || ev->frame_type == BETANET_CONTROL) {
			pend_push(s, st, ev->ts_ns, ev->frame_type == BETANET_DATA);
		} else if (ev->frame_type == BETANET_RESPONSE && st->count) {
			/* no message id: a response answers the oldest open request */
			uint64_t t0 = st->pend_ts[st->head];
			bool data = st->pend_data[st->head];
			double lat = ev->ts_ns > t0 ? (ev->ts_ns - t0) / 1e9 : 0;

			st->head = (st->head + 1) % PENDING;
			st->count--;
			/* the span first: the latencies' exemplar is that span */
			if (s->trace.message)
				s->trace.message(s->trace.ctx, st->svc, st->is_server, data, t0,
						 ev->ts_ns, &st->meta);
			k->message_latency(k->ctx, lat);
			if (data)
				k->routing_latency(k->ctx, lat);
		}
		break;
	case BETANET_EV_HANDSHAKE_DONE:
		if (!st->handshake_done) {
			st->handshake_done = true;
			s->handshaken++;
			if (s->trace.circuit && st->opened)
				s->trace.circuit(s->trace.ctx, st->svc, st->is_server, st->start_ns,
						 ev->ts_ns, NULL, &st->meta);
			k->circuit_build(k->ctx, ev->ts_ns > st->start_ns ?
							 (ev->ts_ns - st->start_ns) / 1e9 :
							 0);
		}
		break;
	case BETANET_EV_ERROR:
		/* A stream whose open was never seen started before the probe: parsed from
		 * the middle, its "errors" say nothing about the node. */
		if (ev->error == BETANET_ERR_DESYNC || !st->opened) {
			k->failure(k->ctx, NULL); /* the probe lost the framing, not the node */
		} else {
			if (ev->error != BETANET_ERR_BAD_FRAME) {
				if (!st->failed && !st->handshake_done && s->trace.circuit)
					s->trace.circuit(s->trace.ctx, st->svc, st->is_server,
							 st->start_ns, ev->ts_ns,
							 betanet__error_name(ev->error), &st->meta);
				st->failed = true;
			}
			k->failure(k->ctx, betanet__error_name(ev->error));
		}
		break;
	}
}

#define CLOSED_KEEP_NS 2000000000ULL

void streams__open(struct streams *s, uint64_t sk, int svc, bool is_server, uint64_t start_ns)
{
	struct stream *st = find(s, sk);

	/* The lifecycle and the data come through different ring buffers: the first
	 * bytes may have been seen already. Anything else is an old connection whose
	 * socket address was reused. */
	if (st && !st->opened && !st->closed && !st->closing) {
		st->opened = true;
		st->is_server = is_server;
		if (start_ns < st->start_ns)
			st->start_ns = start_ns;
		return;
	}
	if (st) {
		finish(s, st, start_ns);
		forget(s, st);
	}
	st = insert(s, sk, svc, is_server, start_ns);
	if (st)
		st->opened = true;
}

/* The chunk as the parser sees it: the prefix, then gaps and snippets in order. */
static void feed(struct streams *s, struct stream *st, bool from_server, const uint8_t *data,
		 size_t captured, size_t total, const struct stream_snip *snips, size_t nsnip,
		 uint64_t ts_ns)
{
	size_t pos = captured, i, skip;

	if (!nsnip) {
		betanet__feed(&st->p, from_server, data, captured, total, ts_ns, on_parser_event, s);
		return;
	}
	betanet__feed(&st->p, from_server, data, captured, captured, ts_ns, on_parser_event, s);
	for (i = 0; i < nsnip; i++) {
		const struct stream_snip *sn = &snips[i];

		if (sn->off + sn->len <= pos || sn->off + sn->len > total)
			continue;
		if (sn->off > pos) {
			betanet__feed(&st->p, from_server, data, 0, sn->off - pos, ts_ns,
				      on_parser_event, s);
			pos = sn->off;
		}
		skip = pos - sn->off;
		betanet__feed(&st->p, from_server, sn->bytes + skip, sn->len - skip, sn->len - skip,
			      ts_ns, on_parser_event, s);
		pos = sn->off + sn->len;
	}
	if (total > pos)
		betanet__feed(&st->p, from_server, data, 0, total - pos, ts_ns, on_parser_event, s);
}

/* HTTP and WebSocket: the one snippet the kernel adds is the buffer's tail. */
static void feed_web(struct streams *s, struct stream *st, const struct stream_chunk *ch)
{
	const uint8_t *tail = NULL;
	size_t tail_len = 0;

	if (!st->web)
		return;
	if (ch->tail_len && ch->captured + ch->tail_len <= ch->total) {
		tail = ch->tail;
		tail_len = ch->tail_len;
	} else if (ch->nsnip && ch->snips[0].off + ch->snips[0].len == ch->total &&
		   ch->snips[0].off + ch->snips[0].len > ch->captured) {
		/* the last bytes of an iovec array; those the prefix has already are left out */
		size_t skip = ch->snips[0].off < ch->captured ? ch->captured - ch->snips[0].off : 0;

		tail = ch->snips[0].bytes + skip;
		tail_len = ch->snips[0].len - skip;
	}
	web__data(s->web, st->web, st->is_server != ch->tx, ch->data, ch->captured, ch->total,
		  tail, tail_len, ch->tls, ch->sndq, ch->ts_ns);
}

void streams__data(struct streams *s, uint64_t sk, int svc, const struct stream_chunk *ch)
{
	struct stream *st = find(s, sk);
	uint64_t ts_ns = ch->ts_ns;

	/* The key names one connection (socket and start), so bytes after its close are
	 * its own: the last reads from a socket that a reset closed (bpf/flows.bpf.h). They
	 * count while the close is in its grace period, not once the connection finished. */
	if (st ? st->closed : tomb_has(s, sk))
		return;
	/* The kernel reuses socket addresses: bytes older than this connection's start
	 * belong to the previous one, drained from their ring after this one's open. */
	if (st && ts_ns < st->start_ns)
		return;
	/* Data before its open (see streams__open), or of a connection older than the
	 * probe: that one starts mid-stream and will stop at its first desync. */
	if (!st)
		st = insert(s, sk, svc, ch->is_server, ts_ns);
	if (!st)
		return;
	st->last_ns = ts_ns;
	st->idle_reported = false;
	s->cur = st;
	if (st->web_proto)
		feed_web(s, st, ch);
	else
		feed(s, st, ch->is_server == ch->tx, ch->data, ch->captured, ch->total, ch->snips,
		     ch->nsnip, ts_ns);
	s->cur = NULL;
}

void streams__set_meta(struct streams *s, uint64_t sk, const struct conn_meta *meta)
{
	struct stream *st = find(s, sk);

	if (!st || st->closing || st->closed)
		return;
	if (st->web)
		web__set_meta(st->web, meta);
	else if (!st->web_proto)
		st->meta = *meta;
}

void streams__set_sndq(struct streams *s, uint64_t sk, uint32_t sndq)
{
	struct stream *st = find(s, sk);

	if (st && st->web && !st->closing && !st->closed)
		web__set_sndq(s->web, st->web, sndq);
}

void streams__reset(struct streams *s, uint64_t sk)
{
	struct stream *st = find(s, sk);

	if (!st)
		return;
	st->reset = true;
	if (st->web)
		web__reset(st->web);
}

static void expire_pending(struct streams *s, struct stream *st, uint64_t now, bool all)
{
	while (st->count && (all || now - st->pend_ts[st->head] > s->timeout_ns)) {
		st->head = (st->head + 1) % PENDING;
		st->count--;
		s->sink.routing_failure(s->sink.ctx);
	}
}

/* The connection's end: its outstanding requests got no response, and a close before
 * the handshake completed is an aborted handshake. */
static void finish(struct streams *s, struct stream *st, uint64_t ts_ns)
{
	if (st->closed)
		return;
	if (st->web_proto) {
		web__close(s->web, st->web, ts_ns);
		st->web = NULL;
		st->closed = true;
		return;
	}
	expire_pending(s, st, ts_ns, true);
	if (!st->handshake_done && !st->failed && st->opened) {
		s->sink.failure(s->sink.ctx, "aborted_handshake");
		if (s->trace.circuit)
			s->trace.circuit(s->trace.ctx, st->svc, st->is_server, st->start_ns, ts_ns,
					 "aborted_handshake", &st->meta);
	}
	if (st->handshake_done) {
		st->handshake_done = false;
		s->handshaken--;
	}
	st->closed = true;
}

/* Lifecycle and data come through different ring buffers: the last bytes of a
 * connection can be read after its close. The close takes effect a moment later. */
void streams__close(struct streams *s, uint64_t sk, uint64_t ts_ns, bool clean)
{
	struct stream *st = find(s, sk);

	if (!st || st->closed || st->closing)
		return;
	st->closing = true;
	st->closed_ns = ts_ns;
	st->grace_ns = clean && !st->reset ? STREAMS_CLEAN_GRACE_NS : STREAMS_CLOSE_GRACE_NS;
}

void streams__forget(struct streams *s, uint64_t sk)
{
	struct stream *st = find(s, sk);

	if (st)
		forget(s, st);
}

void streams__tick(struct streams *s, uint64_t now)
{
	size_t i;

	while (s->tomb_n && now > s->tomb[s->tomb_head].ns + CLOSED_KEEP_NS)
		tomb_pop(s);

	for (i = 0; i < s->fresh; i++) {
		struct stream *st = &s->e[i];

		if (!st->used)
			continue;
		if (st->closing && !st->closed && now > st->closed_ns + st->grace_ns)
			finish(s, st, st->closed_ns);
		if (st->closed) { /* its key stays known a while, its entry goes */
			tomb_add(s, st->sk, st->closed_ns);
			forget(s, st);
			continue;
		}
		if (st->count && now > st->pend_ts[st->head])
			expire_pending(s, st, now, false);
		/* idle: a working session gone silent (a client whose server end is
		 * here has no bytes of its own: it is never "idle") */
		if (st->handshake_done && !st->idle_reported && now > st->last_ns &&
		    now - st->last_ns >= BETANET_IDLE_NS) {
			st->idle_reported = true;
			s->sink.failure(s->sink.ctx, "idle_timeout");
		}
		if (now > st->last_ns && now - st->last_ns >= EVICT_IDLE_NS) {
			if (st->web_proto) /* a silent BitChat socket's end is reported */
				finish(s, st, now);
			forget(s, st);
		}
	}
}

size_t streams__count(const struct streams *s)
{
	return s->used;
}

size_t streams__handshaken(const struct streams *s)
{
	return s->handshaken;
}

const struct web *streams__web(const struct streams *s)
{
	return s ? s->web : NULL;
}

uint64_t streams__evicted(const struct streams *s)
{
	return s->evicted + s->tomb_evicted;
}
