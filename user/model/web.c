// SPDX-License-Identifier: GPL-2.0-only
#include <stdlib.h>
#include <string.h>

#include "model/web.h"
#include "model/proto/websocket.h"

#define PING_MAX 8
#define POST_MAX 64
#define POST_KEEP_NS (30ULL * 1000000000ULL) /* a send POST older than this has no push */

struct pending_push {
	char id[WS_ID_MAX];
	int32_t room; /* index in w->rooms, -1 none */
	uint64_t ts;
};

/* What only a BitChat socket keeps (5 KiB): its frames, pushes, pings and rooms. */
struct bitchat {
	uint8_t npush, head; /* pending pushes: a ring */
	struct pending_push push[WEB_PENDING];
	uint8_t nping[2], ping_head[2]; /* [from_client]: pings awaiting a pong */
	uint64_t ping[2][PING_MAX];
	uint8_t nrooms;
	int32_t rooms[WEB_CONN_ROOMS];
	struct ws_conn ws;
};

struct web_conn {
	int svc;
	bool is_server;
	bool inflating; /* holds one of the service's inflate places (in its LRU list) */
	struct web_conn *lru_prev, *lru_next; /* most recently fed first */
	bool tls; /* only SSL plaintext is parsed from now on */
	bool bitchat; /* upgraded on a BitChat path: frames are parsed */
	bool ignore; /* upgraded to something not parsed */
	bool reset;
	bool close_frame; /* a close frame was seen */
	bool abnormal; /* ... with an abnormal code */
	uint64_t last_frame_ns;
	uint64_t upgrade_ns; /* the upgrade request's start */
	uint16_t close_code;
	struct trace_ctx trace; /* the upgrade request's traceparent */
	struct conn_meta meta; /* key 0: not known yet (spans off, or before its open) */
	uint32_t sndq;
	struct bitchat *bc; /* allocated at the upgrade: a plain HTTP connection has none */
	struct http_conn http;
};

struct room {
	char name[WS_ID_MAX];
	uint32_t members;
	bool used;
};

/* The connections of one service that inflate permessage-deflate streams. */
struct inflate_pool {
	struct web_conn *head, *tail; /* most and least recently fed */
	uint32_t n;
};

struct web {
	const struct config *cfg;
	struct inflate_pool pool[CONFIG_MAX_SERVICES];
	uint64_t inflate_evicted, inflate_too_big;
	struct web_sink sink;
	struct web_trace_sink trace;
	struct room *rooms;
	size_t nrooms_used;
	unsigned connected, active;
	uint64_t queue;
	uint64_t posts[POST_MAX]; /* send POSTs whose push was not seen yet: start times */
	unsigned npost, post_head;
	struct web_conn *cur; /* the connection being fed, for the parser callbacks */
};

struct web *web__new(const struct web_opts *opts)
{
	struct web *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->rooms = calloc(WEB_ROOMS_MAX, sizeof(*w->rooms));
	if (!w->rooms) {
		free(w);
		return NULL;
	}
	w->cfg = opts->cfg;
	w->sink = opts->sink;
	w->trace = opts->trace_sink;
	return w;
}

void web__free(struct web *w)
{
	if (!w)
		return;
	free(w->rooms);
	free(w);
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 1099511628211ULL;
	return h;
}

/*
 * Linear probing without deletion: a slot once used stays used, so no probe chain is ever
 * cut. A room without members may give its slot to a new room whose probe passes over it
 * (connections only hold indexes of rooms they are members of).
 */
static int32_t room_find(struct web *w, const char *name, bool add)
{
	size_t i, n, b = hash_str(name) & (WEB_ROOMS_MAX - 1);
	int64_t reuse = -1;

	for (n = 0; n < WEB_ROOMS_MAX; n++) {
		i = (b + n) & (WEB_ROOMS_MAX - 1);
		if (!w->rooms[i].used)
			break;
		if (!strcmp(w->rooms[i].name, name))
			return (int32_t)i;
		if (reuse < 0 && !w->rooms[i].members)
			reuse = (int64_t)i;
	}
	if (!add)
		return -1;
	if (reuse >= 0) {
		i = (size_t)reuse;
	} else {
		/* keep empty slots so that probes stay short */
		if (w->nrooms_used >= WEB_ROOMS_MAX * 3 / 4 || n == WEB_ROOMS_MAX)
			return -1;
		w->nrooms_used++;
	}
	memset(&w->rooms[i], 0, sizeof(w->rooms[i]));
	strncpy(w->rooms[i].name, name, WS_ID_MAX - 1);
	w->rooms[i].used = true;
	return (int32_t)i;
}

