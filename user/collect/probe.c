// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <mntent.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/magic.h>
#include <sys/vfs.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "collect/probe.h"
#include "lib/log.h"

static const char *const tracefs_paths[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };

static const char *tracefs_dir(void)
{
	struct statfs st;
	size_t i;

	for (i = 0; i < sizeof(tracefs_paths) / sizeof(tracefs_paths[0]); i++)
		if (!statfs(tracefs_paths[i], &st) && st.f_type == TRACEFS_MAGIC)
			return tracefs_paths[i];
	return NULL;
}

int probe__ensure_tracefs(void)
{
	if (tracefs_dir())
		return 0;
	if (mount("tracefs", tracefs_paths[0], "tracefs", 0, NULL)) {
		int err = -errno;

		pr_warn("mounting tracefs on %s: %s\n", tracefs_paths[0], strerror(-err));
		return err;
	}
	pr_info("mounted tracefs on %s\n", tracefs_paths[0]);
	return 0;
}

int probe__cgroup2_root(char *path, size_t len)
{
	const char *own = "/run/fogprobe/cgroup2";
	struct mntent *m;
	FILE *f;

	f = setmntent("/proc/self/mounts", "r");
	if (f) {
		while ((m = getmntent(f))) {
			if (!strcmp(m->mnt_type, "cgroup2")) {
				snprintf(path, len, "%s", m->mnt_dir);
				endmntent(f);
				return 0;
			}
		}
		endmntent(f);
	}
	mkdir("/run/fogprobe", 0755);
	mkdir(own, 0755);
	if (mount("cgroup2", own, "cgroup2", 0, NULL)) {
		int err = -errno;

		pr_warn("mounting cgroup2 on %s: %s\n", own, strerror(-err));
		return err;
	}
	pr_info("mounted cgroup2 on %s\n", own);
	snprintf(path, len, "%s", own);
	return 0;
}

bool probe__tracepoint_exists(const char *category, const char *event)
{
	const char *dir = tracefs_dir();
	char path[256];

	if (!dir)
		return false;
	snprintf(path, sizeof(path), "%s/events/%s/%s/format", dir, category, event);
	return !access(path, F_OK);
}

/* Does an empty BPF_PROG_TYPE_TRACING program load against vmlinux BTF type `name`? */
static bool tracing_loads(const char *name, int kind, enum bpf_attach_type type)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = type);
	struct btf *vmlinux;
	int id, fd;

	vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux)
		return false;
	id = btf__find_by_name_kind(vmlinux, name, kind);
	btf__free(vmlinux);
	if (id <= 0)
		return false;
	opts.attach_btf_id = id;
	fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, NULL, "GPL", insns, 2, &opts);
	if (fd < 0) {
		pr_debug("%s does not load: %s\n", name, strerror(errno));
		return false;
	}
	close(fd);
	return true;
}

bool probe__tp_btf_loads(const char *event)
{
	char name[128];

	snprintf(name, sizeof(name), "btf_trace_%s", event);
	return tracing_loads(name, BTF_KIND_TYPEDEF, BPF_TRACE_RAW_TP);
}

bool probe__iter_loads(const char *target)
{
	char name[128];

	snprintf(name, sizeof(name), "bpf_iter_%s", target);
	return tracing_loads(name, BTF_KIND_FUNC, BPF_TRACE_ITER);
}

bool probe__kprobes_available(void)
{
	const char *dir = tracefs_dir();
	char path[256];

	if (!access("/sys/bus/event_source/devices/kprobe/type", F_OK))
		return true;
	if (!dir)
		return false;
	snprintf(path, sizeof(path), "%s/kprobe_events", dir);
	return !access(path, F_OK);
}

bool probe__cgroup_skb_available(void)
{
	return libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_CGROUP_SKB, NULL) == 1;
}

bool probe__hook_disabled(const char *hook, const char *disable)
{
	const char *p = disable;

	while (p && *p) {
		size_t n = strcspn(p, ",");

		if (n && !strncmp(hook, p, n))
			return true;
		p += n;
		p += *p == ',';
	}
	return false;
}
