/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Service classification. The kernel classifies sockets (bpf/tcp.bpf.c, fp_classify);
 * this module builds the tables it reads from the config and holds the same rule for
 * userspace callers and tests:
 *   a socket belongs to the first configured service that lists its local or remote
 *   port and whose optional matchers all hold: comm is one of `comm`, and the socket's
 *   cgroup is the `cgroup` directory or below it (prefix at path-component boundaries).
 */
#ifndef FOGPROBE_COLLECT_SERVICES_H
#define FOGPROBE_COLLECT_SERVICES_H

#include <stdint.h>
#include <linux/types.h>
#include "tcp.h"
#include "lib/config.h"

struct service_tables {
	__u32 port_mask[FP_PORTS]; /* bit i: service i lists this port */
	struct fp_svc_match match[FP_MAX_SERVICES];
	int n_services;
};

/*
 * Fill tables from cfg. cgroup prefixes are resolved against the cgroup v2 mount at
 * cgroot (id = inode of the directory, level = path components); a prefix whose
 * directory does not exist yet gets active = 0 until a later call finds it.
 * Returns 0 or -errno.
 */
int services__build(const struct config *cfg, const char *cgroot, struct service_tables *t);

/*
 * Userspace mirror of the kernel rule. ancestor(level, ctx) returns the id of the
 * socket's cgroup ancestor at that level (0 if none). Returns the service id or -1;
 * *server is set when the matching port is the local one.
 */
int services__classify(const struct service_tables *t, uint16_t lport, uint16_t rport,
		       const char *comm, uint64_t (*ancestor)(int level, void *ctx), void *ctx,
		       int *server);

#endif
