// SPDX-License-Identifier: GPL-2.0-only
/*
 * `fogprobe check`: every collector's hooks as the daemon would choose them, and the
 * rest of what it needs from this kernel, without loading anything.
 */
#include <stdio.h>
#include <unistd.h>

#include "collect/collector.h"
#include "collect/probe.h"
#include "collect/tls.h"
#include "daemon.h"

#define CHECK_HOOKS 32

static void print_tls_binary(void *ctx, const char *path, bool symbols)
{
	(void)ctx;
	printf("%-20s %s %s\n", "tls binary", path,
	       symbols ? "SSL_read/SSL_write found: hookable" : "no symbols: not hookable");
}

int cmd_check(struct daemon *d)
{
	struct hook hooks[CHECK_HOOKS];
	bool ok = true;
	size_t n, i;
	int j;
	char cg[256];

	n = collectors__plan(hooks, CHECK_HOOKS, d->opts.disable);
	printf("%-20s %-40s %-10s %s\n", "FEATURE", "HOOK", "AVAILABLE", "CHOSEN");
	for (i = 0; i < n; i++) {
		for (j = 0; j < hooks[i].n; j++)
			printf("%-20s %-40s %-10s %s\n", j ? "" : hooks[i].feature,
			       hooks[i].hook[j],
			       hooks[i].disabled[j] ? "disabled" :
			       hooks[i].available[j] ? "yes" :
						       "no",
			       j == hooks[i].chosen ? "<- chosen" : "");
		if (hooks[i].chosen < 0) {
			printf("%-20s %-40s %-10s %s\n", "", "(none)", "",
			       hooks[i].required ? "REQUIRED: cannot run" : "disabled");
			if (hooks[i].required)
				ok = false;
		}
	}
	printf("\n%-20s %s\n", "btf",
	       access("/sys/kernel/btf/vmlinux", R_OK) ? "missing: CO-RE cannot relocate" :
							 "/sys/kernel/btf/vmlinux");
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		ok = false;
	if (probe__cgroup2_root(cg, sizeof(cg)))
		ok = false;
	else
		printf("%-20s %s\n", "cgroup2", cg);
	tls__discover(print_tls_binary, NULL);
	printf("%-20s %s\n", "kprobes",
	       probe__kprobes_available() ? "available (not needed)" :
					    "not built in (not needed)");
	printf("\n%s\n", ok ? "ok: fogprobe can run on this kernel" :
			      "FAIL: fogprobe cannot run on this kernel");
	return ok ? 0 : 1;
}
