// SPDX-License-Identifier: GPL-2.0-only
/* Service tables for the kernel's classifier (svc_ports, svc_match) and its userspace twin. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "collect/services.h"

_Static_assert(CONFIG_MAX_SERVICES == FP_MAX_SERVICES, "one service id per port_mask bit");
_Static_assert(FP_MAX_SERVICES <= 32, "port_mask is a __u32");
_Static_assert(CONFIG_MAX_COMM == FP_MAX_COMM_MATCH, "comm matchers");
_Static_assert(CONFIG_COMM_LEN == FP_COMM_LEN, "TASK_COMM_LEN");
_Static_assert(sizeof(struct fp_svc_match) == 80, "struct fp_svc_match layout");

/* Path components of a normalised cgroup ("/" -> 0, "/a/b" -> 2): its cgroup v2 level. */
static int cgroup_level(const char *cg)
{
	int level = 0;

	for (; *cg; cg++)
		if (cg[0] == '/' && cg[1] && cg[1] != '/')
			level++;
	return level;
}

static int resolve_cgroup(const char *cgroot, const char *cg, struct fp_svc_match *m)
{
	char path[PATH_MAX];
	struct stat st;
	int n;

	m->cg_level = (__u8)cgroup_level(cg);
	if (!m->cg_level)
		return 0; /* the root: every socket is below it */
	if (!cgroot)
		return -EINVAL;
	n = snprintf(path, sizeof(path), "%s%s", cgroot, cg);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	if (stat(path, &st)) {
		/* not created yet (a pod not scheduled here): retried on the next build */
		if (errno == ENOENT || errno == ENOTDIR) {
			m->active = 0;
			return 0;
		}
		return -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		m->active = 0;
		return 0;
	}
	/*
	 * cgroup v2 is kernfs: a directory's inode number is its kernfs node id, which is
	 * the id bpf_get_current_ancestor_cgroup_id() returns (kernel >= 5.5, 64-bit ids).
	 */
	m->cg_id = st.st_ino;
	return 0;
}

int services__build(const struct config *cfg, const char *cgroot, struct service_tables *t)
{
	int i, j, err;

	if (!cfg || !t)
		return -EINVAL;
	memset(t, 0, sizeof(*t));
	if (cfg->n_services < 0 || cfg->n_services > FP_MAX_SERVICES)
		return -E2BIG;

	for (i = 0; i < cfg->n_services; i++) {
		const struct service_config *svc = &cfg->services[i];
		struct fp_svc_match *m = &t->match[i];

		if (svc->n_ports < 0 || svc->n_ports > CONFIG_MAX_PORTS || svc->n_comm < 0 ||
		    svc->n_comm > FP_MAX_COMM_MATCH)
			return -EINVAL;
		if (svc->removed)
			continue; /* inactive, no port */
		for (j = 0; j < svc->n_ports; j++)
			t->port_mask[svc->ports[j]] |= 1U << i;
		m->active = 1;
		m->n_comm = (__u8)svc->n_comm;
		for (j = 0; j < svc->n_comm; j++) {
			memcpy(m->comm[j], svc->comm[j], FP_COMM_LEN);
			m->comm[j][FP_COMM_LEN - 1] = '\0';
		}
		if (svc->cgroup[0]) {
			err = resolve_cgroup(cgroot, svc->cgroup, m);
			if (err)
				return err;
		}
	}
	t->n_services = cfg->n_services;
	return 0;
}

static int comm_matches(const struct fp_svc_match *m, const char *comm)
{
	int j;

	if (!m->n_comm)
		return 1;
	if (!comm)
		return 0;
	for (j = 0; j < m->n_comm && j < FP_MAX_COMM_MATCH; j++)
		/* bounded: comm may be a raw TASK_COMM_LEN buffer from a kernel record */
		if (!strncmp(comm, m->comm[j], FP_COMM_LEN))
			return 1;
	return 0;
}

int services__classify(const struct service_tables *t, uint16_t lport, uint16_t rport,
		       const char *comm, uint64_t (*ancestor)(int level, void *ctx), void *ctx,
		       int *server)
{
	__u32 lmask = t->port_mask[lport];
	__u32 mask = lmask | t->port_mask[rport];
	int i, n = t->n_services < FP_MAX_SERVICES ? t->n_services : FP_MAX_SERVICES;

	for (i = 0; i < n && mask >> i; i++) {
		const struct fp_svc_match *m = &t->match[i];

		if (!(mask & (1U << i)) || !m->active || !comm_matches(m, comm))
			continue;
		if (m->cg_level && (!ancestor || ancestor(m->cg_level, ctx) != m->cg_id))
			continue;
		if (server)
			*server = !!(lmask & (1U << i));
		return i;
	}
	return -1;
}
