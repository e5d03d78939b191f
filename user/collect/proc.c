// SPDX-License-Identifier: GPL-2.0-only
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "collect/proc.h"
#include "collect/probe.h"
#include "collect/services.h"
#include "lib/log.h"
#include "proc.skel.h"

_Static_assert(sizeof(struct fp_proc_event) == 88, "fp_proc_event layout");
_Static_assert(sizeof(struct fp_runq_hist) == (FP_RUNQ_SLOTS + 3) * 8, "fp_runq_hist layout");

#define RUNQ_PROGS HOOK_MAX_PROGS

/* run-queue waits from the kernel's sched_info (CONFIG_SCHED_INFO): the switch alone */
static const char *const runq_btf_probes[] = { "tp_btf/sched_switch", "btf/sched_info.run_delay",
					       NULL };
static const char *const runq_raw_probes[] = { "raw_tp/sched/sched_switch",
					       "btf/sched_info.run_delay", NULL };
static const char *const runq_wake_probes[] = { "raw_tp/sched/sched_switch",
						"raw_tp/sched/sched_wakeup_new", NULL };
#define RUNQ_DELAY_HOOKS 2 /* the first candidates read sched_info */

/* Best hook first. No feature is required: the TCP probe runs without all of them. */
static const struct hook_feature features[] = {
	{ "runqueue_latency",
	  false,
	  { { "tp_btf/sched_switch", { "runq_switch_btf" }, runq_btf_probes },
	    { "raw_tp/sched_switch", { "runq_switch_raw" }, runq_raw_probes },
	    { "raw_tp/sched_{wakeup,wakeup_new,switch}",
	      { "runq_switch_wake_raw", "runq_wakeup_raw", "runq_wakeup_new_raw" },
	      runq_wake_probes } } },
	{ "process_forks", false, { { "tracepoint/sched/sched_process_fork", { "handle_fork" } } } },
	{ "fatal_signals",
	  false,
	  { { "tracepoint/signal/signal_deliver", { "handle_signal_deliver" } } } },
	{ "signal_senders",
	  false,
	  { { "tracepoint/signal/signal_generate", { "handle_signal_generate" } } } },
	{ "oom_kills", false, { { "tracepoint/oom/mark_victim", { "handle_mark_victim" } } } },
	{ "process_exits", false, { { "tracepoint/sched/sched_process_exit", { "handle_exit" } } } },
};
#define N_FEATURES (sizeof(features) / sizeof(features[0]))

struct proc_collector {
	struct proc_bpf *skel;
	struct ring_buffer *rb;
	struct bpf_link *links[N_FEATURES][RUNQ_PROGS];
	struct hook hooks[N_FEATURES];
	struct collector_sinks sinks;
	const struct config *cfg; /* services named in debug logs */
	char cgroot[256];
	int ncpu;
	bool share_maps; /* proc_tasks, task_flags and lost_proc are the TCP object's */
	int tasks_fd, flags_fd, lost_fd;
	__u8 *flags; /* task_flags, mapped: a byte per pid */
	size_t flags_len, flags_pids;
	__u64 malformed;
	__u64 tasks_lost; /* proc__add_task found the table full */
};

size_t proc__plan(struct hook *hooks, size_t max, const char *disable)
{
	return probe__plan(features, N_FEATURES, hooks, max, disable);
}

static uint64_t mono_ns(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000ULL + now.tv_nsec;
}

/* An exit or OOM record as a typed proc_exit. */
static void deliver(struct proc_collector *c, const struct fp_proc_event *e)
{
	int n_services = c->cfg ? c->cfg->n_services : FP_MAX_SERVICES;
	char comm[FP_COMM_LEN + 1], sender[FP_COMM_LEN + 1], cg[512];
	struct proc_exit x = {
		.type = e->type == FP_PROC_OOM ? PROC_RECORD_OOM : PROC_RECORD_EXIT,
		.svc = e->svc < n_services ? e->svc : -1,
		.comm = comm,
		.pid = e->pid,
		.exit_code = e->exit_code,
		.sig = e->sig,
		.si_code = e->si_code,
		.oom = e->oom,
		.anon_rss_bytes = e->anon_rss_kb * 1024,
		.sender_pid = e->sender_pid,
		.sender_comm = sender,
	};
	struct timespec wall;
	uint64_t now = mono_ns();

	memcpy(comm, e->comm, FP_COMM_LEN);
	comm[FP_COMM_LEN] = '\0';
	memcpy(sender, e->sender_comm, FP_COMM_LEN);
	sender[FP_COMM_LEN] = '\0';
	clock_gettime(CLOCK_REALTIME, &wall);
	x.unix_time = wall.tv_sec + wall.tv_nsec / 1e9 - (now > e->ts_ns ? (now - e->ts_ns) / 1e9 : 0);
	/* The cgroup outlives its last process long enough to be found by id. */
	if (x.type == PROC_RECORD_EXIT && e->cgroup_id && c->cgroot[0] &&
	    !proc__cgroup_path(c->cgroot, e->cgroup_id, cg, sizeof(cg)))
		x.cgroup = cg;
	if (c->sinks.process)
		c->sinks.process(c->sinks.ctx, &x);
}

