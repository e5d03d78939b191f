// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry/web_metrics.h"

#define MAX_TYPES 32 /* distinct message_type values; more are "other" */

/* A bounded set of label values: the first `max` distinct values seen keep their own
 * label; later ones share "other". Open addressing over strdup'ed strings. */
struct labelset {
	char **slot;
	size_t nslots, n, max;
};

static int labelset_init(struct labelset *ls, size_t max)
{
	for (ls->nslots = 4; ls->nslots < 2 * max; ls->nslots <<= 1)
		;
	ls->slot = calloc(ls->nslots, sizeof(*ls->slot));
	ls->max = max;
	ls->n = 0;
	return ls->slot ? 0 : -1;
}

static void labelset_free(struct labelset *ls)
{
	size_t i;

	if (!ls->slot)
		return;
	for (i = 0; i < ls->nslots; i++)
		free(ls->slot[i]);
	free(ls->slot);
	ls->slot = NULL;
}

/* v itself when it has (or gets) a place, else "other"; *overflow set in that case. */
static const char *labelset_get(struct labelset *ls, const char *v, bool *overflow)
{
	uint64_t h = 1469598103934665603ULL;
	const char *p;
	size_t i;

	*overflow = false;
	for (p = v; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ULL;
	for (i = h & (ls->nslots - 1);; i = (i + 1) & (ls->nslots - 1)) {
		if (!ls->slot[i])
			break;
		if (!strcmp(ls->slot[i], v))
			return v;
	}
	if (ls->n >= ls->max || !(ls->slot[i] = strdup(v))) {
		*overflow = true;
		return "other";
	}
	ls->n++;
	return v;
}

/*
 * The route labels of a service's recent paths. Templating a path (http__route over the
 * service's patterns, then the label set) costs more than the rest of a request's
 * accounting, and clients repeat paths: keep-alive clients, polling dashboards. Direct
 * mapped; a path's label never changes while the routes stay (the label set only grows),
 * and a reload forgets them all (web_metrics__routes_changed).
 */
#define PATH_MEMO 16 /* a power of two */

struct path_memo {
	uint16_t len; /* the path's length + 1; 0: empty */
	bool over; /* the label is "other": the cap was reached */
	char path[HTTP_PATH_MAX];
	char label[HTTP_PATH_MAX];
};

struct web_metrics {
	const struct config *cfg;
	struct metric_family *requests, *duration, *next_api, *next_page, *overflow,
		*parse_errors, *clients, *rooms, *messages, *dropped, *queue, *msg_lat,
		*room_size, *p2p;
	struct labelset paths[CONFIG_MAX_SERVICES];
	struct path_memo *memo[CONFIG_MAX_SERVICES]; /* PATH_MEMO each, with paths[] */
	struct labelset room_ids, types;
	struct spans *spans; /* NULL: spans off, no exemplars */
};

static const double http_buckets[] = { .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10 };
static const double bc_lat_buckets[] = { .001, .005, .01, .025, .05, .1, .25, .5, 1 };
static const double room_buckets[] = { 1, 2, 5, 10, 25, 50, 100, 250, 500 };
static const double p2p_buckets[] = { .01, .05, .1, .25, .5, 1, 2 };
static const char *const drop_names[WEB_DROP_N] = {
	[WEB_DROP_ABNORMAL_CLOSE] = "abnormal_close",
	[WEB_DROP_RESET] = "reset",
	[WEB_DROP_NO_CLOSE_FRAME] = "no_close_frame",
	[WEB_DROP_IDLE_TIMEOUT] = "idle_timeout",
};
static const char *const methods[] = { "GET",	  "HEAD",    "POST",  "PUT", "DELETE",
				       "CONNECT", "OPTIONS", "TRACE", "PATCH" };

#define AT(f) offsetof(struct web_metrics, f)

static const struct metric_def web_defs[] = {
	{ "http_requests_total",
	  "HTTP requests by status, method and route template, each counted once (server end when it runs on this host).",
	  METRIC_COUNTER, { "service", "status", "method", "path" }, .offset = AT(requests) },
	{ "http_request_duration_seconds", "First request byte to the last response byte.",
	  METRIC_HISTOGRAM, { "service", "method", "path" }, .buckets = http_buckets,
	  .n_buckets = ARRAY_LEN(http_buckets), .offset = AT(duration) },
	{ "nextjs_api_latency_seconds",
	  "Next.js API routes (/api/*): first request byte to the last response byte.",
	  METRIC_HISTOGRAM, { "service", "path" }, .buckets = http_buckets,
	  .n_buckets = ARRAY_LEN(http_buckets), .offset = AT(next_api) },
	{ "nextjs_page_render_duration_seconds",
	  "Next.js page routes (not /api/*, not /_next/ assets or files): first request byte to the last response byte.",
	  METRIC_HISTOGRAM, { "service", "path" }, .buckets = http_buckets,
	  .n_buckets = ARRAY_LEN(http_buckets), .offset = AT(next_page) },
	{ "fogprobe_http_path_overflow_total",
	  "Requests counted under path=\"other\": the service's max_paths distinct route templates were taken.",
	  METRIC_COUNTER, { "service" }, .offset = AT(overflow) },
	{ "fogprobe_l7_parse_errors_total",
	  "A direction of a connection that stopped parsing (not that protocol, framing lost in uncaptured bytes, protocol violation), or a response whose request was not seen (no_request).",
	  METRIC_COUNTER, { "service", "protocol", "reason" }, .offset = AT(parse_errors) },
	{ "fogcompute_bitchat_connected_clients",
	  "Open WebSocket connections on the BitChat paths, each counted once.", METRIC_GAUGE,
	  .offset = AT(clients) },
	{ "fogcompute_bitchat_active_rooms",
	  "Rooms with at least one open connection that subscribed to it or received its group messages.",
	  METRIC_GAUGE, .offset = AT(rooms) },
	{ "fogcompute_bitchat_messages_total",
	  "WebSocket data messages on BitChat sockets by JSON type and room (group_id; \"none\" if it names none), one per connection they cross.",
	  METRIC_COUNTER, { "room_id", "message_type" }, .offset = AT(messages) },
	{ "fogcompute_bitchat_connections_dropped_total",
	  "BitChat WebSocket connections that ended abnormally, by reason.", METRIC_COUNTER,
	  { "reason" }, .offset = AT(dropped) },
	{ "fogcompute_bitchat_message_queue_size",
	  "Bytes written to BitChat sockets and not yet acknowledged by the peer (Send-Q), read at the scrape.",
	  METRIC_GAUGE, .offset = AT(queue) },
	{ "fogcompute_bitchat_message_latency_seconds",
	  "A message push to the ack with the same message_id; a send POST to its push.",
	  METRIC_HISTOGRAM, { "room_id" }, .buckets = bc_lat_buckets,
	  .n_buckets = ARRAY_LEN(bc_lat_buckets), .offset = AT(msg_lat) },
	{ "fogcompute_bitchat_room_size",
	  "Members of a room, observed at each group message pushed into it.", METRIC_HISTOGRAM,
	  { "room_id" }, .buckets = room_buckets, .n_buckets = ARRAY_LEN(room_buckets),
	  .offset = AT(room_size) },
	{ "fogcompute_bitchat_p2p_latency_seconds",
	  "A ping (JSON {\"type\":\"ping\"} or a ping frame) to its pong.", METRIC_HISTOGRAM,
	  .buckets = p2p_buckets, .n_buckets = ARRAY_LEN(p2p_buckets), .offset = AT(p2p) },
};

/* An HTTP or WebSocket service's path labels and their memo. 0 or -ENOMEM. */
static int paths_init(struct web_metrics *wm, int svc)
{
	if (labelset_init(&wm->paths[svc], wm->cfg->services[svc].max_paths))
		return -ENOMEM;
	wm->memo[svc] = calloc(PATH_MEMO, sizeof(*wm->memo[svc]));
	if (!wm->memo[svc]) {
		labelset_free(&wm->paths[svc]);
		return -ENOMEM;
	}
	metrics__add(wm->overflow, METRICS_LABELS(wm->cfg->services[svc].name), 0);
	return 0;
}

struct web_metrics *web_metrics__new(struct metrics *reg, const struct config *cfg)
{
	struct web_metrics *wm = calloc(1, sizeof(*wm));
	size_t max_rooms = 0;
	int i, err;

	if (!wm)
		return NULL;
	wm->cfg = cfg;
	err = metrics__register(reg, wm, web_defs, ARRAY_LEN(web_defs));
	if (err)
		goto fail;
	err = -ENOMEM;
	for (i = 0; i < cfg->n_services; i++) {
		const struct service_config *sc = &cfg->services[i];

		if (sc->protocol != FP_PROTO_HTTP && sc->protocol != FP_PROTO_WEBSOCKET)
			continue;
		if (paths_init(wm, i))
			goto fail;
		if (sc->protocol == FP_PROTO_WEBSOCKET && sc->max_rooms > max_rooms)
			max_rooms = sc->max_rooms;
	}
	if (labelset_init(&wm->room_ids, max_rooms ? max_rooms : CONFIG_DEFAULT_MAX_ROOMS) ||
	    labelset_init(&wm->types, MAX_TYPES))
		goto fail;
	for (i = 1; i < WEB_DROP_N; i++)
		metrics__add(wm->dropped, METRICS_LABELS(drop_names[i]), 0);
	return wm;
fail:
	web_metrics__free(wm);
	errno = -err;
	return NULL;
}

int web_metrics__add_service(struct web_metrics *wm, int svc)
{
	const struct service_config *sc;

	if (svc < 0 || svc >= CONFIG_MAX_SERVICES || svc >= wm->cfg->n_services)
		return -EINVAL;
	sc = &wm->cfg->services[svc];
	if ((sc->protocol != FP_PROTO_HTTP && sc->protocol != FP_PROTO_WEBSOCKET) ||
	    wm->paths[svc].slot)
		return 0;
	return paths_init(wm, svc);
}

void web_metrics__free(struct web_metrics *wm)
{
	int i;

	if (!wm)
		return;
	for (i = 0; i < CONFIG_MAX_SERVICES; i++) {
		labelset_free(&wm->paths[i]);
		free(wm->memo[i]);
	}
	labelset_free(&wm->room_ids);
	labelset_free(&wm->types);
	free(wm);
}

void web_metrics__routes_changed(struct web_metrics *wm)
{
	int i, j;

	for (i = 0; wm && i < CONFIG_MAX_SERVICES; i++)
		for (j = 0; wm->memo[i] && j < PATH_MEMO; j++)
			wm->memo[i][j].len = 0;
}

/* The label a request path gets: its route template, or "other" past the service's cap. */
static const char *path_label(struct web_metrics *wm, int svc, const char *path)
{
	const struct service_config *sc = &wm->cfg->services[svc];
	const char *routes[CONFIG_MAX_ROUTES];
	size_t len = strlen(path);
	struct path_memo *m;
	int i;

	if (!wm->paths[svc].slot || len >= HTTP_PATH_MAX)
		return "other";
	m = &wm->memo[svc][(len + (uint8_t)path[len >> 1] * 7 + (len ? (uint8_t)path[len - 1] : 0)) &
			   (PATH_MEMO - 1)];
	if (m->len != len + 1 || memcmp(m->path, path, len)) {
		for (i = 0; i < sc->n_routes; i++)
			routes[i] = sc->routes[i];
		http__route(path, routes, sc->n_routes, m->label, sizeof(m->label));
		labelset_get(&wm->paths[svc], m->label, &m->over);
		memcpy(m->path, path, len + 1);
		m->len = (uint16_t)(len + 1);
	}
	if (m->over)
		metrics__add(wm->overflow, METRICS_LABELS(sc->name), 1);
	return m->over ? "other" : m->label;
}

static const char *method_label(const char *m)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(methods); i++)
		if (!strcmp(m, methods[i]))
			return methods[i];
	return "other";
}

