/* SPDX-License-Identifier: GPL-2.0-only */
/* Map helpers for the BPF side only. */
#ifndef FOGPROBE_MAPS_BPF_H
#define FOGPROBE_MAPS_BPF_H

#include <bpf/bpf_helpers.h>

/* Per-CPU slots can still be interrupted by a softirq program on the same CPU (a
 * cgroup_skb ingress run inside a sendmsg), so increments are atomic. */
#define fp_add(ptr, v) __sync_fetch_and_add((ptr), (v))

/* Count one in a u64 slot of an array (per-CPU or not). */
static __always_inline void map_inc(void *map, __u32 key)
{
	__u64 *v = bpf_map_lookup_elem(map, &key);

	if (v)
		fp_add(v, 1);
}

/* Ring buffer wakeups in batches: the consumer drains on a timer and is woken early
 * only once `threshold` bytes are waiting. */
#define rb_wakeup_flags(rb, threshold)                                                     \
	(bpf_ringbuf_query(rb, BPF_RB_AVAIL_DATA) >= (threshold) ? BPF_RB_FORCE_WAKEUP :   \
								    BPF_RB_NO_WAKEUP)

/* Insert if absent (BPF_NOEXIST), then look up: the value that won the race. */
static __always_inline void *map_lookup_or_try_init(void *map, const void *key, const void *init,
						    int *err)
{
	void *val = bpf_map_lookup_elem(map, key);

	if (val)
		return val;
	*err = bpf_map_update_elem(map, key, init, BPF_NOEXIST);
	if (*err && *err != -17 /* EEXIST */)
		return 0;
	return bpf_map_lookup_elem(map, key);
}

#endif