static int handle(void *ctx, void *data, size_t size)
{
	struct proc_collector *c = ctx;
	const struct fp_proc_event *e = data;

	if (size < sizeof(*e) || (e->type != FP_PROC_EXIT && e->type != FP_PROC_OOM)) {
		c->malformed++;
		return 0;
	}
	deliver(c, e);
	return 0;
}

static int load(struct proc_collector *c)
{
	struct bpf_program *p;
	size_t i;
	int j, k, err;
	LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = collectors__btf_path());

	c->skel = proc_bpf__open_opts(&oo);
	if (!c->skel)
		return -errno;
	if (c->share_maps) {
		err = bpf_map__reuse_fd(c->skel->maps.proc_tasks, c->tasks_fd);
		if (!err)
			err = bpf_map__reuse_fd(c->skel->maps.task_flags, c->flags_fd);
		if (!err)
			err = bpf_map__reuse_fd(c->skel->maps.lost_proc, c->lost_fd);
		if (err) {
			proc_bpf__destroy(c->skel);
			c->skel = NULL;
			return err;
		}
	} else {
		bpf_map__set_max_entries(c->skel->maps.task_flags, proc__task_flag_entries());
	}
	/* features[0] is runqueue_latency */
	c->skel->rodata->targ_runq_delay = c->hooks[0].chosen >= 0 &&
					   c->hooks[0].chosen < RUNQ_DELAY_HOOKS;
	bpf_object__for_each_program(p, c->skel->obj) bpf_program__set_autoload(p, false);
	for (i = 0; i < N_FEATURES; i++) {
		const struct hook *h = &c->hooks[i];

		if (h->chosen < 0)
			continue;
		for (k = 0; k < RUNQ_PROGS && features[i].c[h->chosen].programs[k]; k++) {
			p = bpf_object__find_program_by_name(c->skel->obj,
							     features[i].c[h->chosen].programs[k]);
			if (p)
				bpf_program__set_autoload(p, true);
		}
	}
	err = proc_bpf__load(c->skel);
	if (!err)
		return 0;
	/* A hook that passed its probe can still fail to verify: each feature with a next
	 * candidate falls back to it (a tp_btf hook to raw_tp, sched_info to wakeups). */
	err = -EINVAL;
	for (i = 0; i < N_FEATURES; i++) {
		struct hook *h = &c->hooks[i];

		if (h->chosen < 0)
			continue;
		for (j = h->chosen + 1; j < h->n && !h->available[j]; j++)
			;
		if (j < h->n) {
			pr_info("loading the process programs failed, %s: %s -> %s\n", h->feature,
				h->hook[h->chosen], h->hook[j]);
			h->available[h->chosen] = false;
			h->chosen = j;
			err = 1;
		}
	}
	proc_bpf__destroy(c->skel);
	c->skel = NULL;
	if (err != 1)
		return err;
	return load(c);
}

__u32 proc__task_flag_entries(void)
{
	unsigned long pids = FP_TASK_FLAGS_DEFAULT_PIDS;
	FILE *f = fopen("/proc/sys/kernel/pid_max", "r");

	if (f) {
		if (fscanf(f, "%lu", &pids) != 1 || !pids || pids > FP_TASK_FLAGS_DEFAULT_PIDS)
			pids = FP_TASK_FLAGS_DEFAULT_PIDS;
		fclose(f);
	}
	return (pids + FP_TASK_FLAGS_PER_ENTRY - 1) / FP_TASK_FLAGS_PER_ENTRY;
}

