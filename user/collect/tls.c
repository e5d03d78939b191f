// SPDX-License-Identifier: GPL-2.0-only
#define _GNU_SOURCE /* memmem */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/timerfd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "collect/probe.h"
#include "collect/tls.h"
#include "lib/log.h"
#include "l7.h"
#include "tcp.h"
#include <tls.h> /* include/tls.h, not collect/tls.h */
#include "tls.skel.h"

_Static_assert(sizeof(struct fp_tls_sock) == 16, "fp_tls_sock layout");
_Static_assert(sizeof(struct fp_tls_exec) == 8, "fp_tls_exec layout");

#define TLS_MAX_SEEN 8192 /* files looked at, remembered so each is parsed (and hooked) once;
			   * files past that many are not looked at */
#define TLS_PENDING 64 /* processes that exec'd a program linked to libssl, waiting for
			* the loader to map it */
#define TLS_PENDING_NS 1000000000ULL /* how long they are looked at again */
#define TLS_RETRY_NS 1000000ULL /* how often: the loader maps its libraries within a few
				* ms of the exec, a server listens tens of ms later */

static const char *const func_names[TLS_NFUNCS] = {
	"SSL_write",	    "SSL_read",	  "SSL_write_ex", "SSL_read_ex",
	"SSL_do_handshake", "SSL_accept", "SSL_connect",  "SSL_shutdown",
};

enum verdict {
	V_NONE, /* no OpenSSL here */
	V_REPORTED, /* in bins[] */
	V_STRIPPED, /* static OpenSSL without symbols, not reported yet: see on_candidate */
};

struct seen {
	dev_t dev;
	ino_t ino;
	enum verdict v;
	bool needs_libssl; /* an executable whose DT_NEEDED names libssl */
};

struct pending {
	int pid;
	uint64_t until_ns;
};

struct tls_collector {
	struct tls_bpf *skel;
	struct hook hook[2]; /* the uprobes; the exec hook that finds binaries early */
	struct bpf_link *exec_link;
	struct ring_buffer *rb; /* exec records */
	int epfd; /* the ring and the retry timer, polled by the daemon */
	int timerfd;
	struct pending pend[TLS_PENDING];
	size_t npend;
	bool timer_armed;
	pthread_mutex_t lock; /* bins: a scrape reads them while the loop hooks */
	int tasks_fd;
	struct tls_binary bins[TLS_MAX_BINARIES];
	struct bpf_link *links[TLS_MAX_BINARIES][2 * TLS_NFUNCS];
	size_t nbins;
	struct seen *seen;
	size_t nseen;
	bool full_logged;
	int ncpu;
};

/*
 * Text every OpenSSL build keeps, stripped or not: its version string ("OpenSSL 3.0.19
 * 27 Jan 2026", when OpenSSL_version() is linked in) or the source file names that its
 * error reporting records ("../ssl/ssl_lib.c"). Each is matched in two parts so that the
 * literals here do not make this very program look like OpenSSL.
 */
static bool has_openssl_text(const char *p, size_t n)
{
	const char *end = p + n, *q, *s = p;

	while ((q = memmem(s, end - s, "OpenSSL ", 8)) && end - q >= 11) {
		if (isdigit((unsigned char)q[8]) && q[9] == '.' && isdigit((unsigned char)q[10]))
			return true;
		s = q + 8;
	}
	for (s = p; (q = memmem(s, end - s, "ssl_lib.c", 9)); s = q + 9)
		if (q - p >= 4 && !memcmp(q - 4, "ssl/", 4))
			return true;
	return false;
}

