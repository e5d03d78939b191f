// SPDX-License-Identifier: GPL-2.0-only
/* Growable byte buffer; see strbuf.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strbuf.h"

#define STRBUF_MIN_CAP 256

void strbuf__init(struct strbuf *sb)
{
	sb->buf = NULL;
	sb->len = 0;
	sb->cap = 0;
	sb->oom = 0;
}

void strbuf__free(struct strbuf *sb)
{
	if (!sb)
		return;
	free(sb->buf);
	strbuf__init(sb);
}

void strbuf__reset(struct strbuf *sb)
{
	sb->len = 0;
	if (sb->buf)
		sb->buf[0] = '\0';
}

int strbuf__grow_slow(struct strbuf *sb, size_t extra)
{
	size_t need, cap;
	char *p;

	if (sb->oom)
		return -ENOMEM;
	if (extra > SIZE_MAX - sb->len - 1)
		goto fail;
	need = sb->len + extra + 1;
	if (need <= sb->cap)
		return 0;
	/* Doubling keeps a large render at O(n) copies in total. */
	cap = sb->cap ? sb->cap : STRBUF_MIN_CAP;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(sb->buf, cap);
	if (!p)
		goto fail;
	sb->buf = p;
	sb->cap = cap;
	return 0;
fail:
	sb->oom = 1;
	return -ENOMEM;
}

int strbuf__puts(struct strbuf *sb, const char *s)
{
	return strbuf__append(sb, s, strlen(s));
}

int strbuf__printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	size_t avail;
	int n, err;

	/* Try in the space already there; most calls fit and need no second pass. */
	err = strbuf__grow(sb, 64);
	if (err)
		return err;
	avail = sb->cap - sb->len;
	va_start(ap, fmt);
	n = vsnprintf(sb->buf + sb->len, avail, fmt, ap);
	va_end(ap);
	if (n < 0) {
		sb->buf[sb->len] = '\0';
		return -EINVAL;
	}
	if ((size_t)n >= avail) {
		err = strbuf__grow(sb, (size_t)n);
		if (err) {
			sb->buf[sb->len] = '\0';
			return err;
		}
		va_start(ap, fmt);
		vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	sb->len += (size_t)n;
	return 0;
}