/* task_flags into this process, so that proc__add_task sets a pid's byte alone. */
static int map_flags(struct proc_collector *c)
{
	const struct bpf_map *m = c->skel->maps.task_flags;
	long page = sysconf(_SC_PAGESIZE);
	void *p;

	c->flags_pids = (size_t)bpf_map__max_entries(m) * FP_TASK_FLAGS_PER_ENTRY;
	c->flags_len = (c->flags_pids + page - 1) / page * page;
	p = mmap(NULL, c->flags_len, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(m), 0);
	if (p == MAP_FAILED)
		return -errno;
	c->flags = p;
	return 0;
}

static void set_flag(struct proc_collector *c, __u32 id, __u8 v)
{
	if (id < c->flags_pids)
		__atomic_store_n(&c->flags[id], v, __ATOMIC_RELAXED);
}

static void attach(struct proc_collector *c)
{
	size_t i;
	int k;

	for (i = 0; i < N_FEATURES; i++) {
		struct hook *h = &c->hooks[i];
		const struct hook_candidate *cand;

		if (h->chosen < 0)
			continue;
		cand = &features[i].c[h->chosen];
		h->attached = true;
		for (k = 0; k < RUNQ_PROGS && cand->programs[k]; k++) {
			struct bpf_program *p =
				bpf_object__find_program_by_name(c->skel->obj, cand->programs[k]);
			struct bpf_link *l = p ? bpf_program__attach(p) : NULL;

			if (!l) {
				int err = p ? -errno : -ENOENT;

				snprintf(h->error, sizeof(h->error), "%s", strerror(-err));
				pr_warn("attaching %s (%s): %s\n", cand->programs[k], h->feature,
					strerror(-err));
				h->attached = false;
				break;
			}
			c->links[i][k] = l;
		}
		if (!h->attached) {
			for (k = 0; k < RUNQ_PROGS; k++) {
				bpf_link__destroy(c->links[i][k]);
				c->links[i][k] = NULL;
			}
			continue;
		}
		pr_info("%s: %s\n", h->feature, h->hook[h->chosen]);
	}
}

int proc__open(const struct proc_collector_opts *opts, struct proc_collector **out)
{
	struct proc_collector *c;
	int err;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->sinks = opts->sinks;
	c->cfg = opts->cfg;
	c->share_maps = opts->share_maps;
	c->tasks_fd = opts->tasks_fd;
	c->flags_fd = opts->flags_fd;
	c->lost_fd = opts->lost_fd;
	snprintf(c->cgroot, sizeof(c->cgroot), "%s", opts->cgroot ? opts->cgroot : "");
	c->ncpu = libbpf_num_possible_cpus();
	if (c->ncpu <= 0) {
		err = c->ncpu ?: -EINVAL;
		goto cleanup;
	}
	proc__plan(c->hooks, N_FEATURES, opts->disable);
	err = load(c);
	if (err) {
		pr_warn("loading the process programs: %s\n", strerror(-err));
		goto cleanup;
	}
	c->rb = ring_buffer__new(bpf_map__fd(c->skel->maps.proc_events), handle, c, NULL);
	if (!c->rb) {
		err = -errno;
		goto cleanup;
	}
	err = map_flags(c);
	if (err)
		goto cleanup;
	attach(c);
	*out = c;
	return 0;
cleanup:
	proc__close(c);
	return err;
}

void proc__close(struct proc_collector *c)
{
	size_t i;
	int k;

	if (!c)
		return;
	for (i = 0; i < N_FEATURES; i++)
		for (k = 0; k < RUNQ_PROGS; k++)
			bpf_link__destroy(c->links[i][k]);
	ring_buffer__free(c->rb);
	if (c->flags)
		munmap(c->flags, c->flags_len);
	proc_bpf__destroy(c->skel);
	free(c);
}

int proc__epoll_fd(const struct proc_collector *c)
{
	return ring_buffer__epoll_fd(c->rb);
}

int proc__consume(struct proc_collector *c)
{
	return ring_buffer__consume(c->rb);
}

int proc__add_task(struct proc_collector *c, __u32 tgid, __u8 svc)
{
	int fd = bpf_map__fd(c->skel->maps.proc_tasks);

	if (bpf_map_update_elem(fd, &tgid, &svc, BPF_ANY)) {
		int err = -errno;

		if (err == -E2BIG)
			c->tasks_lost++;
		return err;
	}
	set_flag(c, tgid, 1);
	/* Gone before it was added (the scan read it, then it exited): its exit, which
	 * removes the entry, has passed; a stale entry would count it as alive. Exiting
	 * now: the exit hook removes it. */
	if (!proc__alive(tgid)) {
		bpf_map_delete_elem(fd, &tgid);
		set_flag(c, tgid, 0);
	}
	return 0;
}