int tls__elf_info(int fd, struct tls_elf_info *out)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	Elf *elf;
	int err = 0;

	memset(out, 0, sizeof(*out));
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf)
		return -ENOEXEC;
	if (elf_kind(elf) != ELF_K_ELF || elf_getshdrstrndx(elf, &shstrndx)) {
		err = -ENOEXEC;
		goto cleanup;
	}
	while ((scn = elf_nextscn(elf, scn))) {
		Elf_Data *data;
		GElf_Shdr sh;
		size_t i, n;
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (sh.sh_type == SHT_PROGBITS && name && !strcmp(name, ".rodata")) {
			data = elf_getdata(scn, NULL);
			if (data && data->d_buf)
				out->openssl = has_openssl_text(data->d_buf, data->d_size);
			continue;
		}
		if (sh.sh_type == SHT_DYNAMIC) {
			GElf_Dyn dyn;
			const char *need;

			data = elf_getdata(scn, NULL);
			for (i = 0; data && sh.sh_entsize && i < sh.sh_size / sh.sh_entsize; i++) {
				if (!gelf_getdyn(data, i, &dyn) || dyn.d_tag != DT_NEEDED)
					continue;
				need = elf_strptr(elf, sh.sh_link, dyn.d_un.d_val);
				if (need && !strncmp(need, "libssl.so", 9))
					out->needs_libssl = true;
			}
			continue;
		}
		if (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data || !sh.sh_entsize)
			continue;
		n = sh.sh_size / sh.sh_entsize;
		for (i = 0; i < n; i++) {
			GElf_Shdr target;
			GElf_Sym sym;
			const char *sname;
			int f;

			if (!gelf_getsym(data, i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
			    sym.st_shndx == SHN_UNDEF || sym.st_shndx >= SHN_LORESERVE ||
			    !sym.st_value)
				continue;
			sname = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (!sname || strncmp(sname, "SSL_", 4))
				continue;
			for (f = 0; f < TLS_NFUNCS; f++)
				if (!strcmp(sname, func_names[f]))
					break;
			if (f == TLS_NFUNCS || out->offset[f])
				continue;
			/* a uprobe takes a file offset: the symbol's address relative to its
			 * section, plus where the section sits in the file */
			if (!gelf_getshdr(elf_getscn(elf, sym.st_shndx), &target) ||
			    sym.st_value < target.sh_addr)
				continue;
			out->offset[f] = sym.st_value - target.sh_addr + target.sh_offset;
		}
	}
cleanup:
	elf_end(elf);
	return err;
}

static const char *const uprobe_probes[] = { "uprobe", NULL };
static const struct hook_feature tls_features[] = {
	{ "tls_plaintext", false, { { "uprobe/SSL_{read,write}[_ex]", { "ssl_*" }, uprobe_probes } } },
	/* without it, a new OpenSSL binary is found at the listen() of a service port or
	 * by the periodic scan */
	{ "tls_new_binaries", false,
	  { { "tracepoint/sched/sched_process_exec", { "tls_exec" }, NULL } } },
};

size_t tls__plan(struct hook *hooks, size_t max, const char *disable)
{
	return probe__plan(tls_features, 2, hooks, max, disable);
}

static int on_exec(void *ctx, void *data, size_t size);

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + t.tv_nsec;
}

/* The exec hook and what the daemon polls: the exec ring, and a timer for processes
 * whose loader has not mapped their libssl yet. 0 or -errno. */
static int open_exec(struct tls_collector *c)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int err;

	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	c->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (c->epfd < 0 || c->timerfd < 0)
		return -errno;
	c->rb = ring_buffer__new(bpf_map__fd(c->skel->maps.tls_events), on_exec, c, NULL);
	if (!c->rb)
		return -errno;
	ev.data.fd = ring_buffer__epoll_fd(c->rb);
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, ev.data.fd, &ev))
		return -errno;
	ev.data.fd = c->timerfd;
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->timerfd, &ev))
		return -errno;
	if (c->hook[1].chosen < 0)
		return 0;
	c->exec_link = bpf_program__attach(c->skel->progs.tls_exec);
	if (!c->exec_link) {
		err = -errno;
		snprintf(c->hook[1].error, sizeof(c->hook[1].error), "%s", strerror(-err));
		pr_warn("tls: attaching the exec hook: %s (new OpenSSL binaries are found at "
			"listen() and by the periodic scan)\n", strerror(-err));
		return 0;
	}
	c->hook[1].attached = true;
	return 0;
}