/* The status code as its decimal digits ("%u", without the formatter: one per request). */
static const char *status_label(unsigned int st, char buf[12])
{
	char *p = buf + 11;

	*p = 0;
	do {
		*--p = (char)('0' + st % 10);
		st /= 10;
	} while (st);
	return p;
}

/* A page route of a Next.js app: not an API route, not a build asset or a file. */
static bool is_page(const char *path)
{
	const char *last = strrchr(path, '/');

	if (!strncmp(path, "/_next/", 7))
		return false;
	return !last || !strchr(last, '.');
}

static void on_exchange(void *ctx, int svc, const struct http_exchange *x)
{
	struct web_metrics *wm = ctx;
	const struct service_config *sc;
	char buf[12];
	const char *path, *method, *status;
	struct metrics_exemplar exb, *ex;
	double secs;

	if (svc < 0 || svc >= wm->cfg->n_services)
		return;
	sc = &wm->cfg->services[svc];
	path = path_label(wm, svc, x->path);
	method = method_label(x->method);
	status = status_label(x->status, buf);
	secs = x->end_ns > x->start_ns ? (x->end_ns - x->start_ns) / 1e9 : 0;
	/* the span of this exchange, when one was kept: the buckets' exemplar */
	ex = spans__exemplar_for(wm->spans, x, &exb) ? &exb : NULL;
	metrics__add(wm->requests, METRICS_LABELS(sc->name, status, method, path), 1);
	metrics__observe_exemplar(wm->duration, METRICS_LABELS(sc->name, method, path), secs, ex);
	if (sc->framework != FP_FRAMEWORK_NEXTJS || x->upgrade)
		return;
	if (!strncmp(x->path, "/api/", 5) || !strcmp(x->path, "/api"))
		metrics__observe_exemplar(wm->next_api, METRICS_LABELS(sc->name, path), secs, ex);
	else if (is_page(x->path))
		metrics__observe_exemplar(wm->next_page, METRICS_LABELS(sc->name, path), secs, ex);
}