int proc__count_tasks(struct proc_collector *c, __u32 counts[FP_MAX_SERVICES])
{
	int fd = bpf_map__fd(c->skel->maps.proc_tasks);
	__u32 batch = 1024, n, i, in_tok = 0, out_tok = 0, keys[1024];
	__u8 vals[1024];
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	bool first = true;

	memset(counts, 0, FP_MAX_SERVICES * sizeof(*counts));
	for (;;) {
		int err;

		n = batch;
		err = bpf_map_lookup_batch(fd, first ? NULL : &in_tok, &out_tok, keys, vals, &n,
					   &opts);
		if (err && errno != ENOENT)
			return -errno;
		for (i = 0; i < n; i++)
			if (vals[i] < FP_MAX_SERVICES)
				counts[vals[i]]++;
		if (err)
			return 0;
		in_tok = out_tok;
		first = false;
	}
}

_Static_assert(FP_RUNQ_SLOTS == RUNQ_SLOTS, "run-queue slots");

int proc__read_runq(struct proc_collector *c, struct runq_hist out[FP_MAX_SERVICES])
{
	int fd = bpf_map__fd(c->skel->maps.runq_hist), cpu, w;
	struct fp_runq_hist *v;
	__u32 k;

	v = calloc(c->ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	memset(out, 0, FP_MAX_SERVICES * sizeof(*out));
	for (k = 0; k < FP_MAX_SERVICES; k++) {
		if (bpf_map_lookup_elem(fd, &k, v)) {
			int err = -errno;

			free(v);
			return err;
		}
		for (cpu = 0; cpu < c->ncpu; cpu++) {
			for (w = 0; w < FP_RUNQ_SLOTS; w++)
				out[k].slots[w] += v[cpu].slots[w];
			out[k].sum_ns += v[cpu].sum_ns;
			out[k].count += v[cpu].count;
		}
	}
	free(v);
	return 0;
}

void proc__losses(const struct proc_collector *c, struct losses *l)
{
	static const enum loss_reason reason[FP_PROC_LOSTS] = {
		[FP_PROC_LOST_RINGBUF] = LOSS_PROC_RINGBUF_FULL,
		[FP_PROC_LOST_TASKS] = LOSS_PROC_TASK_MAP_FULL,
		[FP_PROC_LOST_START] = LOSS_RUNQUEUE_START_MAP_FULL,
		[FP_PROC_LOST_RUNQ_MERGED] = LOSS_RUNQUEUE_WAITS_MERGED,
	};
	int fd = bpf_map__fd(c->skel->maps.lost_proc), cpu;
	__u64 *v, n;
	__u32 k;

	v = calloc(c->ncpu, sizeof(*v));
	if (!v)
		return;
	for (k = 0; k < FP_PROC_LOSTS; k++) {
		n = k == FP_PROC_LOST_TASKS ? c->tasks_lost : 0;
		if (!bpf_map_lookup_elem(fd, &k, v))
			for (cpu = 0; cpu < c->ncpu; cpu++)
				n += v[cpu];
		losses__set(l, reason[k], n);
	}
	losses__set(l, LOSS_PROC_MALFORMED, c->malformed);
	free(v);
}

size_t proc__hooks(const struct proc_collector *c, const struct hook **hooks)
{
	*hooks = c->hooks;
	return N_FEATURES;
}

size_t proc__prog_stats(const struct proc_collector *c, struct prog_stats *out, size_t max)
{
	return probe__prog_stats(c->skel->obj, out, max);
}

/* ---- /proc scan -------------------------------------------------------------------- */

struct lsock {
	__u64 ino;
	__u16 port;
};

struct netns_socks {
	__u64 netns;
	struct lsock *socks;
	size_t n, cap;
};

/* Listening sockets on service ports from one /proc/<pid>/net/tcp{,6}. */
static int read_listeners(const char *path, const struct service_tables *t, struct netns_socks *ns)
{
	char line[512];
	FILE *f = fopen(path, "re");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned port, st;
		unsigned long long ino;

		/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
		if (sscanf(line, " %*s %*[0-9A-Fa-f]:%x %*s %x %*s %*s %*s %*s %*s %llu", &port,
			   &st, &ino) != 3)
			continue;
		if (st != 0x0A /* TCP_LISTEN */ || port > 0xffff || !t->port_mask[port])
			continue;
		if (ns->n == ns->cap) {
			size_t cap = ns->cap ? ns->cap * 2 : 16;
			struct lsock *s = realloc(ns->socks, cap * sizeof(*s));

			if (!s) {
				fclose(f);
				return -ENOMEM;
			}
			ns->socks = s;
			ns->cap = cap;
		}
		ns->socks[ns->n].ino = ino;
		ns->socks[ns->n].port = (__u16)port;
		ns->n++;
	}
	fclose(f);
	return 0;
}

