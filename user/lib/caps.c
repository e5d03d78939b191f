// SPDX-License-Identifier: GPL-2.0-only
/* Capabilities with the raw system calls (capget(2), capset(2), prctl(2)): no libcap. */
#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "lib/caps.h"

/* capability(7) numbers, as capsh --decode names them */
static const char *const cap_names[] = {
    "cap_chown",
    "cap_dac_override",
    "cap_dac_read_search",
    "cap_fowner",
    "cap_fsetid",
    "cap_kill",
    "cap_setgid",
    "cap_setuid",
    "cap_setpcap",
    "cap_linux_immutable",
    "cap_net_bind_service",
    "cap_net_broadcast",
    "cap_net_admin",
    "cap_net_raw",
    "cap_ipc_lock",
    "cap_ipc_owner",
    "cap_sys_module",
    "cap_sys_rawio",
    "cap_sys_chroot",
    "cap_sys_ptrace",
    "cap_sys_pacct",
    "cap_sys_admin",
    "cap_sys_boot",
    "cap_sys_nice",
    "cap_sys_resource",
    "cap_sys_time",
    "cap_sys_tty_config",
    "cap_mknod",
    "cap_lease",
    "cap_audit_write",
    "cap_audit_control",
    "cap_setfcap",
    "cap_mac_override",
    "cap_mac_admin",
    "cap_syslog",
    "cap_wake_alarm",
    "cap_block_suspend",
    "cap_audit_read",
    "cap_perfmon",
    "cap_bpf",
    "cap_checkpoint_restore",
};
#define N_NAMES (int)(sizeof(cap_names) / sizeof(cap_names[0]))

int caps__get(uint64_t *effective, uint64_t *permitted)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {};

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	*effective = (uint64_t)data[1].effective << 32 | data[0].effective;
	*permitted = (uint64_t)data[1].permitted << 32 | data[0].permitted;
	return 0;
}

/* The highest capability this kernel knows. */
static int last_cap(void)
{
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	int last = 63;

	if (f) {
		if (fscanf(f, "%d", &last) != 1 || last < 0 || last > 63)
			last = 63;
		fclose(f);
	}
	return last;
}

/*
 * Credentials are per thread: capset(2) and PR_CAPBSET_DROP change the calling thread's
 * only. Every other thread of the process runs the same calls from a signal handler
 * (as libpsx does), with nothing but system calls in it.
 */
static uint64_t limit_keep;
static int limit_last;
static bool limit_bounding;
static atomic_int limit_done, limit_err;

static int limit_self(void)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {};
	int c, err = 0;

	/* The bounding set first: dropping from it needs CAP_SETPCAP, which goes below. */
	for (c = 0; limit_bounding && c <= limit_last; c++) {
		if (limit_keep & CAP_BIT(c) || prctl(PR_CAPBSET_READ, c, 0, 0, 0) != 1)
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) && !err)
			err = -errno;
	}
	/* ambient capabilities would come back at an exec; the daemon runs none */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL && !err)
		err = -errno;
	data[0].effective = data[0].permitted = (uint32_t)limit_keep;
	data[1].effective = data[1].permitted = (uint32_t)(limit_keep >> 32);
	if (syscall(SYS_capset, &hdr, data) && !err)
		err = -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) && !err)
		err = -errno;
	return err;
}

static void on_limit_signal(int sig)
{
	int saved = errno, err = limit_self();

	(void)sig;
	if (err)
		atomic_store(&limit_err, err);
	atomic_fetch_add(&limit_done, 1);
	errno = saved;
}

int caps__limit(uint64_t keep, uint64_t *kept)
{
	struct sigaction sa = {.sa_handler = on_limit_signal, .sa_flags = SA_RESTART}, old;
	pid_t pid = getpid(), self = (pid_t)syscall(SYS_gettid);
	uint64_t eff, prm;
	struct dirent *de;
	int err, sent = 0, i;
	DIR *dir;

	err = caps__get(&eff, &prm);
	if (err)
		return err;
	limit_keep = keep & prm;
	limit_last = last_cap();
	/* Without CAP_SETPCAP (a systemd unit's bounding set) the bounding set stays as it
	 * was given; no_new_privs still keeps an exec from gaining anything. */
	limit_bounding = eff & CAP_BIT(CAP_SETPCAP);
	atomic_store(&limit_done, 0);
	atomic_store(&limit_err, 0);
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGRTMIN, &sa, &old))
		return -errno;
	dir = opendir("/proc/self/task");
	if (!dir) {
		err = -errno;
		goto restore;
	}
	while ((de = readdir(dir))) {
		pid_t tid = (pid_t)atoi(de->d_name);

		if (tid <= 0 || tid == self)
			continue;
		if (!syscall(SYS_tgkill, pid, tid, SIGRTMIN))
			sent++;
	}
	closedir(dir);
	/* each thread runs its handler at its next return to user space */
	for (i = 0; i < 2000 && atomic_load(&limit_done) < sent; i++)
		nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
	if (atomic_load(&limit_done) < sent)
		err = -ETIMEDOUT;
	else
		err = atomic_load(&limit_err);
	i = limit_self();
	err = err ?: i;
restore:
	sigaction(SIGRTMIN, &old, NULL);
	if (!caps__get(&eff, &prm))
		*kept = prm;
	return err;
}

const char *caps__names(uint64_t mask, char *buf, size_t len)
{
	size_t o = 0;
	int c;

	buf[0] = '\0';
	for (c = 0; c < 64; c++) {
		char num[16];
		const char *name = num;

		if (!(mask & CAP_BIT(c)))
			continue;
		if (c < N_NAMES)
			name = cap_names[c];
		else
			snprintf(num, sizeof(num), "%d", c);
		o += (size_t)snprintf(buf + o, o < len ? len - o : 0, "%s%s", o ? "," : "", name);
	}
	if (!o)
		snprintf(buf, len, "none");
	return buf;
}

uint64_t caps__bounding(void)
{
	uint64_t m = 0;
	int c, last = last_cap();

	for (c = 0; c <= last; c++)
		if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1)
			m |= CAP_BIT(c);
	return m;
}
