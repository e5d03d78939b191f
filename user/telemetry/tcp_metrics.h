/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The TCP metric families (fogprobe_tcp_*, drops, losses, probe status) and the
 * Betanet families that TCP alone can serve, updated from a tcp_snapshot.
 */
#ifndef FOGPROBE_TELEMETRY_TCP_METRICS_H
#define FOGPROBE_TELEMETRY_TCP_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/config.h"
#include "model/flows.h"
#include "telemetry/metrics.h"

struct tcp_metrics;

struct probe_status {
	const char *feature;
	const char *program;
	const char *hook;
	bool attached;
};

struct program_runtime {
	const char *program;
	uint64_t run_time_ns;
	uint64_t run_cnt;
};

typedef const char *(*drop_reason_name_fn)(void *ctx, unsigned reason);

struct tcp_metrics *tcp_metrics__new(struct metrics *reg, const struct config *cfg);
void tcp_metrics__free(struct tcp_metrics *tm);

int tcp_metrics__update(struct tcp_metrics *tm, const struct tcp_snapshot *s,
			drop_reason_name_fn reason_name, void *reason_ctx);
void tcp_metrics__probes(struct tcp_metrics *tm, const struct probe_status *p, size_t n);
void tcp_metrics__runtime(struct tcp_metrics *tm, const struct program_runtime *r, size_t n);
/* Events userspace could not keep (e.g. malformed records), by reason. */
void tcp_metrics__lost(struct tcp_metrics *tm, const char *reason, uint64_t total);

#endif