struct cg_ctx {
	const char *cgroot;
	char path[PATH_MAX / 2]; /* the process's cgroup v2 path, "/a/b" */
};

/* Id of the ancestor at level of the process's cgroup: the inode of that directory. */
static uint64_t scan_ancestor(int level, void *ctx)
{
	struct cg_ctx *c = ctx;
	char full[PATH_MAX];
	const char *p = c->path;
	struct stat st;
	int l = 0;

	while (*p && l < level) {
		p++;
		p += strcspn(p, "/");
		l++;
	}
	if (l < level)
		return 0;
	snprintf(full, sizeof(full), "%s%.*s", c->cgroot, (int)(p - c->path), c->path);
	return stat(full, &st) ? 0 : st.st_ino;
}

static void read_small(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	buf[0] = '\0';
	if (fd < 0)
		return;
	n = read(fd, buf, len - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
}

static void process_cgroup(const char *procfs, const char *pid, struct cg_ctx *cg)
{
	char path[PATH_MAX], buf[4096], *p;

	snprintf(path, sizeof(path), "%s/%s/cgroup", procfs, pid);
	read_small(path, buf, sizeof(buf));
	cg->path[0] = '\0';
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, "0::", 3)) {
			size_t n = strcspn(p + 3, "\n");

			if (n >= sizeof(cg->path))
				n = sizeof(cg->path) - 1;
			memcpy(cg->path, p + 3, n);
			cg->path[n] = '\0';
			if (!strcmp(cg->path, "/"))
				cg->path[0] = '\0';
			return;
		}
}

static struct netns_socks *netns_of(const char *procfs, const char *pid,
				    const struct service_tables *t, struct netns_socks **all,
				    size_t *n)
{
	char path[PATH_MAX];
	struct netns_socks *ns;
	struct stat st;
	size_t i;

	snprintf(path, sizeof(path), "%s/%s/ns/net", procfs, pid);
	if (stat(path, &st))
		return NULL;
	for (i = 0; i < *n; i++)
		if ((*all)[i].netns == st.st_ino)
			return &(*all)[i];
	ns = realloc(*all, (*n + 1) * sizeof(*ns));
	if (!ns)
		return NULL;
	*all = ns;
	ns = &ns[(*n)++];
	memset(ns, 0, sizeof(*ns));
	ns->netns = st.st_ino;
	snprintf(path, sizeof(path), "%s/%s/net/tcp", procfs, pid);
	read_listeners(path, t, ns);
	snprintf(path, sizeof(path), "%s/%s/net/tcp6", procfs, pid);
	read_listeners(path, t, ns);
	return ns;
}

int proc__scan_listeners(const char *procfs, const char *cgroot, const struct service_tables *t,
			 proc_listener_fn cb, void *ctx)
{
	struct netns_socks *all = NULL;
	size_t n_ns = 0, i;
	struct dirent *de;
	int found = 0;
	DIR *d;

	d = opendir(procfs);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char path[PATH_MAX], comm[32];
		struct netns_socks *ns;
		struct cg_ctx cg = { .cgroot = cgroot };
		__u32 seen = 0; /* services already reported for this process */
		struct dirent *fe;
		DIR *fd_dir;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		ns = netns_of(procfs, de->d_name, t, &all, &n_ns);
		if (!ns || !ns->n)
			continue;
		snprintf(path, sizeof(path), "%s/%s/fd", procfs, de->d_name);
		fd_dir = opendir(path);
		if (!fd_dir)
			continue;
		snprintf(path, sizeof(path), "%s/%s/comm", procfs, de->d_name);
		read_small(path, comm, sizeof(comm));
		comm[strcspn(comm, "\n")] = '\0';
		process_cgroup(procfs, de->d_name, &cg);
		while ((fe = readdir(fd_dir))) {
			char link[64];
			unsigned long long ino;
			ssize_t len;
			int svc;

			snprintf(path, sizeof(path), "%s/%s/fd/%s", procfs, de->d_name, fe->d_name);
			len = readlink(path, link, sizeof(link) - 1);
			if (len <= 0)
				continue;
			link[len] = '\0';
			if (sscanf(link, "socket:[%llu]", &ino) != 1)
				continue;
			for (i = 0; i < ns->n; i++)
				if (ns->socks[i].ino == ino)
					break;
			if (i == ns->n)
				continue;
			svc = services__classify(t, ns->socks[i].port, 0, comm, scan_ancestor, &cg,
						 NULL);
			if (svc < 0 || (seen & (1U << svc)))
				continue;
			seen |= 1U << svc;
			cb(ctx, (__u32)strtoul(de->d_name, NULL, 10), svc);
			found++;
		}
		closedir(fd_dir);
	}
	closedir(d);
	for (i = 0; i < n_ns; i++)
		free(all[i].socks);
	free(all);
	return found;
}

