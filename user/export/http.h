/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * HTTP endpoint (libmicrohttpd): /metrics, /healthz, /readyz, /api/events, /api/v1/alerts.
 * /metrics: text 0.0.4 by default, OpenMetrics when Accept asks for
 * application/openmetrics-text, gzip when Accept-Encoding allows it.
 */
#ifndef FOGPROBE_EXPORT_HTTP_H
#define FOGPROBE_EXPORT_HTTP_H

#include <stdbool.h>
#include "lib/config.h"
#include "lib/strbuf.h"
#include "telemetry/metrics.h"

struct http_handlers {
	/* Called before each /metrics render (e.g. to refresh from sources); may be NULL. */
	void (*before_scrape)(void *ctx);
	/* true once the daemon is attached and collecting; /readyz is 503 before. */
	bool (*ready)(void *ctx);
	/* JSON of the structured events after sequence number since (/api/events?since=N);
	 * NULL: 404. 0 or -errno. */
	int (*events)(void *ctx, unsigned long long since, struct strbuf *out);
	/* JSON of the alerts (/api/v1/alerts, Prometheus's format); NULL: 404. 0 or -errno. */
	int (*alerts)(void *ctx, struct strbuf *out);
	void *ctx;
	struct metrics *registry;
};

struct http_server;

/*
 * listen: "HOST:PORT", "[v6]:PORT" or ":PORT". tls: NULL or no cert_file for plain HTTP;
 * the PEM files are read now. auth: NULL or AUTH_NONE for none; every path but /healthz
 * and /readyz then needs the credentials (401 otherwise). Returns NULL and fills err.
 */
struct http_server *http__start(const char *listen, const struct tls_config *tls,
				const struct auth_config *auth, const struct http_handlers *h,
				char *err, size_t errlen);
/* New credentials for the next requests (a reload); auth NULL: none. */
void http__set_auth(struct http_server *s, const struct auth_config *auth);
void http__stop(struct http_server *s); /* accepts NULL */

/* Exposed for tests: the content negotiation and compression used by /metrics. */
bool http__wants_openmetrics(const char *accept);
bool http__accepts_gzip(const char *accept_encoding);
int http__gzip(const char *in, size_t n, struct strbuf *out);
/* Does an Authorization header value carry the credentials auth asks for? */
bool http__authorized(const struct auth_config *auth, const char *authorization);

#endif
