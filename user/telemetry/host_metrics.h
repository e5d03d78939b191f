/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Host families under node_exporter's names (node_cpu_seconds_total, node_memory_*,
 * node_filesystem_*, node_network_*, node_load*, node_procs_*) so that existing rules
 * and dashboards work unchanged, and container families under cAdvisor's names
 * (container_cpu_usage_seconds_total, container_memory_*, container_network_*) with
 * bounded labels: id (cgroup path), pod_uid, container_id.
 */
#ifndef FOGPROBE_TELEMETRY_HOST_METRICS_H
#define FOGPROBE_TELEMETRY_HOST_METRICS_H

#include "model/host.h"
#include "telemetry/metrics.h"

struct host_metrics;

/* hosts / containers: create those families (either may be off). NULL on error (errno
 * set). */
struct host_metrics *host_metrics__new(struct metrics *reg, bool hosts, bool containers);
void host_metrics__free(struct host_metrics *hm); /* accepts NULL */

void host_metrics__update(struct host_metrics *hm, const struct host_snapshot *s);
void host_metrics__containers(struct host_metrics *hm, const struct container_snapshot *s);

#endif
