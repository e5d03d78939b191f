// SPDX-License-Identifier: GPL-2.0-only
#include <stdio.h>
#include <stdlib.h>

#include "telemetry/host_metrics.h"

enum { NET_RX_BYTES, NET_TX_BYTES, NET_RX_PACKETS, NET_TX_PACKETS, NET_RX_ERRS, NET_TX_ERRS,
       NET_RX_DROP, NET_TX_DROP, NET_FAMILIES };
enum { FS_SIZE, FS_FREE, FS_AVAIL, FS_FILES, FS_FILES_FREE, FS_RO, FS_ERROR, FS_FAMILIES };

struct host_metrics {
	/* host */
	struct metric_family *cpu, *mem[HOST_MEM_FIELDS], *load[3], *running, *blocked, *ctxt,
		*forks, *boot, *processes, *fs[FS_FAMILIES], *net[NET_FAMILIES];
	/* containers */
	struct metric_family *c_cpu, *c_mem, *c_ws, *c_rx, *c_tx, *c_tracked, *c_dropped;
};

#define L(...)                                                                             \
	(const char *const[])                                                              \
	{                                                                                  \
		__VA_ARGS__                                                                \
	}
#define N(...) (sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *))
#define FAM(reg, name, help, type, ...)                                                    \
	metrics__family(reg, name, help, type, L(__VA_ARGS__), N(__VA_ARGS__), NULL, 0)
#define FAM0(reg, name, help, type) metrics__family(reg, name, help, type, NULL, 0, NULL, 0)

static const char *const mem_help[HOST_MEM_FIELDS] = {
	"Memory information field MemTotal_bytes.",  "Memory information field MemFree_bytes.",
	"Memory information field MemAvailable_bytes.", "Memory information field Buffers_bytes.",
	"Memory information field Cached_bytes.",    "Memory information field SwapTotal_bytes.",
	"Memory information field SwapFree_bytes.",
};

static const struct {
	const char *name, *help;
	enum metric_type type;
} fs_fams[FS_FAMILIES] = {
	{ "node_filesystem_size_bytes", "Filesystem size in bytes.", METRIC_GAUGE },
	{ "node_filesystem_free_bytes", "Filesystem free space in bytes.", METRIC_GAUGE },
	{ "node_filesystem_avail_bytes", "Filesystem space available to non-root users in bytes.",
	  METRIC_GAUGE },
	{ "node_filesystem_files", "Filesystem total file nodes.", METRIC_GAUGE },
	{ "node_filesystem_files_free", "Filesystem total free file nodes.", METRIC_GAUGE },
	{ "node_filesystem_readonly", "Filesystem read-only status.", METRIC_GAUGE },
	{ "node_filesystem_device_error", "Whether an error occurred while getting statistics for the given device.",
	  METRIC_GAUGE },
}, net_fams[NET_FAMILIES] = {
	{ "node_network_receive_bytes_total", "Network device statistic receive_bytes.",
	  METRIC_COUNTER },
	{ "node_network_transmit_bytes_total", "Network device statistic transmit_bytes.",
	  METRIC_COUNTER },
	{ "node_network_receive_packets_total", "Network device statistic receive_packets.",
	  METRIC_COUNTER },
	{ "node_network_transmit_packets_total", "Network device statistic transmit_packets.",
	  METRIC_COUNTER },
	{ "node_network_receive_errs_total", "Network device statistic receive_errs.",
	  METRIC_COUNTER },
	{ "node_network_transmit_errs_total", "Network device statistic transmit_errs.",
	  METRIC_COUNTER },
	{ "node_network_receive_drop_total", "Network device statistic receive_drop.",
	  METRIC_COUNTER },
	{ "node_network_transmit_drop_total", "Network device statistic transmit_drop.",
	  METRIC_COUNTER },
};

