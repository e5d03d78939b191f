// SPDX-License-Identifier: GPL-2.0-only
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>

#include "lib/log.h"

static enum log_level cur_level = LOG_INFO;
static enum log_format cur_format = LOG_FORMAT_TEXT;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = { "warn", "info", "debug" };

void log__setup(enum log_level level, enum log_format format)
{
	cur_level = level;
	cur_format = format;
}

enum log_level log__level(void)
{
	return cur_level;
}

static void json_escape(FILE *out, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = *s;

		if (ch == '"' || ch == '\\')
			fprintf(out, "\\%c", ch);
		else if (ch == '\n')
			fputs("\\n", out);
		else if (ch == '\t')
			fputs("\\t", out);
		else if (ch < 0x20)
			fprintf(out, "\\u%04x", ch);
		else
			fputc(ch, out);
	}
}

void log__print(enum log_level level, const char *fmt, ...)
{
	char buf[2048], ts[40], *msg = buf;
	struct timespec now;
	struct tm tm;
	va_list ap;
	size_t n;
	int len;

	if (level > cur_level)
		return;
	va_start(ap, fmt);
	len = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* a verifier log runs to megabytes, and its reason is at its end: whole, or the
	 * stack buffer's truncated copy when memory is short */
	if (len >= (int)sizeof(buf)) {
		char *big = malloc((size_t)len + 1);

		if (big) {
			va_start(ap, fmt);
			vsnprintf(big, (size_t)len + 1, fmt, ap);
			va_end(ap);
			msg = big;
		}
	}
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof(ts) - n, ".%03ldZ", now.tv_nsec / 1000000);

	pthread_mutex_lock(&log_lock);
	if (cur_format == LOG_FORMAT_JSON) {
		fprintf(stderr, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"", ts, level_names[level]);
		json_escape(stderr, msg);
		fputs("\"}\n", stderr);
	} else {
		fprintf(stderr, "%s %-5s %s\n", ts, level_names[level], msg);
	}
	fflush(stderr);
	pthread_mutex_unlock(&log_lock);
	if (msg != buf)
		free(msg);
}
