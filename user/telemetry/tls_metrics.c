// SPDX-License-Identifier: GPL-2.0-only
#include <stdlib.h>

#include "telemetry/tls_metrics.h"

struct tls_metrics {
	struct metric_family *hooks;
};

struct tls_metrics *tls_metrics__new(struct metrics *reg)
{
	static const char *const labels[] = { "binary", "state" };
	struct tls_metrics *tm = calloc(1, sizeof(*tm));

	if (!tm)
		return NULL;
	tm->hooks = metrics__family(reg, "fogprobe_tls_hooks",
				    "OpenSSL binaries found mapped by processes: hooked (TLS plaintext captured), no_symbols (static OpenSSL without SSL_read/SSL_write symbols: not captured) or failed (attach error, logged).",
				    METRIC_GAUGE, labels, 2, NULL, 0);
	if (!tm->hooks) {
		free(tm);
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
		metrics__set(tm->hooks, (const char *const[]){ s[i].binary, s[i].state }, 1);
}
