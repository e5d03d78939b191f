/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * fogprobe_tls_hooks{binary,state}: which OpenSSL binaries the TLS plaintext capture
 * hooked and which it could not (no symbols). Bounded by the collector's binary cap.
 */
#ifndef FOGPROBE_TELEMETRY_TLS_METRICS_H
#define FOGPROBE_TELEMETRY_TLS_METRICS_H

#include <stddef.h>
#include "telemetry/events.h"
#include "telemetry/metrics.h"

struct tls_metrics;

/* What one binary's report says: state is "hooked", "no_symbols" or "failed". */
struct tls_hook_status {
	const char *binary;
	const char *state;
};

/* NULL on error (errno set). */
struct tls_metrics *tls_metrics__new(struct metrics *reg);
void tls_metrics__free(struct tls_metrics *tm); /* accepts NULL */
/* Replace the family's series with these (gauge 1 each). */
void tls_metrics__update(struct tls_metrics *tm, const struct tls_hook_status *s, size_t n);
/* tls_hook events (binary, state, previous) for binaries found or changed at each update;
 * states are static strings. */
void tls_metrics__set_events(struct tls_metrics *tm, struct event_log *log);

#endif
