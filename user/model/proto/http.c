// SPDX-License-Identifier: GPL-2.0-only
/*
 * HTTP/1.x wire parser (skeleton; the state machine follows).
 */
#include <string.h>

#include "model/proto/http.h"

const char HTTP_ERR_NOT_HTTP[] = "not_http";
const char HTTP_ERR_DESYNC[] = "desync";
const char HTTP_ERR_BAD_HEADER[] = "bad_header";
const char HTTP_ERR_TOO_MANY_PIPELINED[] = "too_many_pipelined";
const char HTTP_ERR_NO_RESPONSE[] = "no_response";

void http__init(struct http_conn *c)
{
	memset(c, 0, sizeof(*c));
}

size_t http__feed(struct http_conn *c, bool from_client, const uint8_t *data, size_t captured,
		  size_t total, const uint8_t *tail, size_t tail_len, uint64_t ts_ns,
		  http_event_fn fn, void *ctx)
{
	(void)from_client, (void)data, (void)captured, (void)tail, (void)tail_len;
	(void)ts_ns, (void)fn, (void)ctx;
	return c->upgraded ? 0 : total;
}

void http__close(struct http_conn *c, uint64_t ts_ns, http_event_fn fn, void *ctx)
{
	(void)ts_ns, (void)fn, (void)ctx;
	http__init(c);
}

bool http__upgraded(const struct http_conn *c)
{
	return c->upgraded;
}

bool http__route(const char *path, const char *const *patterns, size_t npatterns, char *out,
		 size_t outlen)
{
	(void)patterns, (void)npatterns;
	if (outlen) {
		strncpy(out, path, outlen - 1);
		out[outlen - 1] = 0;
	}
	return false;
}