static const char *room_label(struct web_metrics *wm, const char *room)
{
	bool over;

	return room[0] ? labelset_get(&wm->room_ids, room, &over) : "none";
}

static void on_message(void *ctx, const char *room, const char *type)
{
	struct web_metrics *wm = ctx;
	bool over;

	metrics__add(wm->messages,
		     METRICS_LABELS(room_label(wm, room), labelset_get(&wm->types, type, &over)), 1);
}

static void on_dropped(void *ctx, enum web_drop why)
{
	struct web_metrics *wm = ctx;

	if (why > WEB_DROP_NONE && why < WEB_DROP_N)
		metrics__add(wm->dropped, METRICS_LABELS(drop_names[why]), 1);
}

static void on_message_latency(void *ctx, const char *room, double s)
{
	struct web_metrics *wm = ctx;
	struct metrics_exemplar ex;

	metrics__observe_exemplar(wm->msg_lat, METRICS_LABELS(room_label(wm, room)), s,
				  spans__exemplar_other(wm->spans, s, &ex) ? &ex : NULL);
}

static void on_p2p(void *ctx, double s)
{
	metrics__observe(((struct web_metrics *)ctx)->p2p, NULL, s);
}

static void on_room_size(void *ctx, const char *room, unsigned n)
{
	struct web_metrics *wm = ctx;

	metrics__observe(wm->room_size, METRICS_LABELS(room_label(wm, room)), n);
}

static void on_parse_error(void *ctx, int svc, const char *proto, const char *reason)
{
	struct web_metrics *wm = ctx;

	if (svc >= 0 && svc < wm->cfg->n_services)
		metrics__add(wm->parse_errors,
			     METRICS_LABELS(wm->cfg->services[svc].name, proto, reason), 1);
}

void web_metrics__set_spans(struct web_metrics *wm, struct spans *sp)
{
	if (wm)
		wm->spans = sp;
}

struct web_sink web_metrics__sink(struct web_metrics *wm)
{
	struct web_sink s = {
		.exchange = on_exchange,
		.message = on_message,
		.dropped = on_dropped,
		.message_latency = on_message_latency,
		.p2p_latency = on_p2p,
		.room_size = on_room_size,
		.parse_error = on_parse_error,
		.ctx = wm,
	};

	return s;
}

void web_metrics__update(struct web_metrics *wm, const struct web *w)
{
	if (!wm)
		return;
	metrics__set(wm->clients, NULL, web__connected(w));
	metrics__set(wm->rooms, NULL, web__active_rooms(w));
	metrics__set(wm->queue, NULL, (double)web__queue_bytes(w));
}
