// SPDX-License-Identifier: GPL-2.0-only
/* WebSocket frame parser: the API of websocket.h; the decoder follows. */
#include <string.h>

#include "model/proto/websocket.h"

void ws__init(struct ws_conn *c)
{
	memset(c, 0, sizeof(*c));
}

void ws__feed(struct ws_conn *c, bool from_client, const uint8_t *data, size_t captured,
	      size_t total, uint64_t ts_ns, ws_event_fn fn, void *ctx)
{
	(void)c, (void)from_client, (void)data, (void)captured, (void)total, (void)ts_ns;
	(void)fn, (void)ctx;
}

bool ws__stopped(const struct ws_conn *c, bool from_client)
{
	return c->dir[from_client].stopped;
}

void ws__json_extract(const uint8_t *text, size_t len, bool complete, struct ws_message *m)
{
	(void)text, (void)len, (void)complete;
	memset(m->type, 0, sizeof(m->type));
	memset(m->group_id, 0, sizeof(m->group_id));
	memset(m->message_id, 0, sizeof(m->message_id));
	memset(m->rooms, 0, sizeof(m->rooms));
	m->nrooms = 0;
	m->json = false;
}
