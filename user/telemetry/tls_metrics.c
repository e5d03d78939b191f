// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry/tls_metrics.h"

#define KNOWN_MAX 64 /* binaries remembered for the tls_hook events */

struct tls_metrics {
	struct metric_family *hooks;
	struct event_log *log;
	struct {
		char *binary;
		const char *state; /* static */
	} known[KNOWN_MAX];
	size_t n_known;
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
	size_t i;

	if (!tm)
		return;
	for (i = 0; i < tm->n_known; i++)
		free(tm->known[i].binary);
	free(tm);
}

void tls_metrics__set_events(struct tls_metrics *tm, struct event_log *log)
{
	tm->log = log;
}

/* A binary newly found, or whose state changed: one tls_hook event. */
static void note(struct tls_metrics *tm, const struct tls_hook_status *s)
{
	size_t i;

	for (i = 0; i < tm->n_known; i++)
		if (!strcmp(tm->known[i].binary, s->binary))
			break;
	if (i < tm->n_known && !strcmp(tm->known[i].state, s->state))
		return;
	if (i == tm->n_known) {
		if (tm->n_known == KNOWN_MAX || !(tm->known[i].binary = strdup(s->binary)))
			return;
		tm->n_known++;
	}
	events__emit(tm->log, "tls_hook", NULL,
		     json_pack("{s:s,s:s,s:s}", "binary", s->binary, "state", s->state,
			       "previous", tm->known[i].state ? tm->known[i].state : "none"),
		     NULL, NULL);
	tm->known[i].state = s->state;
}

void tls_metrics__update(struct tls_metrics *tm, const struct tls_hook_status *s, size_t n)
{
	size_t i;

	metrics__clear(tm->hooks);
	for (i = 0; i < n; i++) {
		metrics__set(tm->hooks, METRICS_LABELS(s[i].binary, s[i].state), 1);
		if (tm->log)
			note(tm, &s[i]);
	}
}
