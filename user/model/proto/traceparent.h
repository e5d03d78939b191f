/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): the traceparent header.
 * Pure: no I/O, no globals.
 *
 *   traceparent = version "-" trace-id "-" parent-id "-" trace-flags
 *   version 2 lowercase hex, not "ff"; trace-id 32 and parent-id 16 lowercase hex, not all
 *   zeros; trace-flags 2 hex. Version 00 is exactly 55 characters. A higher version may be
 *   longer, and then the 56th character is '-': its first four fields are read as 00's.
 */
#ifndef FOGPROBE_MODEL_PROTO_TRACEPARENT_H
#define FOGPROBE_MODEL_PROTO_TRACEPARENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TRACEPARENT_LEN 55
#define TRACE_FLAG_SAMPLED 0x01
#define TRACE_FLAG_RANDOM 0x02 /* Trace Context Level 2: the trace-id's right 7 bytes are random */

struct trace_ctx {
	uint8_t trace_id[16];
	uint8_t span_id[8]; /* parent-id: the caller's span */
	uint8_t flags;
	bool valid;
};

/* Parse a header value (surrounding spaces and tabs ignored). false, and out->valid
 * false, when it is not a valid traceparent. */
bool traceparent__parse(const char *s, size_t n, struct trace_ctx *out);

/* "00-<trace-id>-<span-id>-<flags>" into out (>= TRACEPARENT_LEN + 1 bytes). */
void traceparent__format(const struct trace_ctx *t, char *out);

/* Lowercase hex of n bytes into out (2n + 1 bytes). */
void trace__hex(const uint8_t *b, size_t n, char *out);

#endif