const char *proc__procfs(void)
{
	static const char *root;
	struct statfs st;

	if (!root)
		root = !statfs("/host/proc", &st) && st.f_type == PROC_SUPER_MAGIC ? "/host/proc" :
										      "/proc";
	return root;
}

bool proc__alive(__u32 tgid)
{
	char path[64], buf[512], *p;

	snprintf(path, sizeof(path), "%s/%u/stat", proc__procfs(), tgid);
	read_small(path, buf, sizeof(buf));
	/* pid (comm) S ...: comm may hold ')' itself, the state follows the last one */
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] && p[2] != 'Z' && p[2] != 'X';
}

/* Depth-first below dir (path[0..len) in buf), looking for the directory with inode id. */
static int find_ino(char *buf, size_t size, size_t len, __u64 id, int depth)
{
	struct dirent *de;
	DIR *d;

	if (depth > 32)
		return -ENOENT;
	d = opendir(buf);
	if (!d)
		return -ENOENT;
	while ((de = readdir(d))) {
		int n;

		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		n = snprintf(buf + len, size - len, "/%s", de->d_name);
		if (n < 0 || (size_t)n >= size - len)
			continue;
		if (de->d_ino == id || !find_ino(buf, size, len + n, id, depth + 1)) {
			closedir(d);
			return 0;
		}
		buf[len] = '\0';
	}
	closedir(d);
	return -ENOENT;
}

int proc__cgroup_path(const char *cgroot, __u64 id, char *buf, size_t len)
{
	char path[PATH_MAX];
	size_t root = strlen(cgroot);
	struct stat st;

	if (root >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, cgroot, root + 1);
	if (!stat(path, &st) && st.st_ino == id) {
		snprintf(buf, len, "/");
		return 0;
	}
	if (find_ino(path, sizeof(path), root, id, 0))
		return -ENOENT;
	snprintf(buf, len, "%s", path + root);
	return 0;
}

/* ---- the collector interface ---- */

static int ops_open(const struct collector_env *env, void **out)
{
	struct proc_collector_opts o = {
		.disable = env->disable,
		.cfg = env->cfg,
		.cgroot = env->cgroot,
		.sinks = env->sinks,
		.tasks_fd = collectors__map_fd(env->set, FP_MAP_PROC_TASKS),
		.flags_fd = collectors__map_fd(env->set, FP_MAP_TASK_FLAGS),
		.lost_fd = collectors__map_fd(env->set, FP_MAP_LOST_PROC),
	};

	o.share_maps = o.tasks_fd >= 0 && o.flags_fd >= 0 && o.lost_fd >= 0;
	return proc__open(&o, (struct proc_collector **)out);
}

static void ops_close(void *c)
{
	proc__close(c);
}

static int ops_epoll_fd(const void *c)
{
	return proc__epoll_fd(c);
}

static int ops_consume(void *c)
{
	return proc__consume(c);
}

static size_t ops_hooks(const void *c, const struct hook **out)
{
	return proc__hooks(c, out);
}

static size_t ops_prog_stats(const void *c, struct prog_stats *out, size_t max)
{
	return proc__prog_stats(c, out, max);
}

static void ops_losses(const void *c, struct losses *l)
{
	proc__losses(c, l);
}

const struct collector_ops proc_collector_ops = {
	.name = "process signals",
	.unavailable = "no run-queue, crash or OOM metrics",
	.plan = proc__plan,
	.open = ops_open,
	.close = ops_close,
	.epoll_fd = ops_epoll_fd,
	.consume = ops_consume,
	.hooks = ops_hooks,
	.prog_stats = ops_prog_stats,
	.losses = ops_losses,
};
