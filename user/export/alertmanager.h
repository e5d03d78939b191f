/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Alert delivery (libcurl, own thread): the rule engine's alerts go into a bounded queue;
 * the thread posts them in batches to every Alertmanager (v2: POST /api/v2/alerts) and,
 * when configured, to a Slack-compatible webhook ({"text": ...}, one message per alert
 * and state change). A batch that no
 * Alertmanager accepted stays queued and is retried with exponential backoff; when the
 * queue is full an alert is dropped and counted (see notifier__send()). An HTTP 4xx answer is not retried (the batch itself is refused), and
 * counted too.
 */
#ifndef FOGPROBE_EXPORT_ALERTMANAGER_H
#define FOGPROBE_EXPORT_ALERTMANAGER_H

#include <stdbool.h>
#include <stddef.h>
#include "lib/config.h"
#include "telemetry/metrics.h"

#define NOTIFIER_BATCH 64 /* alerts per POST, as Prometheus's default max batch */
#define NOTIFIER_WEBHOOK_SEEN 1024 /* alerts whose last posted state is remembered */
#define NOTIFIER_BACKOFF_MIN_S 0.5
#define NOTIFIER_BACKOFF_MAX_S 10.0

struct notifier;

/* Registers its families on reg. NULL with err (ENOMEM). */
struct notifier *notifier__new(struct metrics *reg, const struct alerts_config *cfg, char *err,
			       size_t errlen);
/* Start the delivery thread (nothing to do without receivers). 0 or -errno. */
int notifier__start(struct notifier *n);
/* The engine's sink: copy one Alertmanager v2 alert object into the queue. A queued copy
 * of the same alert (key) is replaced in place; when the queue is full the oldest resolved
 * alert goes first (it is resent, and Alertmanager ends it by its endsAt anyway), else the
 * oldest. */
void notifier__send(void *ctx, const char *key, const char *alert_json, bool firing);
/* Stop the thread (a last attempt is not made) and free; accepts NULL. */
void notifier__free(struct notifier *n);

#endif
