// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stddef.h>
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

#define AT(f) offsetof(struct host_metrics, f)
#define FS_LABELS { "device", "fstype", "mountpoint" }
#define CONTAINER_LABELS { "id", "pod_uid", "container_id" }

/* node_exporter's names and help texts, so that its rules and dashboards apply as is. The
 * meminfo families are named after host_mem_names: node_memory_<field>_bytes. */
_Static_assert(HOST_MEM_FIELDS == 7, "one node_memory_* family below per host_mem_field");
static const struct metric_def host_defs[] = {
	{ "node_cpu_seconds_total",
	  "Seconds the CPUs spent in each mode (/proc/stat, USER_HZ ticks).", METRIC_COUNTER,
	  { "cpu", "mode" }, .offset = AT(cpu) },
	{ "node_memory_MemTotal_bytes", "Memory information field MemTotal_bytes.",
	  METRIC_GAUGE, .offset = AT(mem[HOST_MEM_TOTAL]) },
	{ "node_memory_MemFree_bytes", "Memory information field MemFree_bytes.", METRIC_GAUGE,
	  .offset = AT(mem[HOST_MEM_FREE]) },
	{ "node_memory_MemAvailable_bytes", "Memory information field MemAvailable_bytes.",
	  METRIC_GAUGE, .offset = AT(mem[HOST_MEM_AVAILABLE]) },
	{ "node_memory_Buffers_bytes", "Memory information field Buffers_bytes.", METRIC_GAUGE,
	  .offset = AT(mem[HOST_MEM_BUFFERS]) },
	{ "node_memory_Cached_bytes", "Memory information field Cached_bytes.", METRIC_GAUGE,
	  .offset = AT(mem[HOST_MEM_CACHED]) },
	{ "node_memory_SwapTotal_bytes", "Memory information field SwapTotal_bytes.",
	  METRIC_GAUGE, .offset = AT(mem[HOST_MEM_SWAP_TOTAL]) },
	{ "node_memory_SwapFree_bytes", "Memory information field SwapFree_bytes.",
	  METRIC_GAUGE, .offset = AT(mem[HOST_MEM_SWAP_FREE]) },
	{ "node_load1", "1m load average.", METRIC_GAUGE, .offset = AT(load[0]) },
	{ "node_load5", "5m load average.", METRIC_GAUGE, .offset = AT(load[1]) },
	{ "node_load15", "15m load average.", METRIC_GAUGE, .offset = AT(load[2]) },
	{ "node_procs_running", "Number of processes in runnable state.", METRIC_GAUGE,
	  .offset = AT(running) },
	{ "node_procs_blocked", "Number of processes blocked waiting for I/O to complete.",
	  METRIC_GAUGE, .offset = AT(blocked) },
	{ "node_context_switches_total", "Total number of context switches.", METRIC_COUNTER,
	  .offset = AT(ctxt) },
	{ "node_forks_total", "Total number of forks.", METRIC_COUNTER, .offset = AT(forks) },
	{ "node_boot_time_seconds", "Node boot time, in unixtime.", METRIC_GAUGE,
	  .offset = AT(boot) },
	{ "fogprobe_host_processes",
	  "Processes on the host now (numeric entries of the host's procfs).", METRIC_GAUGE,
	  .offset = AT(processes) },
	{ "node_filesystem_size_bytes", "Filesystem size in bytes.", METRIC_GAUGE, FS_LABELS,
	  .offset = AT(fs[FS_SIZE]) },
	{ "node_filesystem_free_bytes", "Filesystem free space in bytes.", METRIC_GAUGE,
	  FS_LABELS, .offset = AT(fs[FS_FREE]) },
	{ "node_filesystem_avail_bytes", "Filesystem space available to non-root users in bytes.",
	  METRIC_GAUGE, FS_LABELS, .offset = AT(fs[FS_AVAIL]) },
	{ "node_filesystem_files", "Filesystem total file nodes.", METRIC_GAUGE, FS_LABELS,
	  .offset = AT(fs[FS_FILES]) },
	{ "node_filesystem_files_free", "Filesystem total free file nodes.", METRIC_GAUGE,
	  FS_LABELS, .offset = AT(fs[FS_FILES_FREE]) },
	{ "node_filesystem_readonly", "Filesystem read-only status.", METRIC_GAUGE, FS_LABELS,
	  .offset = AT(fs[FS_RO]) },
	{ "node_filesystem_device_error",
	  "Whether an error occurred while getting statistics for the given device.",
	  METRIC_GAUGE, FS_LABELS, .offset = AT(fs[FS_ERROR]) },
	{ "node_network_receive_bytes_total", "Network device statistic receive_bytes.",
	  METRIC_COUNTER, { "device" }, .offset = AT(net[NET_RX_BYTES]) },
	{ "node_network_transmit_bytes_total", "Network device statistic transmit_bytes.",
	  METRIC_COUNTER, { "device" }, .offset = AT(net[NET_TX_BYTES]) },
	{ "node_network_receive_packets_total", "Network device statistic receive_packets.",
	  METRIC_COUNTER, { "device" }, .offset = AT(net[NET_RX_PACKETS]) },
	{ "node_network_transmit_packets_total", "Network device statistic transmit_packets.",
	  METRIC_COUNTER, { "device" }, .offset = AT(net[NET_TX_PACKETS]) },
	{ "node_network_receive_errs_total", "Network device statistic receive_errs.",
	  METRIC_COUNTER, { "device" }, .offset = AT(net[NET_RX_ERRS]) },
	{ "node_network_transmit_errs_total", "Network device statistic transmit_errs.",
	  METRIC_COUNTER, { "device" }, .offset = AT(net[NET_TX_ERRS]) },
	{ "node_network_receive_drop_total", "Network device statistic receive_drop.",
	  METRIC_COUNTER, { "device" }, .offset = AT(net[NET_RX_DROP]) },
	{ "node_network_transmit_drop_total", "Network device statistic transmit_drop.",
	  METRIC_COUNTER, { "device" }, .offset = AT(net[NET_TX_DROP]) },
};

