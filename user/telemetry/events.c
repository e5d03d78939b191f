// SPDX-License-Identifier: GPL-2.0-only
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "telemetry/events.h"

/* Per kind: a token bucket of EVENTS_BURST events refilled at EVENTS_RATE a second. */
struct kind_limit {
	char name[32];
	double tokens;
	uint64_t last_ns;
	uint64_t suppressed; /* since the kind's last event written */
};

struct event_log {
	pthread_mutex_t lock;
	struct kind_limit kinds[EVENTS_MAX_KINDS];
	size_t n_kinds;
	uint64_t (*clock)(void); /* CLOCK_MONOTONIC ns; replaceable by tests */
	FILE *sink; /* NULL: none */
	bool own_sink;
	char **ring; /* serialized events, ring[seq % cap] */
	size_t cap;
	uint64_t next_seq; /* seq of the next event; events are 1-based */
};

struct event_log *events__new(const char *path, size_t capacity, char *err, size_t errlen)
{
	struct event_log *l = calloc(1, sizeof(*l));

	if (!l)
		goto nomem;
	l->cap = capacity ? capacity : EVENTS_DEFAULT_CAPACITY;
	l->ring = calloc(l->cap, sizeof(*l->ring));
	if (!l->ring)
		goto nomem;
	l->next_seq = 1;
	pthread_mutex_init(&l->lock, NULL);
	if (path && !strcmp(path, "-")) {
		l->sink = stdout;
	} else if (path && *path) {
		l->sink = fopen(path, "ae");
		if (!l->sink) {
			snprintf(err, errlen, "event log %s: %s", path, strerror(errno));
			events__free(l);
			return NULL;
		}
		l->own_sink = true;
	}
	return l;
nomem:
	snprintf(err, errlen, "event log: %s", strerror(ENOMEM));
	if (l)
		free(l->ring);
	free(l);
	return NULL;
}

