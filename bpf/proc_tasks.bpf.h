/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The processes of services (tgid -> service) and the process losses, defined once for
 * both objects: bpf/tcp.bpf.c owns them and adds each process that listens on a
 * service's port at its listen(), bpf/proc.bpf.c adds what those processes fork and
 * removes them at exit (userspace hands it the same maps with bpf_map__reuse_fd).
 * task_flags says, before proc_tasks is looked up, which ids it may hold (include/proc.h).
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
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, FP_TASK_FLAGS_DEFAULT_PIDS / FP_TASK_FLAGS_PER_ENTRY);
	__type(key, __u32);
	__type(value, struct fp_task_flags);
} task_flags SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FP_PROC_LOSTS);
	__type(key, __u32);
	__type(value, __u64);
} lost_proc SEC(".maps");

/* id's byte in task_flags, or NULL for an id beyond the array (pid_max raised later) */
static __always_inline __u8 *task_flag(__u32 id)
{
	__u32 k = id / FP_TASK_FLAGS_PER_ENTRY;
	struct fp_task_flags *f = bpf_map_lookup_elem(&task_flags, &k);

	return f ? &f->b[id % FP_TASK_FLAGS_PER_ENTRY] : NULL;
}

static __always_inline void task_flag_set(__u32 id, __u8 v)
{
	__u8 *b = task_flag(id);

	if (b)
		*b = v;
}

/* false when id is surely not in proc_tasks: no lookup needed */
static __always_inline bool proc_task_maybe(__u32 id)
{
	__u8 *b = task_flag(id);

	return !b || *b;
}

/* id's entry, or NULL: the flag first */
static __always_inline __u8 *proc_task_lookup(__u32 id)
{
	return proc_task_maybe(id) ? bpf_map_lookup_elem(&proc_tasks, &id) : NULL;
}

/* id (a tgid, or the tid of a thread a service process created) serves svc from now on.
 * Updating an existing entry never fails, so a failure is a full table: counted.
 * An id leaves proc_tasks before its flag is cleared; it enters after: a flag is never
 * clear while its entry exists (an id is deleted at its exit, and reused only after). */
static __always_inline void proc_task_add(__u32 id, __u8 svc)
{
	if (bpf_map_update_elem(&proc_tasks, &id, &svc, BPF_ANY))
		map_inc(&lost_proc, FP_PROC_LOST_TASKS);
	else
		task_flag_set(id, 1);
}

/* every thread's exit calls this: the flag first (a delete locks the hash's bucket) */
static __always_inline void proc_task_del(__u32 id)
{
	if (!proc_task_maybe(id))
		return;
	bpf_map_delete_elem(&proc_tasks, &id);
	task_flag_set(id, 0);
}

#endif
