// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#include "telemetry/tls_metrics.h"

struct tls_metrics {
	struct metric_family *hooks;
};

static const struct metric_def tls_defs[] = {
	{ "fogprobe_tls_hooks",
	  "OpenSSL binaries found mapped by processes: hooked (TLS plaintext captured), no_symbols (static OpenSSL without SSL_read/SSL_write symbols: not captured) or failed (attach error, logged).",
	  METRIC_GAUGE, { "binary", "state" }, .offset = offsetof(struct tls_metrics, hooks) },
};

struct tls_metrics *tls_metrics__new(struct metrics *reg)
{
	struct tls_metrics *tm = calloc(1, sizeof(*tm));
	int err;

	if (!tm)
		return NULL;
	err = metrics__register(reg, tm, tls_defs, ARRAY_LEN(tls_defs));
	if (err) {
		free(tm);
		errno = -err;
		return NULL;
	}
	return tm;
}

void tls_metrics__free(struct tls_metrics *tm)
{
	free(tm);
}

void tls_metrics__update(struct tls_metrics *tm, const struct tls_hook_status *s, size_t n)
{
	size_t i;

	metrics__clear(tm->hooks);
	for (i = 0; i < n; i++)
		metrics__set(tm->hooks, METRICS_LABELS(s[i].binary, s[i].state), 1);
}
