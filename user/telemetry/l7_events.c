// SPDX-License-Identifier: GPL-2.0-only
#include <stdlib.h>

#include "telemetry/l7_events.h"

struct l7_events {
	const struct config *cfg;
	struct event_log *log;
	struct spans *sp;
	struct web_trace_sink web; /* the spans' own sinks (NULL functions: spans off) */
	struct betanet_trace_sink bn;
};

static const char *const drop_names[WEB_DROP_N] = {
	[WEB_DROP_NONE] = "none",
	[WEB_DROP_ABNORMAL_CLOSE] = "abnormal_close",
	[WEB_DROP_RESET] = "reset",
	[WEB_DROP_NO_CLOSE_FRAME] = "no_close_frame",
	[WEB_DROP_IDLE_TIMEOUT] = "idle_timeout",
};

struct l7_events *l7_events__new(const struct config *cfg, struct event_log *log,
				 struct spans *sp)
{
	struct l7_events *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->cfg = cfg;
	e->log = log;
	e->sp = sp;
	e->web = spans__web_sink(sp);
	e->bn = spans__betanet_sink(sp);
	return e;
}

void l7_events__free(struct l7_events *e)
{
	free(e);
}

static const char *svc_name(const struct l7_events *e, int svc)
{
	return svc >= 0 && svc < e->cfg->n_services ? e->cfg->services[svc].name : "none";
}

static void emit(struct l7_events *e, const char *kind, int svc, json_t *fields)
{
	uint8_t tid[16], sid[8];
	bool ids = spans__last_other(e->sp, tid, sid);

	events__emit(e->log, kind, svc_name(e, svc), fields, ids ? tid : NULL, ids ? sid : NULL);
}

static void on_exchange(void *ctx, int svc, bool is_server, bool tls,
			const struct http_exchange *x, const struct conn_meta *meta)
{
	struct l7_events *e = ctx;

	if (e->web.exchange)
		e->web.exchange(e->web.ctx, svc, is_server, tls, x, meta);
}

static void on_session(void *ctx, int svc, bool is_server, bool tls, const struct trace_ctx *tc,
		       uint64_t start_ns, uint64_t end_ns, uint16_t close_code,
		       enum web_drop drop, const struct conn_meta *meta)
{
	struct l7_events *e = ctx;
	json_t *f;

	if (e->web.session)
		e->web.session(e->web.ctx, svc, is_server, tls, tc, start_ns, end_ns, close_code,
			       drop, meta);
	if (drop == WEB_DROP_NONE || drop >= WEB_DROP_N)
		return;
	f = json_pack("{s:s}", "reason", drop_names[drop]);
	if (close_code)
		json_object_set_new(f, "close_code", json_integer(close_code));
	emit(e, "websocket_abnormal_close", svc, f);
}

static void on_ws_message(void *ctx, int svc, bool is_server, uint64_t start_ns, uint64_t end_ns,
			  const struct conn_meta *meta)
{
	struct l7_events *e = ctx;

	if (e->web.message)
		e->web.message(e->web.ctx, svc, is_server, start_ns, end_ns, meta);
}

static void on_circuit(void *ctx, int svc, bool is_server, uint64_t start_ns, uint64_t end_ns,
		       const char *failure, const struct conn_meta *meta)
{
	struct l7_events *e = ctx;

	if (e->bn.circuit)
		e->bn.circuit(e->bn.ctx, svc, is_server, start_ns, end_ns, failure, meta);
	if (failure)
		emit(e, "betanet_failure", svc, json_pack("{s:s}", "reason", failure));
}

static void on_bn_message(void *ctx, int svc, bool is_server, bool data, uint64_t start_ns,
			  uint64_t end_ns, const struct conn_meta *meta)
{
	struct l7_events *e = ctx;

	if (e->bn.message)
		e->bn.message(e->bn.ctx, svc, is_server, data, start_ns, end_ns, meta);
}

struct web_trace_sink l7_events__web_sink(struct l7_events *e)
{
	struct web_trace_sink s = {
		.exchange = on_exchange, .session = on_session, .message = on_ws_message, .ctx = e,
	};

	return s;
}

struct betanet_trace_sink l7_events__betanet_sink(struct l7_events *e)
{
	struct betanet_trace_sink s = { .circuit = on_circuit, .message = on_bn_message, .ctx = e };

	return s;
}
