// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: config__load_string on arbitrary bytes. Besides memory errors it
 * checks that every error message is terminated and carries a position (the position
 * indexer reports 0:0 when it cannot find a value jansson accepted), and that an
 * accepted config stays within its limits.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/config.h"

static void check_config(const struct config *cfg)
{
	int i, j;

	if (cfg->n_services < 1 || cfg->n_services > CONFIG_MAX_SERVICES || !cfg->listen[0])
		abort();
	for (i = 0; i < cfg->n_services; i++) {
		const struct service_config *s = &cfg->services[i];

		if (!s->name[0] || s->n_ports < 1 || s->n_ports > CONFIG_MAX_PORTS ||
		    s->n_comm < 0 || s->n_comm > CONFIG_MAX_COMM)
			abort();
		for (j = 0; j < s->n_ports; j++)
			if (!s->ports[j])
				abort();
		if (s->cgroup[0] && (s->cgroup[0] != '/' || strstr(s->cgroup, "//") ||
				     (s->cgroup[1] && s->cgroup[strlen(s->cgroup) - 1] == '/')))
			abort();
		if (s->check.connect) {
			/* the check connects to one of the service's ports, within its interval */
			for (j = 0; j < s->n_ports && s->ports[j] != s->check.port; j++)
				;
			if (j == s->n_ports || !s->check.address[0] || s->check.interval_s < 1 ||
			    s->check.timeout_ms < 1 ||
			    s->check.timeout_ms >= s->check.interval_s * 1000)
				abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config cfg;
	char err[256];
	char *text;

	/* config__load_string takes a C string: stop at the first NUL, like a caller would */
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	memset(err, 'x', sizeof(err));
	if (config__load_string(text, "fuzz", &cfg, err, sizeof(err))) {
		if (!memchr(err, '\0', sizeof(err)) || !strncmp(err, "fuzz:0:0:", 9))
			abort();
	} else {
		check_config(&cfg);
	}
	free(text);
	return 0;
}