int tls__open(const struct tls_collector_opts *opts, struct tls_collector **out)
{
	struct tls_collector *c;
	int err;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	c->epfd = c->timerfd = -1;
	c->tasks_fd = opts->tasks_fd;
	c->ncpu = libbpf_num_possible_cpus();
	tls__plan(c->hook, 2, opts->disable);
	if (c->hook[0].chosen < 0) {
		err = -EOPNOTSUPP;
		goto cleanup;
	}
	c->seen = calloc(TLS_MAX_SEEN, sizeof(*c->seen));
	LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = collectors__btf_path());

	c->skel = tls_bpf__open_opts(&oo);
	if (!c->seen || !c->skel) {
		err = c->skel ? -ENOMEM : -errno;
		goto cleanup;
	}
	bpf_program__set_autoload(c->skel->progs.tls_exec, c->hook[1].chosen >= 0);
	err = bpf_map__reuse_fd(c->skel->maps.flows, opts->flows_fd);
	if (!err)
		err = bpf_map__reuse_fd(c->skel->maps.gone_flows, opts->gone_flows_fd);
	if (!err)
		err = bpf_map__reuse_fd(c->skel->maps.sndq_now, opts->sndq_fd);
	if (!err)
		err = bpf_map__reuse_fd(c->skel->maps.l7_svc, opts->svc_fd);
	if (!err)
		err = bpf_map__reuse_fd(c->skel->maps.l7_events, opts->events_fd);
	if (!err)
		err = bpf_map__reuse_fd(c->skel->maps.l7_stats, opts->stats_fd);
	if (!err)
		err = bpf_map__reuse_fd(c->skel->maps.l7_ssl, opts->ssl_fd);
	if (!err)
		err = bpf_map__reuse_fd(c->skel->maps.l7_tasks, opts->tasks_fd);
	if (!err)
		err = tls_bpf__load(c->skel);
	if (err) {
		snprintf(c->hook[0].error, sizeof(c->hook[0].error), "%s", strerror(-err));
		pr_warn("loading the TLS uprobes: %s\n", strerror(-err));
		goto cleanup;
	}
	c->hook[0].attached = true;
	err = open_exec(c);
	if (err) {
		pr_warn("tls: exec records: %s\n", strerror(-err));
		goto cleanup;
	}
	*out = c;
	return 0;
cleanup:
	tls__close(c);
	return err;
}

void tls__close(struct tls_collector *c)
{
	size_t i, j;

	if (!c)
		return;
	bpf_link__destroy(c->exec_link);
	ring_buffer__free(c->rb);
	if (c->timerfd >= 0)
		close(c->timerfd);
	if (c->epfd >= 0)
		close(c->epfd);
	for (i = 0; i < c->nbins; i++)
		for (j = 0; j < 2 * TLS_NFUNCS; j++)
			bpf_link__destroy(c->links[i][j]);
	tls_bpf__destroy(c->skel);
	pthread_mutex_destroy(&c->lock);
	free(c->seen);
	free(c);
}

static struct seen *seen_find(struct tls_collector *c, dev_t dev, ino_t ino)
{
	size_t i;

	for (i = 0; i < c->nseen; i++)
		if (c->seen[i].ino == ino && c->seen[i].dev == dev)
			return &c->seen[i];
	return NULL;
}

static struct seen *seen_add(struct tls_collector *c, dev_t dev, ino_t ino, enum verdict v)
{
	struct seen *s;

	if (c->nseen >= TLS_MAX_SEEN)
		return NULL;
	s = &c->seen[c->nseen++];
	s->dev = dev;
	s->ino = ino;
	s->v = v;
	return s;
}

static struct tls_binary *bin_add(struct tls_collector *c, const char *path, enum tls_state st)
{
	struct tls_binary *b;

	if (c->nbins >= TLS_MAX_BINARIES) {
		if (!c->full_logged)
			pr_warn("tls: more than %d OpenSSL binaries, %s and later ones not hooked\n",
				TLS_MAX_BINARIES, path);
		c->full_logged = true;
		return NULL;
	}
	b = &c->bins[c->nbins++];
	snprintf(b->path, sizeof(b->path), "%s", path);
	b->state = st;
	return b;
}

/* Attach both programs of each function found. open_path names the file from this
 * process; path is what the owner sees, for the report. 0, or -errno when the file is
 * gone (the caller looks again next time); an attach error is reported as failed. */