static void room_join(struct web *w, struct web_conn *c, int32_t r)
{
	int k;

	if (r < 0)
		return;
	for (k = 0; k < c->bc->nrooms; k++)
		if (c->bc->rooms[k] == r)
			return;
	if (c->bc->nrooms == WEB_CONN_ROOMS)
		return;
	c->bc->rooms[c->bc->nrooms++] = r;
	if (!w->rooms[r].members++)
		w->active++;
}

static void room_leave(struct web *w, struct web_conn *c, int32_t r)
{
	int k;

	for (k = 0; k < c->bc->nrooms; k++) {
		if (c->bc->rooms[k] != r)
			continue;
		c->bc->rooms[k] = c->bc->rooms[--c->bc->nrooms];
		if (w->rooms[r].members && !--w->rooms[r].members)
			w->active--;
		return;
	}
}

struct web_conn *web__conn_new(struct web *w, int svc, bool is_server)
{
	struct web_conn *c = calloc(1, sizeof(*c));

	(void)w;
	if (!c)
		return NULL;
	c->svc = svc;
	c->is_server = is_server;
	http__init(&c->http);
	return c;
}

static void lru_unlink(struct inflate_pool *p, struct web_conn *c)
{
	if (c->lru_prev)
		c->lru_prev->lru_next = c->lru_next;
	else
		p->head = c->lru_next;
	if (c->lru_next)
		c->lru_next->lru_prev = c->lru_prev;
	else
		p->tail = c->lru_prev;
	c->lru_prev = c->lru_next = NULL;
}

static void lru_push(struct inflate_pool *p, struct web_conn *c)
{
	c->lru_prev = NULL;
	c->lru_next = p->head;
	if (p->head)
		p->head->lru_prev = c;
	else
		p->tail = c;
	p->head = c;
}

/* c gives its place back (it closed, or no direction follows its stream any more). */
static void inflate_leave(struct web *w, struct web_conn *c)
{
	if (!c->inflating)
		return;
	lru_unlink(&w->pool[c->svc], c);
	w->pool[c->svc].n--;
	c->inflating = false;
	ws__free(&c->bc->ws);
}

/* c's streams cannot be followed any more: counted once, as a desync of the connection. */
static void inflate_evict(struct web *w, struct web_conn *c)
{
	inflate_leave(w, c);
	ws__inflate_drop(&c->bc->ws);
	w->inflate_evicted++;
	w->sink.parse_error(w->sink.ctx, c->svc, "websocket", "desync");
}

/*
 * The 101 agreed on these extensions: permessage-deflate takes one of the service's
 * inflate places, the least recently fed connection giving its own up when none is free
 * (an idle socket matters less than a talking one).
 */
static void inflate_join(struct web *w, struct web_conn *c, const char *extensions)
{
	const struct service_config *sc = &w->cfg->services[c->svc];
	struct inflate_pool *p = &w->pool[c->svc];
	struct ws_deflate pmd;

	ws__parse_extensions(extensions, &pmd);
	ws__set_deflate(&c->bc->ws, &pmd, sc->ws_inflate_message);
	if (!pmd.on)
		return;
	if (p->n >= sc->ws_inflate_conns && p->tail)
		inflate_evict(w, p->tail);
	if (p->n >= sc->ws_inflate_conns) { /* no place at all (inflate_max_connections 0) */
		ws__inflate_drop(&c->bc->ws);
		w->inflate_evicted++;
		w->sink.parse_error(w->sink.ctx, c->svc, "websocket", "desync");
		return;
	}
	c->inflating = true;
	p->n++;
	lru_push(p, c);
}

static bool path_is_bitchat(const struct service_config *sc, const char *path)
{
	int i;

	if (!sc->n_ws_paths)
		return true;
	for (i = 0; i < sc->n_ws_paths; i++)
		if (!strncmp(path, sc->ws_paths[i], strlen(sc->ws_paths[i])))
			return true;
	return false;
}