static bool host_families(struct host_metrics *hm, struct metrics *reg)
{
	static const char *const load_names[3] = { "node_load1", "node_load5", "node_load15" };
	static const char *const load_help[3] = { "1m load average.", "5m load average.",
						  "15m load average." };
	char name[64];
	bool ok = true;
	int i;

	hm->cpu = FAM(reg, "node_cpu_seconds_total",
		      "Seconds the CPUs spent in each mode (/proc/stat, USER_HZ ticks).",
		      METRIC_COUNTER, "cpu", "mode");
	ok &= hm->cpu != NULL;
	for (i = 0; i < HOST_MEM_FIELDS; i++) {
		snprintf(name, sizeof(name), "node_memory_%s_bytes", host_mem_names[i]);
		hm->mem[i] = FAM0(reg, name, mem_help[i], METRIC_GAUGE);
		ok &= hm->mem[i] != NULL;
	}
	for (i = 0; i < 3; i++) {
		hm->load[i] = FAM0(reg, load_names[i], load_help[i], METRIC_GAUGE);
		ok &= hm->load[i] != NULL;
	}
	hm->running = FAM0(reg, "node_procs_running",
			   "Number of processes in runnable state.", METRIC_GAUGE);
	hm->blocked = FAM0(reg, "node_procs_blocked",
			   "Number of processes blocked waiting for I/O to complete.", METRIC_GAUGE);
	hm->ctxt = FAM0(reg, "node_context_switches_total", "Total number of context switches.",
			METRIC_COUNTER);
	hm->forks = FAM0(reg, "node_forks_total", "Total number of forks.", METRIC_COUNTER);
	hm->boot = FAM0(reg, "node_boot_time_seconds", "Node boot time, in unixtime.",
			METRIC_GAUGE);
	hm->processes = FAM0(reg, "fogprobe_host_processes",
			     "Processes on the host now (numeric entries of the host's procfs).",
			     METRIC_GAUGE);
	ok &= hm->running && hm->blocked && hm->ctxt && hm->forks && hm->boot && hm->processes;
	for (i = 0; i < FS_FAMILIES; i++) {
		hm->fs[i] = FAM(reg, fs_fams[i].name, fs_fams[i].help, fs_fams[i].type, "device",
				"fstype", "mountpoint");
		ok &= hm->fs[i] != NULL;
	}
	for (i = 0; i < NET_FAMILIES; i++) {
		hm->net[i] = FAM(reg, net_fams[i].name, net_fams[i].help, net_fams[i].type,
				 "device");
		ok &= hm->net[i] != NULL;
	}
	return ok;
}

static bool container_families(struct host_metrics *hm, struct metrics *reg)
{
	hm->c_cpu = FAM(reg, "container_cpu_usage_seconds_total",
			"Cumulative CPU time of the cgroup (cpu.stat usage_usec, cpuacct.usage).",
			METRIC_COUNTER, "id", "pod_uid", "container_id");
	hm->c_mem = FAM(reg, "container_memory_usage_bytes",
			"Memory charged to the cgroup, page cache included (memory.current, "
			"memory.usage_in_bytes).",
			METRIC_GAUGE, "id", "pod_uid", "container_id");
	hm->c_ws = FAM(reg, "container_memory_working_set_bytes",
		       "Memory usage minus inactive file pages (what the OOM killer weighs).",
		       METRIC_GAUGE, "id", "pod_uid", "container_id");
	hm->c_rx = FAM(reg, "container_network_receive_bytes_total",
		       "Bytes received by the sockets of the cgroup and its descendants, IP "
		       "headers included (BPF cgroup_skb; cgroup v2 only).",
		       METRIC_COUNTER, "id", "pod_uid", "container_id");
	hm->c_tx = FAM(reg, "container_network_transmit_bytes_total",
		       "Bytes sent by the sockets of the cgroup and its descendants, IP headers "
		       "included (BPF cgroup_skb; cgroup v2 only).",
		       METRIC_COUNTER, "id", "pod_uid", "container_id");
	hm->c_tracked = FAM0(reg, "fogprobe_container_cgroups",
			     "Container, pod and service cgroups with container_* series.",
			     METRIC_GAUGE);
	hm->c_dropped = FAM0(reg, "fogprobe_container_cgroups_dropped",
			     "Container-like cgroups without series: over the configured cap.",
			     METRIC_GAUGE);
	return hm->c_cpu && hm->c_mem && hm->c_ws && hm->c_rx && hm->c_tx && hm->c_tracked &&
	       hm->c_dropped;
}

struct host_metrics *host_metrics__new(struct metrics *reg, bool hosts, bool containers)
{
	struct host_metrics *hm = calloc(1, sizeof(*hm));

	if (!hm)
		return NULL;
	if ((hosts && !host_families(hm, reg)) || (containers && !container_families(hm, reg))) {
		free(hm);
		return NULL;
	}
	return hm;
}

void host_metrics__free(struct host_metrics *hm)
{
	free(hm);
}