static int attach_binary(struct tls_collector *c, const char *path, const char *open_path,
			 const struct tls_elf_info *info, const char *found)
{
	struct bpf_program *progs[TLS_NFUNCS][2] = {
		{ c->skel->progs.ssl_write_enter, c->skel->progs.ssl_write_exit },
		{ c->skel->progs.ssl_read_enter, c->skel->progs.ssl_read_exit },
		{ c->skel->progs.ssl_write_ex_enter, c->skel->progs.ssl_write_ex_exit },
		{ c->skel->progs.ssl_read_ex_enter, c->skel->progs.ssl_read_ex_exit },
		{ c->skel->progs.ssl_ctl_enter, c->skel->progs.ssl_ctl_exit },
		{ c->skel->progs.ssl_ctl_enter, c->skel->progs.ssl_ctl_exit },
		{ c->skel->progs.ssl_ctl_enter, c->skel->progs.ssl_ctl_exit },
		{ c->skel->progs.ssl_ctl_enter, c->skel->progs.ssl_ctl_exit },
	};
	/* The handshake and shutdown calls before the data calls: a connection whose
	 * handshake runs while the binary is being hooked has its socket named before its
	 * first SSL_read, which may find its request in OpenSSL's buffer. */
	static const int order[TLS_NFUNCS] = {
		TLS_SSL_DO_HANDSHAKE, TLS_SSL_ACCEPT, TLS_SSL_CONNECT,	TLS_SSL_SHUTDOWN,
		TLS_SSL_WRITE,	      TLS_SSL_READ,   TLS_SSL_WRITE_EX, TLS_SSL_READ_EX,
	};
	struct tls_binary *b = bin_add(c, path, TLS_HOOKED);
	uint64_t t0 = now_ns();
	size_t idx;
	int i, f, r, n = 0, err = 0;

	if (!b)
		return 0;
	idx = b - c->bins;
	for (i = 0; i < TLS_NFUNCS; i++) {
		f = order[i];
		if (!info->offset[f])
			continue;
		/* the return probe first: an entry without its return would leave the
		 * thread marked as inside a call */
		for (r = 1; r >= 0; r--) {
			struct bpf_link *l;

			l = bpf_program__attach_uprobe(progs[f][r], r, -1, open_path,
						       info->offset[f]);
			if (!l) {
				err = -errno;
				break;
			}
			c->links[idx][2 * f + r] = l;
			n++;
		}
		if (err)
			break;
	}
	if (err) {
		for (r = 0; r < 2 * TLS_NFUNCS; r++) {
			bpf_link__destroy(c->links[idx][r]);
			c->links[idx][r] = NULL;
		}
		if (err == -ENOENT) { /* its process exited since: not this file's fault */
			c->nbins--;
			return err;
		}
		b->state = TLS_FAILED;
		pr_warn("tls: attaching to %s: %s\n", path, strerror(-err));
		return 0;
	}
	pr_info("tls: hooked %s (%d uprobes in %llu ms; found by %s)\n", path, n,
		(unsigned long long)(now_ns() - t0) / 1000000, found);
	return 0;
}

static bool is_task_l7(const struct tls_collector *c, int pid)
{
	__u32 key = pid;
	__u8 v;

	return c->tasks_fd >= 0 && !bpf_map_lookup_elem(c->tasks_fd, &key, &v);
}

/*
 * One file found mapped by a process. A library is known by the device and inode its
 * maps line gives; an executable by stat() of /proc/PID/exe.
 */
typedef void (*candidate_fn)(void *ctx, int pid, const char *path, const char *open_path,
			     dev_t dev, ino_t ino, bool exe);

/* libssl.so, libssl.so.3, ...; not NSS's libssl3.so */
static bool is_libssl(const char *path)
{
	const char *base = strrchr(path, '/');

	return base && !strncmp(base + 1, "libssl.so", 9);
}

/* One process: its executable, then (maps) each libssl it maps. */
static void walk_pid(long pid, bool maps_too, candidate_fn fn, void *ctx, char **line,
		     size_t *cap)
{
	char file[64], path[PATH_MAX], open_path[PATH_MAX + 64];
	unsigned int maj, min;
	unsigned long ino;
	struct stat st;
	ssize_t len;
	FILE *maps;
	dev_t last_dev = 0;
	ino_t last_ino = 0;

	snprintf(file, sizeof(file), "/proc/%ld/exe", pid);
	if (!stat(file, &st)) {
		len = readlink(file, path, sizeof(path) - 1);
		if (len > 0) {
			path[len] = 0;
			fn(ctx, pid, path, file, st.st_dev, st.st_ino, true);
		}
	}
	if (!maps_too)
		return;
	snprintf(file, sizeof(file), "/proc/%ld/maps", pid);
	maps = fopen(file, "re");
	if (!maps)
		return;
	while (getline(line, cap, maps) > 0) {
		char *p = strchr(*line, '/');
		int n;

		if (!p)
			continue;
		p[strcspn(p, "\n")] = 0;
		/* a replaced file (an upgrade) is not reachable by its path */
		n = strlen(p);
		if (!is_libssl(p) || (n > 10 && !strcmp(p + n - 10, " (deleted)")))
			continue;
		if (sscanf(*line, "%*s %*s %*s %x:%x %lu", &maj, &min, &ino) != 3)
			continue;
		/* one library maps several times in a row */
		if (makedev(maj, min) == last_dev && ino == last_ino)
			continue;
		last_dev = makedev(maj, min);
		last_ino = ino;
		snprintf(open_path, sizeof(open_path), "/proc/%ld/root%s", pid, p);
		fn(ctx, pid, p, open_path, last_dev, last_ino, false);
	}
	fclose(maps);
}