static void on_http(void *ctx, const struct http_event *ev)
{
	struct web *w = ctx;
	struct web_conn *c = w->cur;
	const struct service_config *sc = &w->cfg->services[c->svc];

	switch (ev->type) {
	case HTTP_EV_EXCHANGE:
		if (w->trace.exchange)
			w->trace.exchange(w->trace.ctx, c->svc, c->is_server, c->tls, &ev->x,
					  &c->meta);
		w->sink.exchange(w->sink.ctx, c->svc, &ev->x);
		break;
	case HTTP_EV_UPGRADE:
		w->sink.exchange(w->sink.ctx, c->svc, &ev->x);
		if (sc->protocol != FP_PROTO_WEBSOCKET || strcmp(ev->x.upgrade_proto, "websocket") ||
		    !path_is_bitchat(sc, ev->x.path)) {
			c->ignore = true; /* upgraded to something not parsed */
			break;
		}
		c->bc = calloc(1, sizeof(*c->bc));
		if (!c->bc) { /* the socket's frames go unparsed, and it is said */
			w->sink.parse_error(w->sink.ctx, c->svc, "websocket", "out_of_memory");
			c->ignore = true;
			break;
		}
		ws__init(&c->bc->ws);
		c->bitchat = true;
		c->last_frame_ns = ev->x.end_ns;
		c->upgrade_ns = ev->x.start_ns;
		c->trace = ev->x.trace;
		w->connected++;
		w->queue += c->sndq;
		inflate_join(w, c, ev->ws_extensions);
		break;
	case HTTP_EV_ERROR:
		w->sink.parse_error(w->sink.ctx, c->svc, "http", ev->reason);
		break;
	}
}

static const char *room_name(const struct web *w, int32_t r)
{
	return r >= 0 ? w->rooms[r].name : "";
}

static void on_message(struct web *w, struct web_conn *c, const struct ws_event *ev)
{
	const struct ws_message *m = &ev->msg;
	const char *type = m->type[0] ? m->type : (m->text ? "text" : "binary");
	int32_t room = m->group_id[0] ? room_find(w, m->group_id, true) : -1;
	int k;

	w->sink.message(w->sink.ctx, m->group_id[0] ? m->group_id : "", type);
	if (!ev->from_client) {
		if (!strcmp(type, "group_message") && room >= 0) {
			/* a member is whoever receives the room's pushes */
			room_join(w, c, room);
			w->sink.room_size(w->sink.ctx, room_name(w, room), w->rooms[room].members);
		}
		if ((!strcmp(type, "message") || !strcmp(type, "group_message"))) {
			/* a send POST in flight caused this push (the push happens inside it) */
			if (w->npost) {
				uint64_t t0 = w->posts[w->post_head];

				w->post_head = (w->post_head + 1) % POST_MAX;
				w->npost--;
				if (ev->ts_ns >= t0 && ev->ts_ns - t0 < POST_KEEP_NS)
					w->sink.message_latency(w->sink.ctx, room_name(w, room),
								(ev->ts_ns - t0) / 1e9);
			}
			if (m->message_id[0]) {
				struct pending_push *p;

				if (c->bc->npush == WEB_PENDING) { /* the oldest got no ack: drop it */
					c->bc->head = (c->bc->head + 1) % WEB_PENDING;
					c->bc->npush--;
				}
				p = &c->bc->push[(c->bc->head + c->bc->npush++) % WEB_PENDING];
				memcpy(p->id, m->message_id, sizeof(p->id));
				p->room = room;
				p->ts = ev->ts_ns;
			}
		}
		if (!strcmp(type, "pong") && c->bc->nping[1]) {
			uint64_t t0 = c->bc->ping[1][c->bc->ping_head[1]];

			c->bc->ping_head[1] = (c->bc->ping_head[1] + 1) % PING_MAX;
			c->bc->nping[1]--;
			w->sink.p2p_latency(w->sink.ctx, ev->ts_ns > t0 ? (ev->ts_ns - t0) / 1e9 : 0);
		}
		return;
	}
	if (!strcmp(type, "ack") && m->message_id[0]) {
		for (k = 0; k < c->bc->npush; k++) {
			struct pending_push *p = &c->bc->push[(c->bc->head + k) % WEB_PENDING];

			if (strcmp(p->id, m->message_id))
				continue;
			/* the span first: the latency's exemplar is that span */
			if (w->trace.message)
				w->trace.message(w->trace.ctx, c->svc, c->is_server, p->ts,
						 ev->ts_ns, &c->meta);
			w->sink.message_latency(w->sink.ctx, room_name(w, p->room),
						ev->ts_ns > p->ts ? (ev->ts_ns - p->ts) / 1e9 : 0);
			/* close the hole: later entries move up one */
			for (; k + 1 < c->bc->npush; k++)
				c->bc->push[(c->bc->head + k) % WEB_PENDING] =
					c->bc->push[(c->bc->head + k + 1) % WEB_PENDING];
			c->bc->npush--;
			break;
		}
	} else if (!strcmp(type, "ping")) {
		if (c->bc->nping[1] < PING_MAX)
			c->bc->ping[1][(c->bc->ping_head[1] + c->bc->nping[1]++) % PING_MAX] = ev->ts_ns;
	} else if (!strcmp(type, "subscribe") || !strcmp(type, "unsubscribe")) {
		for (k = 0; k < m->nrooms; k++) {
			int32_t r = room_find(w, m->rooms[k], type[0] == 's');

			if (type[0] == 's')
				room_join(w, c, r);
			else if (r >= 0)
				room_leave(w, c, r);
		}
	}
}

