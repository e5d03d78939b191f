/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Host and container readers: procfs, sysfs, statvfs and cgroupfs into typed snapshots
 * (no metrics here). The host_parse_* functions are pure (text in, struct out) so that
 * they are unit-tested against fixture text; host__read() and host__containers() do the
 * I/O, under a configurable procfs/sysfs/rootfs so that a container with the host's
 * root mounted at /host reads the host, as node_exporter's --path.* options do.
 */
#ifndef FOGPROBE_COLLECT_HOST_H
#define FOGPROBE_COLLECT_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/host.h"

/* ---- pure parsers: 0 or -EINVAL (text not in the expected format) ---- */

/* cpuN lines into cpus (at most max; the "cpu" total line is skipped) and the rest. */
int host_parse_stat(const char *text, struct host_cpu *cpus, size_t max, size_t *n,
		    struct host_stat *st);
int host_parse_meminfo(const char *text, struct host_meminfo *m);
int host_parse_loadavg(const char *text, struct host_loadavg *l);
/* One mountinfo line (no newline needed). */
int host_parse_mountinfo_line(const char *line, struct host_mount *m);
/* Every mountinfo line, at most max; malformed lines are skipped and counted in *bad. */
int host_parse_mountinfo(const char *text, struct host_mount *out, size_t max, size_t *n,
			 size_t *bad);
int host_parse_netdev(const char *text, struct host_netdev *out, size_t max, size_t *n);
/* "key value" lines (cpu.stat, memory.stat): the value of key, -ENOENT if absent. */
int host_parse_keyed(const char *text, const char *key, uint64_t *val);
/* /proc/<pid>/status: the pids of its NSpid line (one per pid namespace, the
 * outermost first), 0 if there is none. */
int host_parse_nspid(const char *text);

/*
 * Docker (/docker/<id>, docker-<id>.scope), containerd (cri-containerd-<id>.scope),
 * cri-o (crio-<id>.scope; crio-conmon-<id>.scope is the monitor, not the container),
 * podman (libpod-<id>.scope) and kubepods (systemd driver:
 * kubepods-<qos>-pod<uid with _>.slice; cgroupfs driver: /kubepods/<qos>/pod<uid>/<id>).
 * The container id comes from the last component only, the pod uid from any.
 * Returns true when the last component names a container or a pod: a cgroup that
 * stands for one (its ancestors are QoS or runtime groupings, its descendants parts).
 */
bool host_cgroup_ref(const char *path, struct cgroup_ref *ref);

/*
 * The container and pod of a cgroup v2 id: the kernel's handle of the cgroup directory
 * opened under the cgroup2 mount (open_by_handle_at: CAP_DAC_READ_SEARCH), its path read
 * back, and the nearest component of that path that names a container (a process in a
 * container's sub-cgroup is still that container's), the pod from any. Cached in
 * CGROUP_NAMES_SLOTS direct-mapped places (an id names one cgroup for the kernel's
 * lifetime, so an answer never goes stale). For the event loop's thread only.
 */
#define CGROUP_NAMES_SLOTS 1024
struct cgroup_names;
struct cgroup_names *cgroup_names__new(const char *cgroup2_root); /* NULL: errno */
void cgroup_names__free(struct cgroup_names *cn); /* accepts NULL */
/* true with *out filled when the cgroup is (inside) a container or a pod */
bool cgroup_names__ref(void *cn, uint64_t cgroup_id, struct cgroup_ref *out);

/* ---- readers ---- */

struct host_collector_opts {
	const char *procfs; /* default "/proc" */
	const char *sysfs; /* default "/sys" */
	const char *rootfs; /* prefix of mount points for statvfs; default "/" */
	/* POSIX extended regexes; NULL or "" excludes nothing */
	const char *mounts_exclude;
	const char *fstypes_exclude;
	const char *netdev_exclude;
	/* containers */
	const char *cgroup2_root; /* cgroup v2 mount, NULL if none */
	/* cgroup v1 cpuacct and memory mounts: NULL = those of /proc/self/mountinfo */
	const char *cgroup_v1_cpu;
	const char *cgroup_v1_mem;
	int max_containers; /* 0: no container tracking */
	const char *const *extra_cgroups; /* cgroup paths tracked as well (service cgroups) */
	int n_extra;
};

struct host_collector;

/* 0 or -errno (-EINVAL: a regex does not compile; err says which). */
int host__new(const struct host_collector_opts *o, struct host_collector **out, char *err,
	      size_t errlen);
void host__free(struct host_collector *h); /* accepts NULL */

/* Reads every host source; a source that cannot be read leaves its part empty.
 * The snapshot belongs to the collector and lives until the next call. */
int host__read(struct host_collector *h, const struct host_snapshot **out);

/* Is this process in the host's pid namespace, where cgroup.procs names every process?
 * In a nested one (a pod without hostPID) it shows those outside as 0. */
bool host__host_pids(void);

/* Where host__containers() takes each container's network bytes from. */
enum container_net_source {
	/* net[]: the BPF per-cgroup counters, of the cgroup and its descendants */
	CONTAINER_NET_CGROUPS,
	/* the interfaces of the network namespace of one of its processes, less those
	 * network_devices_exclude names (lo), as cAdvisor reads /proc/<pid>/net/dev; none
	 * for a cgroup without a process or in the host's namespace (node_network_*) */
	CONTAINER_NET_NETNS,
};

/*
 * Walk the cgroup hierarchies (v2 and the v1 cpuacct/memory controllers), keep the
 * container-like and configured cgroups (at most max_containers), read their CPU and
 * memory, and their network bytes from src: with CONTAINER_NET_CGROUPS, net[] (sorted or
 * not) is added to each kept cgroup and its kept ancestors.
 */
int host__containers(struct host_collector *h, enum container_net_source src,
		     const struct cgroup_net *net, size_t n_net,
		     const struct container_snapshot **out);
/* Did the last walk see this cgroup v2 id? A counter read before that walk whose cgroup
 * the walk did not see belongs to a removed cgroup (ids are never reused). */
bool host__cgroup_alive(const struct host_collector *h, uint64_t cgid);

#endif
