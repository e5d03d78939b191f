/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Process capabilities through the raw capget/capset/prctl system calls: what the daemon
 * holds, and dropping everything else from its effective, permitted, inheritable,
 * ambient and bounding sets once what needed more has run.
 */
#ifndef FOGPROBE_LIB_CAPS_H
#define FOGPROBE_LIB_CAPS_H

#include <stddef.h>
#include <stdint.h>

#define CAP_BIT(c) (1ULL << (c))
/* capability(7) numbers, for headers older than CAP_PERFMON and CAP_BPF (5.8) */
#define CAP_DAC_READ_SEARCH_BIT 2
#define CAP_SYS_PTRACE_BIT 19
#define CAP_SYS_ADMIN_BIT 21
#define CAP_PERFMON_BIT 38
#define CAP_BPF_BIT 39

/* This process's sets as bit masks (bit n: capability n). 0 or -errno. */
int caps__get(uint64_t *effective, uint64_t *permitted);
/*
 * Keep only keep & permitted, in every thread of the process: the bounding set loses
 * every other capability (when CAP_SETPCAP allows it, else it stays), the ambient and inheritable
 * sets are cleared, then the effective and permitted sets become the kept ones;
 * no_new_privs is set. The other threads do it in a SIGRTMIN handler (the caller's
 * handler is restored). *kept: what the calling thread holds after. 0 or -errno (the
 * sets are then as far as the kernel let them go).
 */
int caps__limit(uint64_t keep, uint64_t *kept);
/* The calling thread's bounding set */
uint64_t caps__bounding(void);
/* "cap_bpf,cap_perfmon" (the names of capsh --decode), "none" for 0 */
const char *caps__names(uint64_t mask, char *buf, size_t len);

#endif
