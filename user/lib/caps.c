// SPDX-License-Identifier: GPL-2.0-only
/* Capabilities with the raw system calls (capget(2), capset(2), prctl(2)): no libcap. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "lib/caps.h"

/* capability(7) numbers, as capsh --decode names them */
static const char *const cap_names[] = {
	"cap_chown", "cap_dac_override", "cap_dac_read_search", "cap_fowner", "cap_fsetid",
	"cap_kill", "cap_setgid", "cap_setuid", "cap_setpcap", "cap_linux_immutable",
	"cap_net_bind_service", "cap_net_broadcast", "cap_net_admin", "cap_net_raw",
	"cap_ipc_lock", "cap_ipc_owner", "cap_sys_module", "cap_sys_rawio", "cap_sys_chroot",
	"cap_sys_ptrace", "cap_sys_pacct", "cap_sys_admin", "cap_sys_boot", "cap_sys_nice",
	"cap_sys_resource", "cap_sys_time", "cap_sys_tty_config", "cap_mknod", "cap_lease",
	"cap_audit_write", "cap_audit_control", "cap_setfcap", "cap_mac_override",
	"cap_mac_admin", "cap_syslog", "cap_wake_alarm", "cap_block_suspend", "cap_audit_read",
	"cap_perfmon", "cap_bpf", "cap_checkpoint_restore",
};
#define N_NAMES (int)(sizeof(cap_names) / sizeof(cap_names[0]))

int caps__get(uint64_t *effective, uint64_t *permitted)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
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

int caps__limit(uint64_t keep, uint64_t *kept)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};
	uint64_t eff, prm;
	int c, last = last_cap(), err = 0;

	err = caps__get(&eff, &prm);
	if (err)
		return err;
	keep &= prm;
	/* The bounding set first: dropping from it needs CAP_SETPCAP, which goes below. */
	for (c = 0; c <= last; c++) {
		if (keep & CAP_BIT(c) || prctl(PR_CAPBSET_READ, c, 0, 0, 0) != 1)
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) && !err)
			err = -errno;
	}
	/* ambient capabilities would come back at an exec; the daemon runs none */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL && !err)
		err = -errno;
	data[0].effective = data[0].permitted = (uint32_t)keep;
	data[1].effective = data[1].permitted = (uint32_t)(keep >> 32);
	if (syscall(SYS_capset, &hdr, data) && !err)
		err = -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) && !err)
		err = -errno;
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
