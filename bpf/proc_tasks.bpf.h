/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The processes of services (tgid -> service) and the process losses, defined once for
 * both objects: bpf/tcp.bpf.c owns them and adds each process that listens on a
 * service's port at its listen(), bpf/proc.bpf.c adds what those processes fork and
 * removes them at exit (userspace hands it the same maps with bpf_map__reuse_fd).
 * Needs include/proc.h and maps.bpf.h.
 */
#ifndef FOGPROBE_PROC_TASKS_BPF_H
#define FOGPROBE_PROC_TASKS_BPF_H

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FP_MAX_PROC_TASKS);
	__type(key, __u32);
	__type(value, __u8);
} proc_tasks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FP_PROC_LOSTS);
	__type(key, __u32);
	__type(value, __u64);
} lost_proc SEC(".maps");

/* id (a tgid, or the tid of a thread a service process created) serves svc from now on.
 * Updating an existing entry never fails, so a failure is a full table: counted. */
static __always_inline void proc_task_add(__u32 id, __u8 svc)
{
	if (bpf_map_update_elem(&proc_tasks, &id, &svc, BPF_ANY))
		map_inc(&lost_proc, FP_PROC_LOST_TASKS);
}

#endif