static void on_ws(void *ctx, const struct ws_event *ev)
{
	struct web *w = ctx;
	struct web_conn *c = w->cur;
	int from = ev->from_client;

	c->last_frame_ns = ev->ts_ns;
	switch (ev->type) {
	case WS_EV_MESSAGE:
		on_message(w, c, ev);
		break;
	case WS_EV_PING: /* control frames: the other side answers */
		if (c->bc->nping[from] < PING_MAX)
			c->bc->ping[from][(c->bc->ping_head[from] + c->bc->nping[from]++) % PING_MAX] =
				ev->ts_ns;
		break;
	case WS_EV_PONG:
		if (c->bc->nping[!from]) {
			uint64_t t0 = c->bc->ping[!from][c->bc->ping_head[!from]];

			c->bc->ping_head[!from] = (c->bc->ping_head[!from] + 1) % PING_MAX;
			c->bc->nping[!from]--;
			w->sink.p2p_latency(w->sink.ctx, ev->ts_ns > t0 ? (ev->ts_ns - t0) / 1e9 : 0);
		}
		break;
	case WS_EV_CLOSE:
		if (!c->close_frame && ev->close_code && ev->close_code != 1000 &&
		    ev->close_code != 1001)
			c->abnormal = true;
		if (!c->close_frame)
			c->close_code = ev->close_code;
		c->close_frame = true;
		break;
	case WS_EV_ERROR:
	case WS_EV_INFLATE_LOST:
		w->sink.parse_error(w->sink.ctx, c->svc, "websocket", ev->reason);
		break;
	case WS_EV_TOO_BIG:
		w->inflate_too_big++;
		break;
	}
}

/* "POST /api/bitchat/messages/send" or "POST /api/bitchat/groups/{id}/messages" */
static bool is_send_post(const uint8_t *d, size_t n)
{
	static const char direct[] = "POST /api/bitchat/messages/send";
	static const char group[] = "POST /api/bitchat/groups/";
	size_t i;

	if (n >= sizeof(direct) - 1 && !memcmp(d, direct, sizeof(direct) - 1))
		return true;
	if (n < sizeof(group) - 1 || memcmp(d, group, sizeof(group) - 1))
		return false;
	for (i = sizeof(group) - 1; i < n && d[i] != '/' && d[i] != ' '; i++)
		;
	return n - i >= 9 && !memcmp(d + i, "/messages", 9) &&
	       (n - i == 9 || d[i + 9] == ' ' || d[i + 9] == '?');
}

static bool tls_record(const uint8_t *d, size_t n)
{
	/* handshake record, TLS 1.0..1.3 record versions (RFC 8446 5.1) */
	return n >= 3 && d[0] == 0x16 && d[1] == 0x03 && d[2] <= 0x04;
}

/* Bytes of one direction to the parser of the moment: HTTP, then WebSocket frames from
 * where an upgrade took effect. */
static void feed_piece(struct web *w, struct web_conn *c, bool from_client, const uint8_t *data,
		       size_t captured, size_t total, const uint8_t *tail, size_t tail_len,
		       uint64_t ts_ns)
{
	size_t n;

	if (c->bitchat) {
		ws__feed(&c->bc->ws, from_client, data, captured, total, ts_ns, on_ws, w);
		return;
	}
	n = http__feed(&c->http, from_client, data, captured, total, tail, tail_len, ts_ns,
		       on_http, w);
	if (c->bitchat && n < total) /* frames right behind the 101 */
		ws__feed(&c->bc->ws, from_client, data + (n < captured ? n : captured),
			 n < captured ? captured - n : 0, total - n, ts_ns, on_ws, w);
}

