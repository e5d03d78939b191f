// SPDX-License-Identifier: GPL-2.0-only
#include <string.h>
#include "model/flows.h"

void flows__reset_gauges(struct tcp_snapshot *s)
{
	memset(s->open, 0, sizeof(s->open));
	memset(s->listeners, 0, sizeof(s->listeners));
	s->flows_live = 0;
}

void flows__add_flow(struct tcp_snapshot *s, const struct fp_flow *f)
{
	s->flows_live++;
	if (f->svc < FP_MAX_SERVICES && f->kind < FP_KINDS && f->established)
		s->open[f->svc][f->kind]++;
}

void flows__add_listener(struct tcp_snapshot *s, const struct fp_listener *l)
{
	if (l->svc < FP_MAX_SERVICES)
		s->listeners[l->svc] += l->count;
}

__u64 flows__evicted(const struct tcp_snapshot *s)
{
	__u64 in = s->lost[FP_STAT_FLOWS_INSERTED], out = s->lost[FP_STAT_FLOWS_DELETED];

	return in > out + s->flows_live ? in - out - s->flows_live : 0;
}
