// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: traceparent__parse on any bytes. Checked besides memory errors: a
 * valid result has non-zero ids, formats back to a string that parses to the same
 * context, and that string equals the input's first 55 characters (after leading OWS)
 * when the input's version is 00 with lowercase hex.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/proto/traceparent.h"

static int all_zero(const uint8_t *b, size_t n)
{
	while (n--)
		if (*b++)
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trace_ctx t, u;
	char out[TRACEPARENT_LEN + 1];
	const char *s = (const char *)data;

	if (!traceparent__parse(s, size, &t)) {
		if (t.valid)
			abort();
		return 0;
	}
	if (!t.valid || all_zero(t.trace_id, 16) || all_zero(t.span_id, 8))
		abort();
	traceparent__format(&t, out);
	if (strlen(out) != TRACEPARENT_LEN || !traceparent__parse(out, TRACEPARENT_LEN, &u) ||
	    memcmp(&t, &u, sizeof(t)))
		abort();
	while (size && (*s == ' ' || *s == '\t'))
		s++, size--;
	if (size >= 2 && s[0] == '0' && s[1] == '0' && memcmp(s + 2, out + 2, TRACEPARENT_LEN - 2))
		abort();
	return 0;
}