void events__free(struct event_log *l)
{
	size_t i;

	if (!l)
		return;
	if (l->own_sink)
		fclose(l->sink);
	for (i = 0; i < l->cap; i++)
		free(l->ring[i]);
	free(l->ring);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void events__set_clock(struct event_log *l, uint64_t (*clock)(void))
{
	l->clock = clock ? clock : mono_ns;
}

/* Under l->lock: may an event of this kind go out now? *suppressed: how many of the kind
 * were held back since its last one (reported in this one). */
static bool admit(struct event_log *l, const char *kind, uint64_t *suppressed)
{
	struct kind_limit *k = NULL;
	uint64_t now = (l->clock ? l->clock : mono_ns)();
	size_t i;

	*suppressed = 0;
	for (i = 0; i < l->n_kinds; i++)
		if (!strcmp(l->kinds[i].name, kind))
			k = &l->kinds[i];
	if (!k) {
		if (l->n_kinds == EVENTS_MAX_KINDS)
			return true; /* kinds are a fixed set in the code: never reached */
		k = &l->kinds[l->n_kinds++];
		snprintf(k->name, sizeof(k->name), "%s", kind);
		k->tokens = EVENTS_BURST;
		k->last_ns = now;
	}
	k->tokens += (double)(now - k->last_ns) / 1e9 * EVENTS_RATE;
	if (k->tokens > EVENTS_BURST)
		k->tokens = EVENTS_BURST;
	k->last_ns = now;
	if (k->tokens < 1) {
		k->suppressed++;
		return false;
	}
	k->tokens -= 1;
	*suppressed = k->suppressed;
	k->suppressed = 0;
	return true;
}

uint64_t events__suppressed(struct event_log *l, const char *kind)
{
	uint64_t n = 0;
	size_t i;

	pthread_mutex_lock(&l->lock);
	for (i = 0; i < l->n_kinds; i++)
		if (!strcmp(l->kinds[i].name, kind))
			n = l->kinds[i].suppressed;
	pthread_mutex_unlock(&l->lock);
	return n;
}

int events__emit(struct event_log *l, const char *kind, const char *service, json_t *fields,
		 const uint8_t *trace_id, const uint8_t *span_id)
{
	static const char digits[] = "0123456789abcdef";
	char ts[40], hex[33];
	struct timespec now;
	uint64_t suppressed;
	json_t *ev;
	int i;

	if (!l) {
		json_decref(fields);
		return 0;
	}
	pthread_mutex_lock(&l->lock);
	if (!admit(l, kind, &suppressed)) {
		pthread_mutex_unlock(&l->lock);
		json_decref(fields);
		return -EAGAIN;
	}
	pthread_mutex_unlock(&l->lock);
	clock_gettime(CLOCK_REALTIME, &now);
	ev = json_object();
	json_object_set_new(ev, "time", json_string(events__rfc3339(
		(double)now.tv_sec + now.tv_nsec / 1e9, ts, sizeof(ts))));
	json_object_set_new(ev, "kind", json_string(kind));
	json_object_set_new(ev, "service", json_string(service ? service : "none"));
	if (fields)
		json_object_update(ev, fields);
	json_decref(fields);
	if (trace_id && span_id) {
		for (i = 0; i < 16; i++)
			hex[2 * i] = digits[trace_id[i] >> 4], hex[2 * i + 1] = digits[trace_id[i] & 15];
		hex[32] = 0;
		json_object_set_new(ev, "trace_id", json_string(hex));
		for (i = 0; i < 8; i++)
			hex[2 * i] = digits[span_id[i] >> 4], hex[2 * i + 1] = digits[span_id[i] & 15];
		hex[16] = 0;
		json_object_set_new(ev, "span_id", json_string(hex));
	}
	if (suppressed)
		json_object_set_new(ev, "suppressed", json_integer((json_int_t)suppressed));
	return events__append(l, ev);
}

int events__append(struct event_log *l, json_t *ev)
{
	char *line;
	size_t slot;

	if (!json_is_object(ev)) {
		json_decref(ev);
		return -EINVAL;
	}
	pthread_mutex_lock(&l->lock);
	json_object_set_new(ev, "seq", json_integer((json_int_t)l->next_seq));
	line = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(ev);
	if (!line) {
		pthread_mutex_unlock(&l->lock);
		return -ENOMEM;
	}
	if (l->sink) {
		fprintf(l->sink, "%s\n", line);
		fflush(l->sink);
	}
	slot = l->next_seq % l->cap;
	free(l->ring[slot]);
	l->ring[slot] = line;
	l->next_seq++;
	pthread_mutex_unlock(&l->lock);
	return 0;
}

int events__render(struct event_log *l, uint64_t since, struct strbuf *out)
{
	uint64_t first, seq, dropped = 0;
	bool comma = false;

	pthread_mutex_lock(&l->lock);
	first = l->next_seq > l->cap ? l->next_seq - l->cap : 1;
	if (since + 1 < first) {
		dropped = first - since - 1;
		since = first - 1;
	}
	strbuf__puts(out, "{\"events\":[");
	for (seq = since + 1; seq < l->next_seq; seq++) {
		if (comma)
			strbuf__puts(out, ",");
		strbuf__puts(out, l->ring[seq % l->cap]);
		comma = true;
	}
	strbuf__printf(out, "],\"next\":%llu,\"dropped\":%llu}\n",
		       (unsigned long long)(l->next_seq - 1), (unsigned long long)dropped);
	pthread_mutex_unlock(&l->lock);
	return out->oom ? -ENOMEM : 0;
}

const char *events__rfc3339(double unix_seconds, char *buf, size_t len)
{
	time_t t = (time_t)unix_seconds;
	int ms = (int)((unix_seconds - (double)t) * 1000);
	struct tm tm;

	if (ms < 0)
		ms = 0;
	if (ms > 999)
		ms = 999;
	gmtime_r(&t, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
	return buf;
}

/*
 * docker: /docker/<id> or docker-<id>.scope; containerd: cri-containerd-<id>.scope;
 * cri-o: crio-<id>.scope (crio-conmon-<id>.scope is its monitor, not the container);
 * kubepods cgroupfs driver: /kubepods/<qos>/pod<uid>/<id>. All carry a 64-hex id in
 * the deepest component that has one.
 */
const char *events__container_id(const char *path, char *buf, size_t len)
{
	const char *found = NULL, *p = path;

	if (!path || len < 65)
		return NULL;
	while (*p) {
		size_t n = 0;

		while (p[n] && isxdigit((unsigned char)p[n]) && !isupper((unsigned char)p[n]))
			n++;
		/* exactly 64 hex digits, delimited by non-hex characters */
		if (n == 64 && (p == path || !isxdigit((unsigned char)p[-1])))
			found = p;
		p += n ? n : 1;
	}
	if (!found || strstr(path, "crio-conmon-"))
		return NULL;
	memcpy(buf, found, 64);
	buf[64] = '\0';
	return buf;
}
