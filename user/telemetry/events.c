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

struct event_log {
	pthread_mutex_t lock;
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
