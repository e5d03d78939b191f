/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Structured event log: crash, OOM and exit events as JSON objects. Each event gets a
 * sequence number, is written as one JSON line to the configured sink (stdout or a file,
 * flushed per event) and kept in a bounded in-memory ring that /api/events serves.
 * Thread-safe.
 */
#ifndef FOGPROBE_TELEMETRY_EVENTS_H
#define FOGPROBE_TELEMETRY_EVENTS_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "lib/strbuf.h"

#define EVENTS_DEFAULT_CAPACITY 256
#define EVENTS_MAX_KINDS 16
#define EVENTS_BURST 20 /* events of one kind at once */
#define EVENTS_RATE 10.0 /* ... then this many a second */

struct event_log;

/* path: NULL or "" for no sink, "-" for stdout, else a file opened for append.
 * capacity: events kept for /api/events (0: EVENTS_DEFAULT_CAPACITY). */
struct event_log *events__new(const char *path, size_t capacity, char *err, size_t errlen);
void events__free(struct event_log *l); /* accepts NULL */

/* Takes ownership of ev (a JSON object); adds "seq". 0 or -errno. */
int events__append(struct event_log *l, json_t *ev);

/*
 * An event of a kind: {"time", "kind", "service", fields..., "trace_id", "span_id"} (ids
 * when given: 16 and 8 bytes). Rate-limited per kind (EVENTS_BURST, then EVENTS_RATE a
 * second): a held-back event is counted, and the kind's next event written says how many
 * were held back before it ("suppressed": N). Takes ownership of fields (an object, or
 * NULL). 0, -EAGAIN when held back, or -errno.
 */
int events__emit(struct event_log *l, const char *kind, const char *service, json_t *fields,
		 const uint8_t *trace_id, const uint8_t *span_id);
/* Held back since the kind's last event written. */
uint64_t events__suppressed(struct event_log *l, const char *kind);
/* The rate limiter's clock (CLOCK_MONOTONIC ns); NULL restores it. For tests. */
void events__set_clock(struct event_log *l, uint64_t (*clock)(void));

/* {"events":[...oldest first, seq > since...],"next":N,"dropped":D}: next is the seq to
 * ask from next time, dropped how many events older than the ring were asked for. */
int events__render(struct event_log *l, uint64_t since, struct strbuf *out);

/* RFC 3339 UTC with milliseconds, e.g. "2026-11-25T03:50:00.123Z". buf >= 32 bytes. */
const char *events__rfc3339(double unix_seconds, char *buf, size_t len);

/* The container id in a cgroup path (64 hex characters as docker, containerd, cri-o and
 * kubepods name them), or NULL. Pure. buf >= 65 bytes. */
const char *events__container_id(const char *cgroup_path, char *buf, size_t len);

#endif