static void walk_proc(candidate_fn fn, void *ctx)
{
	struct dirent *de;
	char *line = NULL, *end;
	size_t cap = 0;
	DIR *dir;
	long pid;

	dir = opendir("/proc");
	if (!dir)
		return;
	while ((de = readdir(dir))) {
		pid = strtol(de->d_name, &end, 10);
		if (!*end && pid > 0)
			walk_pid(pid, true, fn, ctx, &line, &cap);
	}
	free(line);
	closedir(dir);
}

/* The owner's path when it names the same file here (the common case: one mount
 * namespace), else the one through /proc/PID, valid only while PID lives. */
static const char *stable_path(const char *path, const char *open_path, dev_t dev, ino_t ino)
{
	struct stat st;

	return !stat(path, &st) && st.st_dev == dev && st.st_ino == ino ? path : open_path;
}

static int elf_info_path(const char *open_path, struct tls_elf_info *info)
{
	int fd = open(open_path, O_RDONLY | O_CLOEXEC), err;

	if (fd < 0)
		return -errno;
	err = tls__elf_info(fd, info);
	close(fd);
	return err;
}

struct scan_ctx {
	struct tls_collector *c;
	const char *why; /* what made us look: the log says it */
	uint64_t since_ns; /* when it happened (CLOCK_MONOTONIC), if known */
	int added;
	bool libssl; /* the process maps a libssl (hooked now or before) */
	bool needs_libssl; /* its executable names libssl in DT_NEEDED */
};

static void on_candidate(void *ctx, int pid, const char *path, const char *open_path,
			 dev_t dev, ino_t ino, bool exe)
{
	struct scan_ctx *sc = ctx;
	struct tls_collector *c = sc->c;
	struct tls_elf_info info;
	struct seen *s = seen_find(c, dev, ino);

	if (!exe)
		sc->libssl = true;
	if (!s) {
		/* a file hooked and then forgotten would be hooked twice */
		if (c->nseen >= TLS_MAX_SEEN)
			return;
		if (elf_info_path(open_path, &info))
			return; /* gone already, or not ELF: looked at again next time */
		if (info.offset[TLS_SSL_WRITE] && info.offset[TLS_SSL_READ]) {
			char found[64];

			if (sc->since_ns)
				snprintf(found, sizeof(found), "%s of pid %d, %llu ms after it",
					 sc->why, pid,
					 (unsigned long long)(now_ns() - sc->since_ns) / 1000000);
			else
				snprintf(found, sizeof(found), "%s of pid %d", sc->why, pid);
			if (attach_binary(c, path, stable_path(path, open_path, dev, ino),
					  &info, found))
				return;
			seen_add(c, dev, ino, V_REPORTED);
			sc->added++;
			return;
		}
		/* OpenSSL's text in an executable linked to libssl is its build banner
		 * ("built with OpenSSL 3.0.x", nginx -V): its TLS is libssl's */
		s = seen_add(c, dev, ino,
			     exe && info.openssl && !info.needs_libssl ? V_STRIPPED : V_NONE);
		if (!s)
			return;
		s->needs_libssl = exe && info.needs_libssl;
	}
	if (exe && s->needs_libssl)
		sc->needs_libssl = true;
	/* A stripped static OpenSSL is reported once a process of an L7 service runs it:
	 * elsewhere it is nothing this probe would capture. */
	if (s->v == V_STRIPPED && is_task_l7(c, pid) && bin_add(c, path, TLS_NO_SYMBOLS)) {
		s->v = V_REPORTED;
		sc->added++;
		pr_warn("tls: %s has OpenSSL but no SSL_read/SSL_write symbols: its TLS "
			"traffic is not decrypted\n", path);
	}
}

int tls__scan(struct tls_collector *c)
{
	struct scan_ctx sc = { .c = c, .why = "the scan" };

	pthread_mutex_lock(&c->lock);
	walk_proc(on_candidate, &sc);
	pthread_mutex_unlock(&c->lock);
	return sc.added;
}

