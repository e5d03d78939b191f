// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the event log. The input is split at the first NUL: the first part
 * is a cgroup path for events__container_id (a found id is 64 lowercase hex digits taken
 * from the path), the rest is JSON text; an object is appended to a small ring, and
 * every render must parse back as JSON with the events in sequence.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry/events.h"

static struct event_log *log_ring;

static void check_render(void)
{
	struct strbuf sb;
	json_error_t err;
	json_t *root, *e, *prev = NULL;
	size_t i;

	strbuf__init(&sb);
	if (events__render(log_ring, 0, &sb))
		abort();
	root = json_loads(sb.buf, 0, &err);
	if (!root)
		abort();
	json_array_foreach(json_object_get(root, "events"), i, e)
	{
		json_int_t seq = json_integer_value(json_object_get(e, "seq"));

		if (prev && seq != json_integer_value(json_object_get(prev, "seq")) + 1)
			abort();
		prev = e;
	}
	json_decref(root);
	strbuf__free(&sb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t plen = nul ? (size_t)(nul - data) : size;
	char *path = malloc(plen + 1), id[72];
	const char *got;
	json_t *j;
	int k;

	if (!path)
		return 0;
	if (!log_ring) {
		char err[128];

		log_ring = events__new(NULL, 8, err, sizeof(err));
		if (!log_ring)
			abort();
	}
	memcpy(path, data, plen);
	path[plen] = '\0';
	got = events__container_id(path, id, sizeof(id));
	if (got) {
		if (strlen(got) != 64 || !strstr(path, got))
			abort();
		for (k = 0; k < 64; k++)
			if (!isxdigit((unsigned char)got[k]) || isupper((unsigned char)got[k]))
				abort();
	}
	free(path);
	if (nul) {
		j = json_loadb((const char *)nul + 1, size - plen - 1, JSON_DECODE_ANY, NULL);
		if (j)
			events__append(log_ring, j); /* takes the reference, objects or not */
		check_render();
	}
	return 0;
}
