// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "telemetry/probe_metrics.h"

struct probe_metrics {
	struct metrics *reg;
	struct metric_family *lost, *attached, *run_seconds, *runs, *misses, *build,
		*series_dropped, *reloads, *reload_ok;
	uint64_t lost_max[LOSS_REASONS];
};

#define AT(f) offsetof(struct probe_metrics, f)

static const struct metric_def probe_defs[] = {
	{ "fogprobe_events_lost_total", "Events or state the probe could not keep, by reason.",
	  METRIC_COUNTER, { "reason" }, .offset = AT(lost) },
	{ "fogprobe_probe_attached",
	  "1 if the program is attached at this hook, 0 if it is a fallback not in use or failed.",
	  METRIC_GAUGE, { "feature", "program", "hook" }, .offset = AT(attached) },
	{ "fogprobe_bpf_program_run_seconds_total",
	  "Time spent in the BPF program (bpf_stats run_time_ns; only with --bpf-stats or kernel.bpf_stats_enabled=1).", METRIC_COUNTER,
	  { "program" }, .offset = AT(run_seconds) },
	{ "fogprobe_bpf_program_runs_total", "Runs of the BPF program (bpf_stats run_cnt; only with --bpf-stats or kernel.bpf_stats_enabled=1).",
	  METRIC_COUNTER, { "program" }, .offset = AT(runs) },
	{ "fogprobe_bpf_program_misses_total",
	  "Runs of the BPF program the kernel skipped: it was already running on that CPU (recursion_misses); summed in events lost, reason bpf_recursion.",
	  METRIC_COUNTER, { "program" }, .offset = AT(misses) },
	{ "fogprobe_build_info", "Build and runtime versions; value is 1.", METRIC_GAUGE,
	  { "version", "libbpf", "kernel" }, .offset = AT(build) },
	{ "fogprobe_series_dropped_total",
	  "Series refused because the family reached its series cap.", METRIC_COUNTER,
	  { "family" }, .offset = AT(series_dropped) },
	{ "fogprobe_config_reloads_total",
	  "Config reloads (SIGHUP) by result: applied, or rejected with the running config kept.",
	  METRIC_COUNTER, { "result" }, .offset = AT(reloads) },
	{ "fogprobe_config_last_reload_successful",
	  "1 if the last reload was applied (or none was asked for), 0 if it was rejected.",
	  METRIC_GAUGE, .offset = AT(reload_ok) },
};

struct probe_metrics *probe_metrics__new(struct metrics *reg, const char *libbpf_version)
{
	struct probe_metrics *pm = calloc(1, sizeof(*pm));
	struct utsname u = { 0 };
	int err;

	if (!pm)
		return NULL;
	pm->reg = reg;
	err = metrics__register(reg, pm, probe_defs, ARRAY_LEN(probe_defs));
	if (err) {
		free(pm);
		errno = -err;
		return NULL;
	}
	if (uname(&u))
		u.release[0] = '\0';
	/* both results exist from the start, so that increase() sees the first */
	metrics__add(pm->reloads, METRICS_LABELS("success"), 0);
	metrics__add(pm->reloads, METRICS_LABELS("failure"), 0);
	metrics__set(pm->reload_ok, NULL, 1);
	metrics__set(pm->build,
		     METRICS_LABELS(FOGPROBE_VERSION, libbpf_version ? libbpf_version : "",
				    u.release),
		     1);
	return pm;
}

void probe_metrics__free(struct probe_metrics *pm)
{
	free(pm);
}

void probe_metrics__hooks(struct probe_metrics *pm, const struct probe_status *ps, size_t n)
{
	size_t i;

	metrics__clear(pm->attached);
	for (i = 0; i < n; i++)
		metrics__set(pm->attached, METRICS_LABELS(ps[i].feature, ps[i].program, ps[i].hook),
			     ps[i].attached);
}

void probe_metrics__runtime(struct probe_metrics *pm, const struct program_runtime *rt, size_t n)
{
	bool measured = false;
	size_t i;

	/* The kernel counts runs and their time only while run-time statistics are on
	 * (--bpf-stats, or kernel.bpf_stats_enabled on the node): until a run is counted
	 * these two families would be zeros that mean "not measured", so they stay out. */
	for (i = 0; i < n; i++)
		measured |= rt[i].run_cnt > 0;
	for (i = 0; i < n; i++) {
		if (measured) {
			metrics__set(pm->run_seconds, METRICS_LABELS(rt[i].program),
				     rt[i].run_time_ns / 1e9);
			metrics__set(pm->runs, METRICS_LABELS(rt[i].program), rt[i].run_cnt);
		}
		metrics__set(pm->misses, METRICS_LABELS(rt[i].program), rt[i].misses);
	}
}

void probe_metrics__losses(struct probe_metrics *pm, const struct losses *l)
{
	int r;

	for (r = 0; r < LOSS_REASONS; r++) {
		if (!l->known[r])
			continue;
		/* Some totals come from several kernel counters read one after the other
		 * (flow_evicted: inserted - deleted - live) and can dip by a few; a counter
		 * that goes down reads as a reset to Prometheus, so keep the highest. */
		if (l->n[r] > pm->lost_max[r])
			pm->lost_max[r] = l->n[r];
		metrics__set(pm->lost, METRICS_LABELS(loss_reason_names[r]), pm->lost_max[r]);
	}
}

static void set_dropped(void *ctx, const struct metric_info *fi)
{
	struct probe_metrics *pm = ctx;

	metrics__set(pm->series_dropped, METRICS_LABELS(fi->name), fi->series_dropped);
}

void probe_metrics__update(struct probe_metrics *pm)
{
	metrics__each_family(pm->reg, set_dropped, pm);
}

void probe_metrics__reload(struct probe_metrics *pm, bool ok)
{
	metrics__add(pm->reloads, METRICS_LABELS(ok ? "success" : "failure"), 1);
	metrics__set(pm->reload_ok, NULL, ok);
}
