/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Host and container state as typed snapshots: what collect/host.c reads from procfs,
 * sysfs, statvfs and cgroupfs, and what telemetry/host_metrics.c turns into the node_*
 * and container_* families.
 */
#ifndef FOGPROBE_MODEL_HOST_H
#define FOGPROBE_MODEL_HOST_H

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

/* Container id and pod uid from a cgroup path. */
struct cgroup_ref {
	char container_id[65]; /* "" if none: 64 lower-case hex digits */
	char pod_uid[37]; /* "" if none: 8-4-4-4-12, '-' separated */
};

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

#endif