static void scan_pid(struct tls_collector *c, int pid, bool maps_too, struct scan_ctx *sc)
{
	char *line = NULL;
	size_t cap = 0;

	pthread_mutex_lock(&c->lock);
	walk_pid(pid, maps_too, on_candidate, sc, &line, &cap);
	pthread_mutex_unlock(&c->lock);
	free(line);
}

int tls__scan_pid(struct tls_collector *c, int pid, uint64_t since_ns)
{
	struct scan_ctx sc = { .c = c, .why = "the listen()", .since_ns = since_ns };

	if (!c || pid <= 0)
		return 0;
	scan_pid(c, pid, true, &sc);
	return sc.added;
}

size_t tls__binaries(struct tls_collector *c, struct tls_binary *out, size_t max)
{
	size_t n;

	pthread_mutex_lock(&c->lock);
	n = c->nbins < max ? c->nbins : max;
	memcpy(out, c->bins, n * sizeof(*out));
	pthread_mutex_unlock(&c->lock);
	return n;
}

/* Look again at each process whose loader had not mapped its libssl yet, until it has,
 * it is gone, or its time is up; then set the timer for the next look. */
static void retry_pending(struct tls_collector *c)
{
	struct itimerspec its = {};
	uint64_t now = now_ns(), expirations;
	size_t i = 0;

	if (read(c->timerfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		pr_debug("tls: retry timer: %s\n", strerror(errno));
	while (i < c->npend) {
		struct scan_ctx sc = { .c = c, .why = "the loader" };
		char exe[64];

		snprintf(exe, sizeof(exe), "/proc/%d/exe", c->pend[i].pid);
		scan_pid(c, c->pend[i].pid, true, &sc);
		if (sc.libssl || now > c->pend[i].until_ns || access(exe, F_OK))
			c->pend[i] = c->pend[--c->npend];
		else
			i++;
	}
	if (c->npend)
		its.it_value.tv_nsec = TLS_RETRY_NS;
	timerfd_settime(c->timerfd, 0, &its, NULL);
	c->timer_armed = c->npend;
}

/* A process exec'd: its executable now, and the libssl its loader maps next. Every
 * exec on the host comes here: a program seen before costs one stat(). */
static int on_exec(void *ctx, void *data, size_t size)
{
	const struct fp_tls_exec *e = data;
	struct tls_collector *c = ctx;
	struct scan_ctx sc = { .c = c, .why = "the exec" };
	struct seen *s = NULL;
	char exe[64];
	struct stat st;

	if (size < sizeof(*e))
		return 0;
	snprintf(exe, sizeof(exe), "/proc/%u/exe", e->pid);
	if (stat(exe, &st))
		return 0; /* gone already */
	pthread_mutex_lock(&c->lock);
	s = seen_find(c, st.st_dev, st.st_ino);
	sc.needs_libssl = s && s->needs_libssl;
	pthread_mutex_unlock(&c->lock);
	/* at the exec only the program itself is mapped (a static OpenSSL is hooked now):
	 * its libraries come with the loader, looked at below */
	if (!s)
		scan_pid(c, e->pid, false, &sc);
	if (!sc.needs_libssl)
		return 0;
	/* the loader is still at work: look again shortly (the oldest gives way, the
	 * periodic scan and the listen() remain) */
	if (c->npend == TLS_PENDING)
		memmove(c->pend, c->pend + 1, --c->npend * sizeof(c->pend[0]));
	c->pend[c->npend].pid = e->pid;
	c->pend[c->npend++].until_ns = now_ns() + TLS_PENDING_NS;
	return 0;
}

int tls__consume(struct tls_collector *c)
{
	int n = ring_buffer__consume(c->rb);

	if (c->npend || c->timer_armed)
		retry_pending(c);
	return n;
}

static __u64 stat_sum(const struct tls_collector *c, __u32 k)
{
	__u64 v[256], sum = 0;
	int i;

	if (c->ncpu > 256 || bpf_map_lookup_elem(bpf_map__fd(c->skel->maps.tls_stats), &k, v))
		return 0;
	for (i = 0; i < c->ncpu; i++)
		sum += v[i];
	return sum;
}

__u64 tls__unknown_socket(const struct tls_collector *c)
{
	return stat_sum(c, FP_TLS_UNKNOWN_SOCKET);
}

size_t tls__hooks(const struct tls_collector *c, const struct hook **hooks)
{
	*hooks = c->hook;
	return 2;
}

size_t tls__prog_stats(const struct tls_collector *c, struct prog_stats *out, size_t max)
{
	return probe__prog_stats(c->skel->obj, out, max);
}

struct discover_ctx {
	tls_found_fn fn;
	void *ctx;
	struct seen seen[TLS_MAX_SEEN];
	size_t n;
};

static void on_discover(void *ctx, int pid, const char *path, const char *open_path, dev_t dev,
			ino_t ino, bool exe)
{
	struct discover_ctx *d = ctx;
	struct tls_elf_info info;
	size_t i;
	bool symbols;

	(void)pid;
	for (i = 0; i < d->n; i++)
		if (d->seen[i].dev == dev && d->seen[i].ino == ino)
			return;
	if (d->n < TLS_MAX_SEEN) {
		d->seen[d->n].dev = dev;
		d->seen[d->n++].ino = ino;
	}
	if (elf_info_path(open_path, &info))
		return;
	symbols = info.offset[TLS_SSL_WRITE] && info.offset[TLS_SSL_READ];
	if (symbols || (exe && info.openssl && !info.needs_libssl))
		d->fn(d->ctx, path, symbols);
}

int tls__discover(tls_found_fn fn, void *ctx)
{
	struct discover_ctx *d = calloc(1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	d->fn = fn;
	d->ctx = ctx;
	walk_proc(on_discover, d);
	free(d);
	return 0;
}

void tls__losses(const struct tls_collector *c, struct losses *l)
{
	losses__set(l, LOSS_TLS_UNKNOWN_SOCKET, tls__unknown_socket(c));
	losses__set(l, LOSS_TLS_RINGBUF_FULL, stat_sum(c, FP_TLS_EXEC_LOST));
	losses__set(l, LOSS_TLS_SESSION_JOINED, stat_sum(c, FP_TLS_SESSION_JOINED));
}

/* ---- the collector interface ---- */

/* TLS plaintext from OpenSSL uprobes goes into the L7 capture's ring: it runs only
 * where the capture does. */
static int ops_open(const struct collector_env *env, void **out)
{
	struct tls_collector_opts o = {
		.flows_fd = collectors__map_fd(env->set, FP_MAP_FLOWS),
		.gone_flows_fd = collectors__map_fd(env->set, FP_MAP_GONE_FLOWS),
		.sndq_fd = collectors__map_fd(env->set, FP_MAP_SNDQ),
		.svc_fd = collectors__map_fd(env->set, FP_MAP_L7_SVC),
		.events_fd = collectors__map_fd(env->set, FP_MAP_L7_EVENTS),
		.stats_fd = collectors__map_fd(env->set, FP_MAP_L7_STATS),
		.ssl_fd = collectors__map_fd(env->set, FP_MAP_L7_SSL),
		.tasks_fd = collectors__map_fd(env->set, FP_MAP_L7_TASKS),
		.disable = env->disable,
	};
	struct tls_collector *c;
	int err;

	*out = NULL;
	if (o.events_fd < 0)
		return 0;
	err = tls__open(&o, &c);
	if (err)
		return err;
	pr_info("tls: %d OpenSSL binaries hooked or reported\n", tls__scan(c));
	*out = c;
	return 0;
}

static void ops_close(void *c)
{
	tls__close(c);
}

static int ops_rescan(void *c)
{
	return tls__scan(c);
}

static int ops_epoll_fd(const void *c)
{
	return ((const struct tls_collector *)c)->epfd;
}

static int ops_consume(void *c)
{
	return tls__consume(c);
}

static size_t ops_hooks(const void *c, const struct hook **out)
{
	return tls__hooks(c, out);
}

static size_t ops_prog_stats(const void *c, struct prog_stats *out, size_t max)
{
	return tls__prog_stats(c, out, max);
}

static void ops_losses(const void *c, struct losses *l)
{
	tls__losses(c, l);
}

const struct collector_ops tls_collector_ops = {
	.name = "TLS plaintext capture",
	.unavailable = "HTTPS is seen as ciphertext",
	.plan = tls__plan,
	.open = ops_open,
	.close = ops_close,
	.epoll_fd = ops_epoll_fd,
	.consume = ops_consume,
	.rescan = ops_rescan,
	.hooks = ops_hooks,
	.prog_stats = ops_prog_stats,
	.losses = ops_losses,
};
