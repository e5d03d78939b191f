// SPDX-License-Identifier: GPL-2.0-only
#include <string.h>

#include "model/proto/traceparent.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1; /* uppercase is not allowed by the spec */
}

/* n bytes from 2n lowercase hex digits; false on a bad digit or all zeros */
static bool hex_bytes(const char *s, uint8_t *out, size_t n, bool allow_zero)
{
	uint8_t any = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
		any |= out[i];
	}
	return allow_zero || any;
}

bool traceparent__parse(const char *s, size_t n, struct trace_ctx *out)
{
	uint8_t ver;

	memset(out, 0, sizeof(*out));
	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n < TRACEPARENT_LEN)
		return false;
	if (!hex_bytes(s, &ver, 1, true) || ver == 0xff)
		return false;
	if (ver == 0 ? n != TRACEPARENT_LEN : (n > TRACEPARENT_LEN && s[TRACEPARENT_LEN] != '-'))
		return false;
	if (s[2] != '-' || s[35] != '-' || s[52] != '-')
		return false;
	if (!hex_bytes(s + 3, out->trace_id, 16, false) ||
	    !hex_bytes(s + 36, out->span_id, 8, false) || !hex_bytes(s + 53, &out->flags, 1, true)) {
		memset(out, 0, sizeof(*out));
		return false;
	}
	out->valid = true;
	return true;
}

void trace__hex(const uint8_t *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = 0;
}

void traceparent__format(const struct trace_ctx *t, char *out)
{
	memcpy(out, "00-", 3);
	trace__hex(t->trace_id, 16, out + 3);
	out[35] = '-';
	trace__hex(t->span_id, 8, out + 36);
	out[52] = '-';
	trace__hex(&t->flags, 1, out + 53);
}
