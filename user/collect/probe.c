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

#include "collect/host.h"
#include "collect/probe.h"
#include "collect/sockdiag.h"
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

bool probe__btf_member(const char *type, const char *member)
{
	const struct btf_member *m;
	const struct btf_type *t;
	struct btf *vmlinux;
	bool found = false;
	int id, i;

	vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux)
		return false;
	id = btf__find_by_name_kind(vmlinux, type, BTF_KIND_STRUCT);
	t = id > 0 ? btf__type_by_id(vmlinux, id) : NULL;
	for (i = 0, m = t ? btf_members(t) : NULL; t && i < btf_vlen(t) && !found; i++, m++)
		found = !strcmp(btf__name_by_offset(vmlinux, m->name_off), member);
	btf__free(vmlinux);
	return found;
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

static bool probe_uncached(const char *spec)
{
	char cat[64], ev[64];

	if (!strncmp(spec, "tp_btf/", 7))
		return probe__tp_btf_loads(spec + 7);
	if (!strncmp(spec, "iter/", 5))
		return probe__iter_loads(spec + 5);
	if (sscanf(spec, "btf/%63[^.].%63s", cat, ev) == 2)
		return probe__btf_member(cat, ev);
	if (sscanf(spec, "raw_tp/%63[^/]/%63s", cat, ev) == 2)
		return libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_RAW_TRACEPOINT, NULL) == 1 &&
		       probe__tracepoint_exists(cat, ev);
	if (!strncmp(spec, "cgroup_skb", 10))
		return probe__cgroup_skb_available();
	if (sscanf(spec, "tracepoint/%63[^/]/%63s", cat, ev) == 2)
		return probe__tracepoint_exists(cat, ev);
	if (!strcmp(spec, "syscall/sock_diag"))
		return libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SYSCALL, NULL) == 1 &&
		       libbpf_probe_bpf_helper(BPF_PROG_TYPE_SYSCALL, BPF_FUNC_loop, NULL) == 1 &&
		       sockdiag__available() &&
		       /* every namespace is reached through a process of it */
		       host__host_pids();
	if (!strncmp(spec, "uprobe", 6))
		return !access("/sys/bus/event_source/devices/uprobe/type", R_OK);
	return false;
}

/* Probes load programs or read tracefs: each spec is asked once per process. Only the
 * main thread plans hooks. */
#define PROBE_CACHE 64
static struct {
	char spec[96];
	bool ok;
} probe_cache[PROBE_CACHE];
static size_t probe_cached;

bool probe__available(const char *spec)
{
	size_t i;
	bool ok;

	for (i = 0; i < probe_cached; i++)
		if (!strcmp(probe_cache[i].spec, spec))
			return probe_cache[i].ok;
	ok = probe_uncached(spec);
	if (probe_cached < PROBE_CACHE && strlen(spec) < sizeof(probe_cache[0].spec)) {
		snprintf(probe_cache[probe_cached].spec, sizeof(probe_cache[0].spec), "%s", spec);
		probe_cache[probe_cached++].ok = ok;
	}
	return ok;
}

static bool candidate_available(const struct hook_candidate *c)
{
	size_t i;

	if (!c->probes)
		return probe__available(c->hook);
	for (i = 0; c->probes[i]; i++)
		if (!probe__available(c->probes[i]))
			return false;
	return true;
}

size_t probe__plan(const struct hook_feature *f, size_t n, struct hook *hooks, size_t max,
		   const char *disable)
{
	size_t i;
	int j;

	probe__ensure_tracefs();
	for (i = 0; i < n && i < max; i++) {
		struct hook *h = &hooks[i];

		memset(h, 0, sizeof(*h));
		h->feature = f[i].name;
		h->required = f[i].required;
		h->chosen = -1;
		for (j = 0; j < HOOK_MAX_CANDIDATES && f[i].c[j].hook; j++) {
			h->hook[j] = f[i].c[j].hook;
			h->program[j] = f[i].c[j].programs[0];
			h->disabled[j] = probe__hook_disabled(h->hook[j], disable);
			h->available[j] = !h->disabled[j] && candidate_available(&f[i].c[j]);
			if (h->available[j] && h->chosen < 0)
				h->chosen = j;
			h->n++;
		}
	}
	return i;
}

size_t probe__prog_stats(const struct bpf_object *obj, struct prog_stats *out, size_t max)
{
	struct bpf_program *p;
	size_t n = 0;

	bpf_object__for_each_program(p, obj)
	{
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(p);

		if (fd < 0 || n >= max)
			continue;
		if (bpf_obj_get_info_by_fd(fd, &info, &len))
			continue;
		out[n].program = bpf_program__name(p);
		out[n].run_time_ns = info.run_time_ns;
		out[n].run_cnt = info.run_cnt;
		out[n].recursion_misses = info.recursion_misses;
		n++;
	}
	return n;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	enum log_level l = level == LIBBPF_WARN ? LOG_INFO : LOG_DEBUG;
	char line[1024];

	if (l > log__level())
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	log__print(l, "libbpf: %s", line);
	return 0;
}

void probe__libbpf_logging(void)
{
	libbpf_set_print(libbpf_print);
}