void host_metrics__update(struct host_metrics *hm, const struct host_snapshot *s)
{
	double hz = (double)s->user_hz;
	size_t i;
	int m;

	if (!hm->cpu)
		return;
	metrics__clear(hm->cpu);
	for (i = 0; i < s->n_cpus; i++) {
		char cpu[16];

		snprintf(cpu, sizeof(cpu), "%u", s->cpus[i].id);
		for (m = 0; m < HOST_CPU_MODES; m++)
			metrics__set(hm->cpu, L(cpu, host_cpu_mode_names[m]),
				     s->cpus[i].ticks[m] / hz);
	}
	for (m = 0; m < HOST_MEM_FIELDS; m++) {
		metrics__clear(hm->mem[m]);
		if (s->mem.have & (1u << m))
			metrics__set(hm->mem[m], NULL, (double)s->mem.bytes[m]);
	}
	for (m = 0; m < 3; m++) {
		metrics__clear(hm->load[m]);
		if (s->have_load)
			metrics__set(hm->load[m], NULL, s->load.load[m]);
	}
	if (s->n_cpus) {
		metrics__set(hm->running, NULL, (double)s->stat.procs_running);
		metrics__set(hm->blocked, NULL, (double)s->stat.procs_blocked);
		metrics__set(hm->ctxt, NULL, (double)s->stat.ctxt);
		metrics__set(hm->forks, NULL, (double)s->stat.forks);
		metrics__set(hm->boot, NULL, (double)s->stat.boot_time);
	}
	metrics__set(hm->processes, NULL, (double)s->processes);
	for (m = 0; m < FS_FAMILIES; m++)
		metrics__clear(hm->fs[m]);
	for (i = 0; i < s->n_fs; i++) {
		const struct host_fs *f = &s->fs[i];
		const char *const lv[] = { f->m.device, f->m.fstype, f->m.mountpoint };

		/* as node_exporter: a filesystem that cannot be stat'ed has only its error */
		metrics__set(hm->fs[FS_ERROR], lv, f->err ? 1 : 0);
		if (f->err)
			continue;
		metrics__set(hm->fs[FS_SIZE], lv, (double)f->size);
		metrics__set(hm->fs[FS_FREE], lv, (double)f->free);
		metrics__set(hm->fs[FS_AVAIL], lv, (double)f->avail);
		metrics__set(hm->fs[FS_FILES], lv, (double)f->files);
		metrics__set(hm->fs[FS_FILES_FREE], lv, (double)f->files_free);
		metrics__set(hm->fs[FS_RO], lv, f->m.ro ? 1 : 0);
	}
	for (m = 0; m < NET_FAMILIES; m++)
		metrics__clear(hm->net[m]);
	for (i = 0; i < s->n_net; i++) {
		const struct host_netdev *d = &s->net[i];
		const char *const lv[] = { d->name };
		const uint64_t v[NET_FAMILIES] = { d->rx_bytes,	  d->tx_bytes, d->rx_packets,
						   d->tx_packets, d->rx_errs,  d->tx_errs,
						   d->rx_drop,	  d->tx_drop };

		for (m = 0; m < NET_FAMILIES; m++)
			metrics__set(hm->net[m], lv, (double)v[m]);
	}
}

void host_metrics__containers(struct host_metrics *hm, const struct container_snapshot *s)
{
	size_t i;

	if (!hm->c_cpu)
		return;
	metrics__clear(hm->c_cpu);
	metrics__clear(hm->c_mem);
	metrics__clear(hm->c_ws);
	metrics__clear(hm->c_rx);
	metrics__clear(hm->c_tx);
	for (i = 0; i < s->n; i++) {
		const struct container_stats *c = &s->c[i];
		const char *const lv[] = { c->path, c->ref.pod_uid, c->ref.container_id };

		if (c->have_cpu)
			metrics__set(hm->c_cpu, lv, c->cpu_seconds);
		if (c->have_mem) {
			metrics__set(hm->c_mem, lv, (double)c->mem_usage);
			metrics__set(hm->c_ws, lv, (double)c->mem_working_set);
		}
		if (c->have_net) {
			metrics__set(hm->c_tx, lv, (double)c->net_bytes[0]);
			metrics__set(hm->c_rx, lv, (double)c->net_bytes[1]);
		}
	}
	metrics__set(hm->c_tracked, NULL, (double)s->n);
	metrics__set(hm->c_dropped, NULL, (double)s->dropped);
}
