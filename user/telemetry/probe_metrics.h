/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The probe's own families: what it runs (fogprobe_build_info), which hooks it chose
 * (fogprobe_probe_attached), what its BPF programs cost (fogprobe_bpf_program_*), and
 * what it could not keep: events (fogprobe_events_lost_total) and series refused at a
 * family's cap (fogprobe_series_dropped_total).
 */
#ifndef FOGPROBE_TELEMETRY_PROBE_METRICS_H
#define FOGPROBE_TELEMETRY_PROBE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "model/losses.h"
#include "telemetry/metrics.h"

/* One candidate program of a feature: attached is true for the one in use. */
struct probe_status {
	const char *feature;
	const char *program;
	const char *hook;
	bool attached;
};

/* bpf_stats of one program (kernel.bpf_stats_enabled), cumulative. */
struct program_runtime {
	const char *program;
	uint64_t run_time_ns;
	uint64_t run_cnt;
	uint64_t misses; /* runs the kernel skipped (recursion_misses) */
};

struct probe_metrics;

/* Registers the families and sets fogprobe_build_info; libbpf_version is "1.1" (telemetry
 * does not link libbpf). NULL on error (errno set). */
struct probe_metrics *probe_metrics__new(struct metrics *reg, const char *libbpf_version);
void probe_metrics__free(struct probe_metrics *pm); /* accepts NULL */

/* Replaces fogprobe_probe_attached with these n candidates. */
void probe_metrics__hooks(struct probe_metrics *pm, const struct probe_status *ps, size_t n);
void probe_metrics__runtime(struct probe_metrics *pm, const struct program_runtime *rt, size_t n);
/* fogprobe_events_lost_total{reason} for every reason with l->known[r] set */
void probe_metrics__losses(struct probe_metrics *pm, const struct losses *l);
/* fogprobe_series_dropped_total{family} from the registry */
void probe_metrics__update(struct probe_metrics *pm);
/* a config reload: fogprobe_config_reloads_total{result}, ..._last_reload_successful */
void probe_metrics__reload(struct probe_metrics *pm, bool ok);

#endif
