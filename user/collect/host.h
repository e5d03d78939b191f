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

#define HOST_MAX_CPUS 1024
#define HOST_MAX_MOUNTS 512
#define HOST_MAX_NETDEVS 512
#define HOST_MAX_CONTAINERS 4096 /* hard cap; the configured cap is below it */

/* /proc/stat cpuN columns, in node_exporter's mode order (guest time is inside user). */
enum host_cpu_mode {
	HOST_CPU_USER = 0,
	HOST_CPU_NICE,
	HOST_CPU_SYSTEM,
	HOST_CPU_IDLE,
	HOST_CPU_IOWAIT,
	HOST_CPU_IRQ,
	HOST_CPU_SOFTIRQ,
	HOST_CPU_STEAL,
	HOST_CPU_MODES,
};

extern const char *const host_cpu_mode_names[HOST_CPU_MODES];

struct host_cpu {
	unsigned id;
	uint64_t ticks[HOST_CPU_MODES]; /* USER_HZ ticks */
};

struct host_stat {
	uint64_t procs_running;
	uint64_t procs_blocked;
	uint64_t ctxt;
	uint64_t forks; /* "processes": forks since boot */
	uint64_t boot_time; /* "btime", seconds since the epoch */
};

/* /proc/meminfo, in bytes; `have` has bit (1 << index) for each field found. */
enum host_mem_field {
	HOST_MEM_TOTAL = 0,
	HOST_MEM_FREE,
	HOST_MEM_AVAILABLE,
	HOST_MEM_BUFFERS,
	HOST_MEM_CACHED,
	HOST_MEM_SWAP_TOTAL,
	HOST_MEM_SWAP_FREE,
	HOST_MEM_FIELDS,
};

extern const char *const host_mem_names[HOST_MEM_FIELDS]; /* "MemTotal", ... */

struct host_meminfo {
	uint64_t bytes[HOST_MEM_FIELDS];
	unsigned have;
};

struct host_loadavg {
	double load[3]; /* 1, 5 and 15 minutes */
	unsigned running; /* runnable scheduling entities now */
	unsigned threads; /* scheduling entities (threads) that exist */
};

/* One line of /proc/<pid>/mountinfo, octal escapes (\040 ...) decoded. */
struct host_mount {
	char device[256]; /* mount source */
	char mountpoint[512];
	char fstype[64];
	bool ro; /* per-mount or superblock read-only */
};

struct host_fs {
	struct host_mount m;
	int err; /* statvfs: 0 or -errno (then the sizes are 0) */
	uint64_t size, free, avail, files, files_free;
};

struct host_netdev {
	char name[32];
	uint64_t rx_bytes, rx_packets, rx_errs, rx_drop;
	uint64_t tx_bytes, tx_packets, tx_errs, tx_drop;
};

struct host_snapshot {
	struct host_cpu cpus[HOST_MAX_CPUS];
	size_t n_cpus;
	struct host_stat stat;
	struct host_meminfo mem;
	struct host_loadavg load;
	bool have_load;
	uint64_t processes; /* numeric directories of procfs */
	struct host_fs fs[HOST_MAX_MOUNTS];
	size_t n_fs;
	struct host_netdev net[HOST_MAX_NETDEVS];
	size_t n_net;
	long user_hz;
};

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

/* Container id and pod uid from a cgroup path. */
struct cgroup_ref {
	char container_id[65]; /* "" if none: 64 lower-case hex digits */
	char pod_uid[37]; /* "" if none: 8-4-4-4-12, '-' separated */
};

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

/* Network bytes of one cgroup v2 id (from the BPF per-cgroup counters). */
struct cgroup_net {
	uint64_t cgid;
	uint64_t bytes[2]; /* tx, rx */
};

struct container_stats {
	char path[256]; /* cgroup path from the hierarchy's root, e.g. "/docker/<id>" */
	struct cgroup_ref ref;
	uint64_t cgid; /* cgroup v2 id; 0 if not in a cgroup v2 hierarchy */
	bool have_cpu, have_mem, have_net;
	bool v1; /* cpu/memory read from cgroup v1 controllers */
	double cpu_seconds;
	uint64_t mem_usage; /* memory.current / memory.usage_in_bytes */
	uint64_t mem_working_set; /* usage - inactive file, as cAdvisor computes it */
	uint64_t net_bytes[2]; /* tx, rx: sum over the cgroup and its descendants */
};

struct container_snapshot {
	struct container_stats *c;
	size_t n;
	uint64_t dropped; /* container-like cgroups beyond the cap, at the last scan */
	bool complete; /* the walk saw every cgroup (no limit hit) */
};

/*
 * Walk the cgroup hierarchies (v2 and the v1 cpuacct/memory controllers), keep the
 * container-like and configured cgroups (at most max_containers), read their CPU and
 * memory, and add net[] (sorted or not) to each kept cgroup and its kept ancestors.
 */
int host__containers(struct host_collector *h, const struct cgroup_net *net, size_t n_net,
		     const struct container_snapshot **out);
/* Did the last walk see this cgroup v2 id? A counter read before that walk whose cgroup
 * the walk did not see belongs to a removed cgroup (ids are never reused). */
bool host__cgroup_alive(const struct host_collector *h, uint64_t cgid);

#endif