/* cAdvisor's names; labels bounded by the configured container cap. */
static const struct metric_def container_defs[] = {
	{ "container_cpu_usage_seconds_total",
	  "Cumulative CPU time of the cgroup (cpu.stat usage_usec, cpuacct.usage).",
	  METRIC_COUNTER, CONTAINER_LABELS, .offset = AT(c_cpu) },
	{ "container_memory_usage_bytes",
	  "Memory charged to the cgroup, page cache included (memory.current, memory.usage_in_bytes).",
	  METRIC_GAUGE, CONTAINER_LABELS, .offset = AT(c_mem) },
	{ "container_memory_working_set_bytes",
	  "Memory usage minus inactive file pages (what the OOM killer weighs).", METRIC_GAUGE,
	  CONTAINER_LABELS, .offset = AT(c_ws) },
	{ "container_network_receive_bytes_total",
	  "Bytes received by the sockets of the cgroup and its descendants, IP headers included "
	  "(BPF cgroup_skb; cgroup v2 only), or by the interfaces of its network namespace "
	  "(containers.network).",
	  METRIC_COUNTER, CONTAINER_LABELS, .offset = AT(c_rx) },
	{ "container_network_transmit_bytes_total",
	  "Bytes sent by the sockets of the cgroup and its descendants, IP headers included "
	  "(BPF cgroup_skb; cgroup v2 only), or by the interfaces of its network namespace "
	  "(containers.network).",
	  METRIC_COUNTER, CONTAINER_LABELS, .offset = AT(c_tx) },
	{ "fogprobe_container_cgroups",
	  "Container, pod and service cgroups with container_* series.", METRIC_GAUGE,
	  .offset = AT(c_tracked) },
	{ "fogprobe_container_cgroups_dropped",
	  "Container-like cgroups without series: over the configured cap.", METRIC_GAUGE,
	  .offset = AT(c_dropped) },
};

struct host_metrics *host_metrics__new(struct metrics *reg, bool hosts, bool containers)
{
	struct host_metrics *hm = calloc(1, sizeof(*hm));
	int err = 0;

	if (!hm)
		return NULL;
	if (hosts)
		err = metrics__register(reg, hm, host_defs, ARRAY_LEN(host_defs));
	if (!err && containers)
		err = metrics__register(reg, hm, container_defs, ARRAY_LEN(container_defs));
	if (err) {
		free(hm);
		errno = -err;
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
			metrics__set(hm->cpu, METRICS_LABELS(cpu, host_cpu_mode_names[m]),
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