void web__data(struct web *w, struct web_conn *c, bool from_client, const uint8_t *data,
	       size_t captured, size_t total, const uint8_t *tail, size_t tail_len, bool tls,
	       uint32_t sndq, uint64_t ts_ns)
{
	web__set_sndq(w, c, sndq);
	if (tls) {
		c->tls = true;
	} else if (c->tls || (!c->bitchat && !c->ignore && tls_record(data, captured))) {
		c->tls = true; /* ciphertext: its plaintext comes from the SSL uprobes */
		return;
	}
	if (c->ignore)
		return;
	w->cur = c;
	if (!c->bitchat && from_client && w->cfg->services[c->svc].protocol == FP_PROTO_WEBSOCKET &&
	    is_send_post(data, captured)) {
		if (w->npost == POST_MAX) {
			w->post_head = (w->post_head + 1) % POST_MAX;
			w->npost--;
		}
		w->posts[(w->post_head + w->npost++) % POST_MAX] = ts_ns;
	}
	/* A long tail (more than the parser's end marker) is known bytes of their own: the
	 * prefix, the gap before the tail, then the tail. A message that starts there (the
	 * next pipelined response) is parsed. WebSocket frames take any tail so: a compressed
	 * message is inflated only when no byte of it is missing. */
	if (tail && tail_len && (tail_len > HTTP_TAIL_MAX || c->bitchat) && total >= captured &&
	    tail_len <= total - captured) {
		feed_piece(w, c, from_client, data, captured, total - tail_len, NULL, 0, ts_ns);
		feed_piece(w, c, from_client, tail, tail_len, tail_len, NULL, 0, ts_ns);
	} else {
		feed_piece(w, c, from_client, data, captured, total, tail, tail_len, ts_ns);
	}
	w->cur = NULL;
	if (c->inflating) {
		if (!ws__inflating(&c->bc->ws)) {
			inflate_leave(w, c);
		} else if (w->pool[c->svc].head != c) {
			lru_unlink(&w->pool[c->svc], c);
			lru_push(&w->pool[c->svc], c);
		}
	}
}

void web__set_sndq(struct web *w, struct web_conn *c, uint32_t sndq)
{
	if (c->bitchat) {
		w->queue -= c->sndq;
		w->queue += sndq;
	}
	c->sndq = sndq;
}

void web__set_meta(struct web_conn *c, const struct conn_meta *meta)
{
	c->meta = *meta;
}

void web__reset(struct web_conn *c)
{
	c->reset = true;
}

static void release(struct web *w, struct web_conn *c)
{
	http__free(&c->http);
	inflate_leave(w, c);
	if (c->bc) {
		ws__free(&c->bc->ws);
		while (c->bc->nrooms)
			room_leave(w, c, c->bc->rooms[0]);
		free(c->bc);
	}
	if (c->bitchat) {
		w->connected--;
		w->queue -= c->sndq;
	}
	free(c);
}

void web__close(struct web *w, struct web_conn *c, uint64_t ts_ns)
{
	enum web_drop why = WEB_DROP_NONE;

	if (!c)
		return;
	if (!c->bitchat && !c->ignore) {
		w->cur = c;
		http__close(&c->http, ts_ns, on_http, w);
		w->cur = NULL;
	}
	if (c->bitchat) {
		uint64_t idle = (uint64_t)w->cfg->services[c->svc].ws_idle_s * 1000000000ULL;

		if (c->abnormal)
			why = WEB_DROP_ABNORMAL_CLOSE;
		else if (c->reset)
			why = WEB_DROP_RESET;
		else if (!c->close_frame)
			why = ts_ns > c->last_frame_ns && ts_ns - c->last_frame_ns >= idle ?
				      WEB_DROP_IDLE_TIMEOUT :
				      WEB_DROP_NO_CLOSE_FRAME;
		if (why != WEB_DROP_NONE)
			w->sink.dropped(w->sink.ctx, why);
		if (w->trace.session)
			w->trace.session(w->trace.ctx, c->svc, c->is_server, c->tls, &c->trace,
					 c->upgrade_ns, ts_ns, c->close_code, why, &c->meta);
	}
	release(w, c);
}

void web__forget(struct web *w, struct web_conn *c)
{
	if (c)
		release(w, c);
}

unsigned web__connected(const struct web *w)
{
	return w ? w->connected : 0;
}

unsigned web__active_rooms(const struct web *w)
{
	return w ? w->active : 0;
}

uint64_t web__queue_bytes(const struct web *w)
{
	return w ? w->queue : 0;
}

uint64_t web__inflate_evicted(const struct web *w)
{
	return w ? w->inflate_evicted : 0;
}

uint64_t web__inflate_too_big(const struct web *w)
{
	return w ? w->inflate_too_big : 0;
}

unsigned web__inflating(const struct web *w)
{
	unsigned n = 0;
	int i;

	for (i = 0; w && i < CONFIG_MAX_SERVICES; i++)
		n += w->pool[i].n;
	return n;
}
