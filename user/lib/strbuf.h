/* SPDX-License-Identifier: GPL-2.0-only */
/* Growable byte buffer for rendering (exposition text, JSON, log lines). */
#ifndef FOGPROBE_LIB_STRBUF_H
#define FOGPROBE_LIB_STRBUF_H

#include <stddef.h>
#include <string.h>

struct strbuf {
	char *buf; /* always NUL-terminated when len > 0 or after any append */
	size_t len;
	size_t cap;
	int oom; /* set once an allocation failed; later appends are no-ops */
};

void strbuf__init(struct strbuf *sb);
void strbuf__free(struct strbuf *sb); /* accepts a zeroed or freed buffer */
void strbuf__reset(struct strbuf *sb); /* len = 0, keeps memory */
int strbuf__grow_slow(struct strbuf *sb, size_t extra); /* strbuf__grow's allocation */

/*
 * Room for extra more bytes and the terminating NUL (cap > len + extra). 0, or -ENOMEM
 * once an allocation failed (oom: every later append is dropped). Renderers append a few
 * bytes at a time, many times per series or span: the common case, room already there,
 * is checked inline.
 */
static inline int strbuf__grow(struct strbuf *sb, size_t extra)
{
	if (!sb->oom && extra < sb->cap - sb->len)
		return 0;
	return strbuf__grow_slow(sb, extra);
}

static inline int strbuf__append(struct strbuf *sb, const char *data, size_t n)
{
	int err = strbuf__grow(sb, n);

	if (err)
		return err;
	if (n)
		memcpy(sb->buf + sb->len, data, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
	return 0;
}

int strbuf__puts(struct strbuf *sb, const char *s);
int strbuf__printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
