// SPDX-License-Identifier: GPL-2.0-only
/*
 * Host and container readers. Parsers first (pure), then the I/O that feeds them.
 * Formats: proc(5) for /proc/stat, /proc/meminfo, /proc/loadavg, /proc/net/dev and
 * /proc/<pid>/mountinfo; Documentation/admin-guide/cgroup-v2.rst (cpu.stat usage_usec,
 * memory.current, memory.stat inactive_file) and cgroup-v1/ (cpuacct.usage,
 * memory.usage_in_bytes, memory.stat total_inactive_file).
 */
#define _GNU_SOURCE /* pthread_timedjoin_np */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "collect/host.h"

/* ---- parsers ------------------------------------------------------------------------ */

static const char *next_line(const char *p)
{
	const char *nl = strchr(p, '\n');

	return nl ? nl + 1 : p + strlen(p);
}

/* Unsigned decimal at *p (leading blanks skipped); advances *p. */
static int parse_u64(const char **p, uint64_t *v)
{
	const char *s = *p;
	uint64_t x = 0;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (x > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -EINVAL;
		x = x * 10 + (uint64_t)(*s - '0');
	}
	*v = x;
	*p = s;
	return 0;
}

static bool starts_word(const char *p, const char *w)
{
	size_t n = strlen(w);

	return !strncmp(p, w, n) && (p[n] == ' ' || p[n] == '\t');
}

int host_parse_stat(const char *text, struct host_cpu *cpus, size_t max, size_t *n,
		    struct host_stat *st)
{
	const char *p;
	bool any = false;

	*n = 0;
	memset(st, 0, sizeof(*st));
	for (p = text; *p; p = next_line(p)) {
		const char *q = p;
		uint64_t v;
		int m;

		if (!strncmp(p, "cpu", 3) && p[3] >= '0' && p[3] <= '9') {
			struct host_cpu c = {};

			q = p + 3;
			if (parse_u64(&q, &v) || v > UINT32_MAX)
				return -EINVAL;
			c.id = (unsigned)v;
			/* kernels before 2.6.11 had fewer columns; missing ones stay 0 */
			for (m = 0; m < HOST_CPU_MODES; m++)
				if (parse_u64(&q, &c.ticks[m]))
					break;
			if (m < 4)
				return -EINVAL;
			if (*n < max)
				cpus[(*n)++] = c;
			any = true;
			continue;
		}
		if (starts_word(p, "procs_running")) {
			q = p + 13;
			if (parse_u64(&q, &st->procs_running))
				return -EINVAL;
		} else if (starts_word(p, "procs_blocked")) {
			q = p + 13;
			if (parse_u64(&q, &st->procs_blocked))
				return -EINVAL;
		} else if (starts_word(p, "ctxt")) {
			q = p + 4;
			if (parse_u64(&q, &st->ctxt))
				return -EINVAL;
		} else if (starts_word(p, "processes")) {
			q = p + 9;
			if (parse_u64(&q, &st->forks))
				return -EINVAL;
		} else if (starts_word(p, "btime")) {
			q = p + 5;
			if (parse_u64(&q, &st->boot_time))
				return -EINVAL;
		}
	}
	return any ? 0 : -EINVAL;
}

int host_parse_meminfo(const char *text, struct host_meminfo *m)
{
	const char *p;

	memset(m, 0, sizeof(*m));
	for (p = text; *p; p = next_line(p)) {
		const char *colon = strchr(p, ':'), *q;
		uint64_t v;
		int f;

		if (!colon || colon > next_line(p))
			continue;
		for (f = 0; f < HOST_MEM_FIELDS; f++) {
			size_t len = strlen(host_mem_names[f]);

			if ((size_t)(colon - p) == len && !strncmp(p, host_mem_names[f], len))
				break;
		}
		if (f == HOST_MEM_FIELDS)
			continue;
		q = colon + 1;
		if (parse_u64(&q, &v))
			return -EINVAL;
		while (*q == ' ')
			q++;
		/* every size in meminfo is "kB" (KiB); a bare number would be a count */
		if (!strncmp(q, "kB", 2)) {
			if (v > UINT64_MAX / 1024)
				return -EINVAL;
			v *= 1024;
		}
		m->bytes[f] = v;
		m->have |= 1u << f;
	}
	return m->have ? 0 : -EINVAL;
}

static int parse_double(const char **p, double *v)
{
	char *end;

	*v = strtod(*p, &end);
	if (end == *p)
		return -EINVAL;
	*p = end;
	return 0;
}

int host_parse_loadavg(const char *text, struct host_loadavg *l)
{
	const char *p = text;
	uint64_t r, t;
	int i;

	memset(l, 0, sizeof(*l));
	for (i = 0; i < 3; i++)
		if (parse_double(&p, &l->load[i]) || l->load[i] < 0)
			return -EINVAL;
	if (parse_u64(&p, &r) || *p != '/')
		return -EINVAL;
	p++;
	if (parse_u64(&p, &t) || r > UINT32_MAX || t > UINT32_MAX)
		return -EINVAL;
	l->running = (unsigned)r;
	l->threads = (unsigned)t;
	return 0;
}

/*
 * Copy one space-separated mountinfo field, decoding the kernel's octal escapes of
 * space, tab, newline and backslash (fs/proc_namespace.c mangle(): " \t\n\\"). A
 * field that does not fit is an error: a cut mount point would stat another path.
 */
static int mount_field(const char **p, char *out, size_t size)
{
	const char *s = *p;
	size_t o = 0;

	while (*s == ' ')
		s++;
	if (!*s || *s == '\n')
		return -EINVAL;
	for (; *s && *s != ' ' && *s != '\n'; s++) {
		char ch = *s;

		if (ch == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			ch = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		}
		if (o + 1 >= size)
			return -EINVAL;
		out[o++] = ch;
	}
	out[o] = '\0';
	*p = s;
	return 0;
}

/* Does the comma-separated option list opts contain opt? */
static bool has_option(const char *opts, const char *opt)
{
	size_t l = strlen(opt);
	const char *p = opts;

	while (*p) {
		size_t n = strcspn(p, ",");

		if (n == l && !strncmp(p, opt, l))
			return true;
		p += n;
		if (*p == ',')
			p++;
	}
	return false;
}

/*
 * 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
 * (1)(2)(3)   (4)   (5)      (6)      (7)   (8) (9)   (10)         (11)
 * Optional fields (7) run up to the "-" separator.
 */
int host_parse_mountinfo_line(const char *line, struct host_mount *m)
{
	char tmp[512], opts[512];
	const char *p = line;
	int i;

	memset(m, 0, sizeof(*m));
	for (i = 0; i < 4; i++)
		if (mount_field(&p, tmp, sizeof(tmp)))
			return -EINVAL;
	if (mount_field(&p, m->mountpoint, sizeof(m->mountpoint)) || m->mountpoint[0] != '/')
		return -EINVAL;
	if (mount_field(&p, opts, sizeof(opts)))
		return -EINVAL;
	m->ro = has_option(opts, "ro");
	for (;;) {
		if (mount_field(&p, tmp, sizeof(tmp)))
			return -EINVAL;
		if (!strcmp(tmp, "-"))
			break;
	}
	if (mount_field(&p, m->fstype, sizeof(m->fstype)) ||
	    mount_field(&p, m->device, sizeof(m->device)))
		return -EINVAL;
	if (!mount_field(&p, opts, sizeof(opts)))
		m->ro |= has_option(opts, "ro");
	return 0;
}

int host_parse_mountinfo(const char *text, struct host_mount *out, size_t max, size_t *n,
			 size_t *bad)
{
	const char *p;

	*n = 0;
	*bad = 0;
	for (p = text; *p && *n < max; p = next_line(p)) {
		if (*p == '\n')
			continue;
		if (host_parse_mountinfo_line(p, &out[*n]))
			(*bad)++;
		else
			(*n)++;
	}
	return 0;
}

/*
 * Inter-|   Receive                                                |  Transmit
 *  face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets ...
 *     lo: 1234 ...
 * Two header lines, then "name:" and 16 numbers (8 receive, 8 transmit).
 */
int host_parse_netdev(const char *text, struct host_netdev *out, size_t max, size_t *n)
{
	const char *p;

	*n = 0;
	for (p = text; *p && *n < max; p = next_line(p)) {
		const char *colon = strchr(p, ':'), *name = p, *q;
		struct host_netdev d = {};
		uint64_t v[16];
		size_t len;
		int i;

		if (!colon || colon >= next_line(p))
			continue; /* a header line */
		while (*name == ' ')
			name++;
		len = (size_t)(colon - name);
		if (!len || len >= sizeof(d.name))
			return -EINVAL;
		memcpy(d.name, name, len);
		q = colon + 1;
		for (i = 0; i < 16; i++)
			if (parse_u64(&q, &v[i]))
				return -EINVAL;
		d.rx_bytes = v[0];
		d.rx_packets = v[1];
		d.rx_errs = v[2];
		d.rx_drop = v[3];
		d.tx_bytes = v[8];
		d.tx_packets = v[9];
		d.tx_errs = v[10];
		d.tx_drop = v[11];
		out[(*n)++] = d;
	}
	return 0;
}

int host_parse_keyed(const char *text, const char *key, uint64_t *val)
{
	const char *p;

	for (p = text; *p; p = next_line(p)) {
		const char *q;

		if (!starts_word(p, key))
			continue;
		q = p + strlen(key);
		return parse_u64(&q, val);
	}
	return -ENOENT;
}

int host_parse_nspid(const char *text)
{
	const char *p, *q;
	uint64_t v;
	int n = 0;

	for (p = text; *p; p = next_line(p)) {
		if (strncmp(p, "NSpid:", 6))
			continue;
		for (q = p + 6; !parse_u64(&q, &v); n++)
			;
		return n;
	}
	return 0;
}

static bool is_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return false;
	return true;
}

/* 64 hex digits, then exactly `suffix`. */
static bool hex_id(const char *s, size_t n, const char *suffix, char *out)
{
	size_t sl = strlen(suffix);

	if (n != 64 + sl || !is_hex(s, 64) || strncmp(s + 64, suffix, sl))
		return false;
	memcpy(out, s, 64);
	out[64] = '\0';
	return true;
}

/* A pod uid 8-4-4-4-12 with '-' or '_' (systemd escapes '-' in unit names) as sep. */
static bool pod_uid(const char *s, size_t n, char sep, char *out)
{
	static const int dash[] = { 8, 13, 18, 23 };
	size_t i, d = 0;

	if (n != 36)
		return false;
	for (i = 0; i < 36; i++) {
		if (d < 4 && (int)i == dash[d]) {
			if (s[i] != sep)
				return false;
			out[i] = '-';
			d++;
		} else if (!isxdigit((unsigned char)s[i])) {
			return false;
		} else {
			out[i] = (char)tolower((unsigned char)s[i]);
		}
	}
	out[36] = '\0';
	return true;
}

static bool component_pod(const char *c, size_t n, char *uid)
{
	static const char *const slices[] = { "kubepods-pod", "kubepods-burstable-pod",
					      "kubepods-besteffort-pod" };
	size_t i;

	/* systemd driver: kubepods-burstable-pod<uid>.slice, '-' escaped as '_' */
	for (i = 0; i < sizeof(slices) / sizeof(slices[0]); i++) {
		size_t l = strlen(slices[i]);

		if (n > l + 6 && !strncmp(c, slices[i], l) && !strncmp(c + n - 6, ".slice", 6))
			return pod_uid(c + l, n - l - 6, '_', uid);
	}
	/* cgroupfs driver: pod<uid> */
	if (n == 39 && !strncmp(c, "pod", 3))
		return pod_uid(c + 3, 36, '-', uid);
	return false;
}

static bool component_container(const char *c, size_t n, char *id)
{
	static const char *const prefixes[] = { "docker-", "cri-containerd-", "crio-",
						"libpod-" };
	size_t i;

	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t l = strlen(prefixes[i]);

		if (n > l && !strncmp(c, prefixes[i], l))
			return hex_id(c + l, n - l, ".scope", id);
	}
	/* cgroupfs layouts: /docker/<id>, /kubepods/<qos>/pod<uid>/<id> */
	return hex_id(c, n, "", id);
}

bool host_cgroup_ref(const char *path, struct cgroup_ref *ref)
{
	const char *p = path, *last = NULL;
	size_t last_n = 0;
	bool pod_last = false;

	memset(ref, 0, sizeof(*ref));
	while (*p) {
		size_t n;
		char uid[37];

		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (!n)
			break;
		pod_last = component_pod(p, n, uid);
		if (pod_last)
			memcpy(ref->pod_uid, uid, sizeof(uid));
		last = p;
		last_n = n;
		p += n;
	}
	if (!last)
		return false;
	if (component_container(last, last_n, ref->container_id))
		return true;
	return pod_last;
}

/* ---- I/O ---------------------------------------------------------------------------- */

struct cgroup_name {
	uint64_t id; /* 0: free */
	bool found;
	struct cgroup_ref ref;
};

struct cgroup_names {
	int root_fd;
	struct cgroup_name slot[CGROUP_NAMES_SLOTS];
};

struct cgroup_names *cgroup_names__new(const char *cgroup2_root)
{
	struct cgroup_names *cn;

	if (!cgroup2_root || !cgroup2_root[0]) {
		errno = ENOENT;
		return NULL;
	}
	cn = calloc(1, sizeof(*cn));
	if (!cn)
		return NULL;
	cn->root_fd = open(cgroup2_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cn->root_fd < 0) {
		free(cn);
		return NULL;
	}
	return cn;
}

void cgroup_names__free(struct cgroup_names *cn)
{
	if (!cn)
		return;
	close(cn->root_fd);
	free(cn);
}

/* The path of a cgroup v2 id as this process sees it, or false. */
static bool cgroup_path(int root_fd, uint64_t id, char *out, size_t size)
{
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + sizeof(uint64_t)];
	} h;
	char link[40];
	ssize_t n;
	int fd;

	h.fh.handle_bytes = sizeof(id);
	h.fh.handle_type = 0xfe; /* FILEID_KERNFS: the 64-bit kernfs node id */
	memcpy(h.fh.f_handle, &id, sizeof(id));
	fd = open_by_handle_at(root_fd, &h.fh, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return false;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, out, size - 1);
	close(fd);
	if (n <= 0)
		return false;
	out[n] = 0;
	return true;
}

bool cgroup_names__ref(void *ctx, uint64_t id, struct cgroup_ref *out)
{
	struct cgroup_names *cn = ctx;
	struct cgroup_name *c;
	struct cgroup_ref r;
	char path[4096], *slash;

	if (!cn || !id)
		return false;
	c = &cn->slot[(id * 0x9E3779B97F4A7C15ULL) >> 54 & (CGROUP_NAMES_SLOTS - 1)];
	if (c->id != id) {
		memset(c, 0, sizeof(*c));
		c->id = id;
		/* the nearest component up the path that names a container; the pod from any */
		if (cgroup_path(cn->root_fd, id, path, sizeof(path))) {
			for (;;) {
				host_cgroup_ref(path, &r);
				if (r.pod_uid[0] && !c->ref.pod_uid[0])
					memcpy(c->ref.pod_uid, r.pod_uid, sizeof(r.pod_uid));
				if (r.container_id[0]) {
					memcpy(c->ref.container_id, r.container_id,
					       sizeof(r.container_id));
					break;
				}
				slash = strrchr(path, '/');
				if (!slash || slash == path)
					break;
				*slash = 0;
			}
		}
		c->found = c->ref.container_id[0] || c->ref.pod_uid[0];
	}
	if (c->found)
		*out = c->ref;
	return c->found;
}

struct walk_entry {
	char path[256];
	struct cgroup_ref ref;
	uint64_t cgid;
	/* bytes of descendants that were removed since: keeps the counter monotonic */
	uint64_t retired[2];
};

struct netns_bytes {
	uint64_t ino; /* the namespace's nsfs inode */
	uint64_t bytes[2]; /* tx, rx */
	bool ok;
};

struct id_owner {
	uint64_t cgid;
	int idx; /* kept cgroup that contains it (one row per kept ancestor-or-self) */
};

#define STATFS_TIMEOUT_MS 1000
#define MAX_STUCK 32

struct statfs_job {
	char path[768];
	struct statvfs sv;
	int err;
	atomic_bool done;
	pthread_t thread;
};

struct host_collector {
	char procfs[256], sysfs[256], rootfs[256], cg2[256];
	char v1_cpu[512], v1_mem[512]; /* cgroup v1 cpuacct and memory mounts, "" if none */
	regex_t mounts_re, fstypes_re, netdev_re;
	bool has_mounts_re, has_fstypes_re, has_netdev_re;
	struct host_snapshot snap;
	struct statfs_job *stuck[MAX_STUCK];
	int n_stuck;
	char *buf;
	size_t buf_size;
	/* containers */
	int max_containers;
	char extra[32][256];
	int n_extra;
	struct walk_entry *kept, *prev_kept; /* this walk's and the last one's */
	int n_kept, n_prev_kept;
	struct walk_entry **prev_sorted; /* prev_kept by path */
	int *prev_to_cur; /* prev_kept index -> kept index, -1 if gone */
	uint64_t dropped;
	struct id_owner *owners, *prev_owners;
	size_t n_owners, cap_owners, n_prev_owners, cap_prev_owners;
	uint64_t *alive;
	size_t n_alive, cap_alive;
	bool walk_truncated;
	struct container_stats *cs;
	struct container_snapshot csnap;
	/* CONTAINER_NET_NETNS: this scrape's namespaces, read once each */
	struct netns_bytes *netns;
	size_t n_netns;
	struct host_netdev *devs; /* one /proc/<pid>/net/dev */
};

#define HOST_READ_MAX (4 << 20) /* bounds a file read, e.g. /proc/1/mountinfo */
#define WALK_MAX_DIRS 65536
#define WALK_MAX_DEPTH 16

/* Whole file into h->buf, NUL-terminated. Length or -errno. */
static ssize_t read_all(struct host_collector *h, const char *path)
{
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n;

		if (len + 1 >= h->buf_size) {
			size_t ns = h->buf_size * 2;
			char *nb;

			if (ns > HOST_READ_MAX) {
				close(fd);
				return -EFBIG;
			}
			nb = realloc(h->buf, ns);
			if (!nb) {
				close(fd);
				return -ENOMEM;
			}
			h->buf = nb;
			h->buf_size = ns;
		}
		n = read(fd, h->buf + len, h->buf_size - 1 - len);
		if (n < 0) {
			int e = errno;

			if (e == EINTR)
				continue;
			close(fd);
			return -e;
		}
		if (!n)
			break;
		len += (size_t)n;
	}
	close(fd);
	h->buf[len] = '\0';
	return (ssize_t)len;
}

static ssize_t read_at(struct host_collector *h, const char *dir, const char *file)
{
	char path[768];

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path))
		return -ENAMETOOLONG;
	return read_all(h, path);
}

static int compile(const char *re, regex_t *out, bool *has, const char *what, char *err,
		   size_t errlen)
{
	int rc;

	*has = false;
	if (!re || !re[0])
		return 0;
	rc = regcomp(out, re, REG_EXTENDED | REG_NOSUB);
	if (rc) {
		char msg[128];

		regerror(rc, out, msg, sizeof(msg));
		snprintf(err, errlen, "%s regex: %s", what, msg);
		return -EINVAL;
	}
	*has = true;
	return 0;
}

static void trim_slash(char *s)
{
	size_t n = strlen(s);

	while (n > 1 && s[n - 1] == '/')
		s[--n] = '\0';
}

/* cgroup v1 hierarchies of the cpuacct and memory controllers, from our own mounts: the
 * controllers are in the superblock options, the last field of the line. */
static void find_v1(struct host_collector *h)
{
	const char *p;

	if (read_all(h, "/proc/self/mountinfo") < 0)
		return;
	for (p = h->buf; *p; p = next_line(p)) {
		size_t ll = (size_t)(next_line(p) - p);
		struct host_mount t;
		char line[1024], *opts;

		if (ll >= sizeof(line))
			continue;
		memcpy(line, p, ll);
		line[ll] = '\0';
		if (ll && line[ll - 1] == '\n')
			line[ll - 1] = '\0';
		if (host_parse_mountinfo_line(line, &t) || strcmp(t.fstype, "cgroup"))
			continue;
		opts = strrchr(line, ' ');
		if (!opts)
			continue;
		opts++;
		if (!h->v1_cpu[0] && has_option(opts, "cpuacct"))
			snprintf(h->v1_cpu, sizeof(h->v1_cpu), "%s", t.mountpoint);
		if (!h->v1_mem[0] && has_option(opts, "memory"))
			snprintf(h->v1_mem, sizeof(h->v1_mem), "%s", t.mountpoint);
	}
}

int host__new(const struct host_collector_opts *o, struct host_collector **out, char *err,
	      size_t errlen)
{
	struct host_collector *h = calloc(1, sizeof(*h));
	int e, i;

	if (!h)
		return -ENOMEM;
	h->buf_size = 64 << 10;
	h->buf = malloc(h->buf_size);
	if (!h->buf) {
		free(h);
		return -ENOMEM;
	}
	snprintf(h->procfs, sizeof(h->procfs), "%s", o->procfs ? o->procfs : "/proc");
	snprintf(h->sysfs, sizeof(h->sysfs), "%s", o->sysfs ? o->sysfs : "/sys");
	snprintf(h->rootfs, sizeof(h->rootfs), "%s", o->rootfs ? o->rootfs : "/");
	trim_slash(h->rootfs);
	if (!strcmp(h->rootfs, "/"))
		h->rootfs[0] = '\0'; /* mount points are absolute already */
	snprintf(h->cg2, sizeof(h->cg2), "%s", o->cgroup2_root ? o->cgroup2_root : "");
	h->max_containers = o->max_containers < HOST_MAX_CONTAINERS ? o->max_containers :
								       HOST_MAX_CONTAINERS;
	for (i = 0; i < o->n_extra && i < 32; i++)
		snprintf(h->extra[h->n_extra++], sizeof(h->extra[0]), "%s", o->extra_cgroups[i]);
	h->snap.user_hz = sysconf(_SC_CLK_TCK);
	if (h->snap.user_hz <= 0)
		h->snap.user_hz = 100;
	e = compile(o->mounts_exclude, &h->mounts_re, &h->has_mounts_re, "filesystem mount point",
		    err, errlen);
	if (!e)
		e = compile(o->fstypes_exclude, &h->fstypes_re, &h->has_fstypes_re,
			    "filesystem type", err, errlen);
	if (!e)
		e = compile(o->netdev_exclude, &h->netdev_re, &h->has_netdev_re,
			    "network device", err, errlen);
	if (e) {
		host__free(h);
		return e;
	}
	if (h->max_containers > 0) {
		h->kept = calloc((size_t)h->max_containers, sizeof(*h->kept));
		h->prev_kept = calloc((size_t)h->max_containers, sizeof(*h->prev_kept));
		h->prev_sorted = calloc((size_t)h->max_containers, sizeof(*h->prev_sorted));
		h->prev_to_cur = calloc((size_t)h->max_containers, sizeof(*h->prev_to_cur));
		h->cs = calloc((size_t)h->max_containers, sizeof(*h->cs));
		if (!h->kept || !h->prev_kept || !h->prev_sorted || !h->prev_to_cur || !h->cs) {
			host__free(h);
			return -ENOMEM;
		}
		if (!o->cgroup_v1_cpu || !o->cgroup_v1_mem)
			find_v1(h);
		if (o->cgroup_v1_cpu)
			snprintf(h->v1_cpu, sizeof(h->v1_cpu), "%s", o->cgroup_v1_cpu);
		if (o->cgroup_v1_mem)
			snprintf(h->v1_mem, sizeof(h->v1_mem), "%s", o->cgroup_v1_mem);
	}
	*out = h;
	return 0;
}

void host__free(struct host_collector *h)
{
	if (!h)
		return;
	if (h->has_mounts_re)
		regfree(&h->mounts_re);
	if (h->has_fstypes_re)
		regfree(&h->fstypes_re);
	if (h->has_netdev_re)
		regfree(&h->netdev_re);
	while (h->n_stuck) {
		struct statfs_job *j = h->stuck[--h->n_stuck];

		if (atomic_load(&j->done)) {
			pthread_join(j->thread, NULL);
			free(j);
		} else {
			pthread_detach(j->thread); /* hung in the kernel: it keeps j */
		}
	}
	free(h->buf);
	free(h->kept);
	free(h->prev_kept);
	free(h->prev_sorted);
	free(h->prev_to_cur);
	free(h->prev_owners);
	free(h->cs);
	free(h->owners);
	free(h->alive);
	free(h->netns);
	free(h->devs);
	free(h);
}

static bool excluded(const regex_t *re, bool has, const char *s)
{
	return has && !regexec(re, s, 0, NULL, 0);
}

/*
 * statvfs() of a network filesystem whose server is gone does not return. Like
 * node_exporter's stuck-mount tracking, each call runs in a thread that the scrape waits
 * for at most STATFS_TIMEOUT_MS; a mount point whose call is still running is reported
 * with -ETIMEDOUT (device_error) and not tried again until that call returns.
 */
static void *statfs_thread(void *arg)
{
	struct statfs_job *j = arg;

	j->err = statvfs(j->path, &j->sv) ? -errno : 0;
	atomic_store(&j->done, true);
	return NULL;
}

/* Is a stat of path still running from an earlier scrape? Reaps the ones that ended. */
static bool stuck(struct host_collector *h, const char *path)
{
	bool found = false;
	int i;

	for (i = 0; i < h->n_stuck;) {
		struct statfs_job *j = h->stuck[i];

		if (atomic_load(&j->done)) {
			pthread_join(j->thread, NULL);
			free(j);
			h->stuck[i] = h->stuck[--h->n_stuck];
			continue;
		}
		found |= !strcmp(j->path, path);
		i++;
	}
	return found;
}

static int statfs_timed(struct host_collector *h, const char *path, struct statvfs *sv)
{
	struct statfs_job *j;
	struct timespec deadline;
	int err;

	if (stuck(h, path))
		return -ETIMEDOUT;
	if (h->n_stuck >= MAX_STUCK)
		return -EBUSY; /* too many calls hang: do not start more threads */
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	snprintf(j->path, sizeof(j->path), "%s", path);
	if (pthread_create(&j->thread, NULL, statfs_thread, j)) {
		free(j);
		return -EAGAIN;
	}
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_nsec += (STATFS_TIMEOUT_MS % 1000) * 1000000L;
	deadline.tv_sec += STATFS_TIMEOUT_MS / 1000 + deadline.tv_nsec / 1000000000L;
	deadline.tv_nsec %= 1000000000L;
	if (pthread_timedjoin_np(j->thread, NULL, &deadline)) {
		h->stuck[h->n_stuck++] = j; /* the thread owns j until it ends */
		return -ETIMEDOUT;
	}
	*sv = j->sv;
	err = j->err;
	free(j);
	return err;
}

static void read_filesystems(struct host_collector *h, struct host_snapshot *s)
{
	struct host_mount *m = NULL;
	size_t n = 0, bad, i, j;
	char path[768];

	/* The mounts of pid 1 (the host's mount namespace when procfs is the host's),
	 * as node_exporter reads them; our own when pid 1 is hidden (hidepid). */
	snprintf(path, sizeof(path), "%s/1/mountinfo", h->procfs);
	if (read_all(h, path) < 0 && read_at(h, h->procfs, "self/mountinfo") < 0)
		return;
	m = calloc(HOST_MAX_MOUNTS, sizeof(*m));
	if (!m)
		return;
	host_parse_mountinfo(h->buf, m, HOST_MAX_MOUNTS, &n, &bad);
	for (i = 0; i < n && s->n_fs < HOST_MAX_MOUNTS; i++) {
		struct host_fs *f = &s->fs[s->n_fs];
		struct statvfs sv;
		bool dup = false;

		if (excluded(&h->mounts_re, h->has_mounts_re, m[i].mountpoint) ||
		    excluded(&h->fstypes_re, h->has_fstypes_re, m[i].fstype))
			continue;
		/* the same device, type and mount point twice (a mount over a mount of the
		 * same thing) is one series */
		for (j = 0; j < s->n_fs && !dup; j++)
			dup = !strcmp(s->fs[j].m.mountpoint, m[i].mountpoint) &&
			      !strcmp(s->fs[j].m.device, m[i].device) &&
			      !strcmp(s->fs[j].m.fstype, m[i].fstype);
		if (dup)
			continue;
		memset(f, 0, sizeof(*f));
		f->m = m[i];
		if ((size_t)snprintf(path, sizeof(path), "%s%s", h->rootfs, m[i].mountpoint) >=
		    sizeof(path)) {
			f->err = -ENAMETOOLONG;
		} else if ((f->err = statfs_timed(h, path, &sv))) {
			/* sizes stay 0; the error is exported */
		} else {
			f->size = (uint64_t)sv.f_blocks * sv.f_frsize;
			f->free = (uint64_t)sv.f_bfree * sv.f_frsize;
			f->avail = (uint64_t)sv.f_bavail * sv.f_frsize;
			f->files = sv.f_files;
			f->files_free = sv.f_ffree;
		}
		s->n_fs++;
	}
	free(m);
}

static uint64_t count_processes(const char *procfs)
{
	DIR *d = opendir(procfs);
	struct dirent *e;
	uint64_t n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (e->d_name[0] >= '1' && e->d_name[0] <= '9')
			n++;
	closedir(d);
	return n;
}

int host__read(struct host_collector *h, const struct host_snapshot **out)
{
	struct host_snapshot *s = &h->snap;
	char path[768];
	size_t i, n;

	s->n_cpus = 0;
	memset(&s->stat, 0, sizeof(s->stat));
	if (read_at(h, h->procfs, "stat") < 0 ||
	    host_parse_stat(h->buf, s->cpus, HOST_MAX_CPUS, &s->n_cpus, &s->stat))
		s->n_cpus = 0;
	if (read_at(h, h->procfs, "meminfo") < 0 || host_parse_meminfo(h->buf, &s->mem))
		memset(&s->mem, 0, sizeof(s->mem));
	s->have_load = read_at(h, h->procfs, "loadavg") >= 0 &&
		       !host_parse_loadavg(h->buf, &s->load);
	s->processes = count_processes(h->procfs);
	s->n_fs = 0;
	read_filesystems(h, s);
	/* pid 1's network namespace is the host's even when we run in a pod's */
	s->n_net = 0;
	snprintf(path, sizeof(path), "%s/1/net/dev", h->procfs);
	if ((read_all(h, path) >= 0 || read_at(h, h->procfs, "net/dev") >= 0) &&
	    !host_parse_netdev(h->buf, s->net, HOST_MAX_NETDEVS, &n)) {
		for (i = 0; i < n; i++)
			if (!excluded(&h->netdev_re, h->has_netdev_re, s->net[i].name))
				s->net[s->n_net++] = s->net[i];
	}
	*out = s;
	return 0;
}

/* ---- containers --------------------------------------------------------------------- */

static int push_owner(struct host_collector *h, uint64_t cgid, int idx)
{
	if (h->n_owners == h->cap_owners) {
		size_t nc = h->cap_owners ? h->cap_owners * 2 : 1024;
		struct id_owner *no = realloc(h->owners, nc * sizeof(*no));

		if (!no)
			return -ENOMEM;
		h->owners = no;
		h->cap_owners = nc;
	}
	h->owners[h->n_owners].cgid = cgid;
	h->owners[h->n_owners].idx = idx;
	h->n_owners++;
	return 0;
}

static int push_alive(struct host_collector *h, uint64_t cgid)
{
	if (h->n_alive == h->cap_alive) {
		size_t nc = h->cap_alive ? h->cap_alive * 2 : 1024;
		uint64_t *na = realloc(h->alive, nc * sizeof(*na));

		if (!na)
			return -ENOMEM;
		h->alive = na;
		h->cap_alive = nc;
	}
	h->alive[h->n_alive++] = cgid;
	return 0;
}

static int find_kept(const struct host_collector *h, const char *path)
{
	int i;

	for (i = 0; i < h->n_kept; i++)
		if (!strcmp(h->kept[i].path, path))
			return i;
	return -1;
}

static bool is_extra(const struct host_collector *h, const char *path)
{
	int i;

	for (i = 0; i < h->n_extra; i++)
		if (!strcmp(h->extra[i], path))
			return true;
	return false;
}

struct walk {
	struct host_collector *h;
	const char *root;
	bool v2;
	bool count_drops; /* the first hierarchy walked counts the cgroups over the cap */
	size_t dirs;
	/* kept ancestors of the directory being visited (v2: owners of its id) */
	int stack[WALK_MAX_DEPTH];
	int depth;
};

/* rel: path from the hierarchy root ("" for the root itself). */
static void walk_dir(struct walk *w, char *rel, size_t rel_len, int level)
{
	struct host_collector *h = w->h;
	char full[768];
	struct cgroup_ref ref;
	struct stat st;
	struct dirent *e;
	int idx = -1, pushed = 0, i;
	DIR *d;

	if (w->dirs++ >= WALK_MAX_DIRS || level >= WALK_MAX_DEPTH) {
		h->walk_truncated = true;
		return;
	}
	snprintf(full, sizeof(full), "%s%s", w->root, rel);
	if (rel[0] && (host_cgroup_ref(rel, &ref) || is_extra(h, rel))) {
		if (!host_cgroup_ref(rel, &ref))
			memset(&ref, 0, sizeof(ref));
		idx = find_kept(h, rel);
		if (idx < 0 && h->n_kept < h->max_containers) {
			struct walk_entry *k = &h->kept[h->n_kept];

			memset(k, 0, sizeof(*k));
			snprintf(k->path, sizeof(k->path), "%s", rel);
			k->ref = ref;
			idx = h->n_kept++;
		} else if (idx < 0 && w->count_drops) {
			h->dropped++;
		}
	}
	if (w->v2 && !stat(full, &st)) {
		/* kernfs: the directory's inode number is the cgroup id */
		push_alive(h, st.st_ino);
		if (idx >= 0)
			h->kept[idx].cgid = st.st_ino;
		for (i = 0; i < w->depth; i++)
			push_owner(h, st.st_ino, w->stack[i]);
		if (idx >= 0)
			push_owner(h, st.st_ino, idx);
	}
	if (idx >= 0 && w->depth < WALK_MAX_DEPTH) {
		w->stack[w->depth++] = idx;
		pushed = 1;
	}
	d = opendir(full);
	if (d) {
		while ((e = readdir(d))) {
			size_t nl = strlen(e->d_name);

			if (e->d_type != DT_DIR || e->d_name[0] == '.')
				continue;
			if (rel_len + 1 + nl >= 256)
				continue;
			rel[rel_len] = '/';
			memcpy(rel + rel_len + 1, e->d_name, nl + 1);
			walk_dir(w, rel, rel_len + 1 + nl, level + 1);
			rel[rel_len] = '\0';
		}
		closedir(d);
	}
	w->depth -= pushed;
}

static void walk_root(struct host_collector *h, const char *root, bool v2, bool *first)
{
	struct walk w = { .h = h, .root = root, .v2 = v2, .count_drops = *first };
	char rel[256] = "";

	if (!root[0])
		return;
	*first = false;
	walk_dir(&w, rel, 0, 0);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_owner(const void *a, const void *b)
{
	return cmp_u64(&((const struct id_owner *)a)->cgid, &((const struct id_owner *)b)->cgid);
}

bool host__cgroup_alive(const struct host_collector *h, uint64_t cgid)
{
	if (h->walk_truncated)
		return true; /* not known: never let a partial walk delete counters */
	return bsearch(&cgid, h->alive, h->n_alive, sizeof(cgid), cmp_u64) != NULL;
}

static bool read_u64_at(struct host_collector *h, const char *root, const char *rel,
			const char *file, uint64_t *v)
{
	char path[768];
	const char *p;

	if (!root[0] || (size_t)snprintf(path, sizeof(path), "%s%s/%s", root, rel, file) >=
				sizeof(path))
		return false;
	if (read_all(h, path) < 0)
		return false;
	p = h->buf;
	return !parse_u64(&p, v);
}

static bool read_keyed_at(struct host_collector *h, const char *root, const char *rel,
			  const char *file, const char *key, uint64_t *v)
{
	char path[768];

	if (!root[0] || (size_t)snprintf(path, sizeof(path), "%s%s/%s", root, rel, file) >=
				sizeof(path))
		return false;
	return read_all(h, path) >= 0 && !host_parse_keyed(h->buf, key, v);
}

static void read_container(struct host_collector *h, const struct walk_entry *k,
			   struct container_stats *c)
{
	uint64_t usage, inactive, v;

	memset(c, 0, sizeof(*c));
	snprintf(c->path, sizeof(c->path), "%s", k->path);
	c->ref = k->ref;
	c->cgid = k->cgid;
	/* v2 where the controller is enabled there; v1 where it lives in a v1 hierarchy
	 * (hybrid systems mount v2 without controllers next to v1 ones) */
	if (read_keyed_at(h, h->cg2, k->path, "cpu.stat", "usage_usec", &v)) {
		c->cpu_seconds = v / 1e6;
		c->have_cpu = true;
	} else if (read_u64_at(h, h->v1_cpu, k->path, "cpuacct.usage", &v)) {
		c->cpu_seconds = v / 1e9;
		c->have_cpu = c->v1 = true;
	}
	if (read_u64_at(h, h->cg2, k->path, "memory.current", &usage)) {
		c->have_mem = true;
		if (!read_keyed_at(h, h->cg2, k->path, "memory.stat", "inactive_file", &inactive))
			inactive = 0;
	} else if (read_u64_at(h, h->v1_mem, k->path, "memory.usage_in_bytes", &usage)) {
		c->have_mem = c->v1 = true;
		if (!read_keyed_at(h, h->v1_mem, k->path, "memory.stat", "total_inactive_file",
				   &inactive))
			inactive = 0;
	}
	if (c->have_mem) {
		c->mem_usage = usage;
		c->mem_working_set = usage > inactive ? usage - inactive : 0;
	}
}

static int cmp_entry_path(const void *a, const void *b)
{
	return strcmp((*(struct walk_entry *const *)a)->path, (*(struct walk_entry *const *)b)->path);
}

/* Rows of owners[0..n) (sorted by cgid) for cgid: first row, count in *cnt. */
static const struct id_owner *owners_of(const struct id_owner *owners, size_t n, uint64_t cgid,
					size_t *cnt)
{
	struct id_owner key = { .cgid = cgid };
	const struct id_owner *o = bsearch(&key, owners, n, sizeof(key), cmp_owner), *e;

	*cnt = 0;
	if (!o)
		return NULL;
	while (o > owners && o[-1].cgid == cgid)
		o--;
	for (e = o; e < owners + n && e->cgid == cgid; e++)
		(*cnt)++;
	return o;
}

/* This walk becomes the last one: swap the buffers. */
static void rotate(struct host_collector *h)
{
	struct walk_entry *wk = h->prev_kept;
	struct id_owner *wo = h->prev_owners;
	size_t cap = h->cap_prev_owners;

	h->prev_kept = h->kept;
	h->n_prev_kept = h->n_kept;
	h->kept = wk;
	h->n_kept = 0;
	h->prev_owners = h->owners;
	h->n_prev_owners = h->n_owners;
	h->cap_prev_owners = h->cap_owners;
	h->owners = wo;
	h->n_owners = 0;
	h->cap_owners = cap;
}

/*
 * A cgroup's counters are the sum over its descendants' entries, and the entry of a
 * removed descendant is deleted: its bytes move to the kept cgroups that held it at the
 * last walk (found by path), so that a pod's counter does not fall when one of its
 * containers goes. Only after a complete walk: then the caller deletes those entries.
 */
static void carry_over(struct host_collector *h, const struct cgroup_net *net, size_t n_net)
{
	size_t i, j, cnt;
	int k;

	for (k = 0; k < h->n_prev_kept; k++) {
		h->prev_sorted[k] = &h->prev_kept[k];
		h->prev_to_cur[k] = -1;
	}
	qsort(h->prev_sorted, (size_t)h->n_prev_kept, sizeof(*h->prev_sorted), cmp_entry_path);
	for (k = 0; k < h->n_kept; k++) {
		struct walk_entry key, *kp = &key, **found;

		memcpy(key.path, h->kept[k].path, sizeof(key.path));
		found = bsearch(&kp, h->prev_sorted, (size_t)h->n_prev_kept, sizeof(kp),
				cmp_entry_path);
		if (!found)
			continue;
		h->kept[k].retired[0] = (*found)->retired[0];
		h->kept[k].retired[1] = (*found)->retired[1];
		h->prev_to_cur[*found - h->prev_kept] = k;
	}
	if (h->walk_truncated)
		return;
	for (i = 0; i < n_net; i++) {
		const struct id_owner *o;

		if (host__cgroup_alive(h, net[i].cgid))
			continue;
		o = owners_of(h->prev_owners, h->n_prev_owners, net[i].cgid, &cnt);
		for (j = 0; j < cnt; j++) {
			int cur = h->prev_to_cur[o[j].idx];

			if (cur < 0)
				continue;
			h->kept[cur].retired[0] += net[i].bytes[0];
			h->kept[cur].retired[1] += net[i].bytes[1];
		}
	}
}

/* ---- container network bytes from network namespaces ---- */

bool host__host_pids(void)
{
	char buf[4096];
	ssize_t len;
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return true;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return true;
	buf[len] = '\0';
	return host_parse_nspid(buf) <= 1; /* no NSpid line (before 4.1): not known */
}

#define NETNS_SEARCH_DIRS 64 /* cgroup directories searched for a process, per container */

/* The first process listed in the cgroup at dir[0..len) or below it, depth first, in at
 * most *budget directories; 0 if none. dir (of cap bytes) is restored. */
static long cgroup_pid(struct host_collector *h, char *dir, size_t len, size_t cap,
		       int *budget)
{
	struct dirent *e;
	const char *p;
	uint64_t pid;
	long found = 0;
	DIR *d;

	if ((*budget)-- <= 0)
		return 0;
	if (read_at(h, dir, "cgroup.procs") >= 0) {
		p = h->buf;
		if (!parse_u64(&p, &pid) && pid > 0 && pid < (1u << 22)) /* PID_MAX_LIMIT */
			return (long)pid;
	}
	d = opendir(dir);
	if (!d)
		return 0;
	while (!found && (e = readdir(d))) {
		size_t nl = strlen(e->d_name);

		if (e->d_type != DT_DIR || e->d_name[0] == '.' || len + 1 + nl >= cap)
			continue;
		dir[len] = '/';
		memcpy(dir + len + 1, e->d_name, nl + 1);
		found = cgroup_pid(h, dir, len + 1 + nl, cap, budget);
		dir[len] = '\0';
	}
	closedir(d);
	return found;
}

/* nsfs inode of the network namespace of a process ("1", "self", a pid); 0 if it cannot
 * be read */
static uint64_t netns_at(const struct host_collector *h, const char *proc)
{
	char path[320];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s/ns/net", h->procfs, proc);
	return stat(path, &st) ? 0 : (uint64_t)st.st_ino;
}

static uint64_t netns_of(const struct host_collector *h, long pid)
{
	char id[24];

	snprintf(id, sizeof(id), "%ld", pid);
	return netns_at(h, id);
}

/* The namespace's bytes, read through pid on its first use in this scrape. */
static const struct netns_bytes *netns_bytes(struct host_collector *h, uint64_t ino, long pid)
{
	struct netns_bytes *b;
	char path[320];
	size_t i, n;

	for (i = 0; i < h->n_netns; i++)
		if (h->netns[i].ino == ino)
			return &h->netns[i];
	/* one namespace per kept cgroup at most: the array never fills */
	if (!h->netns)
		h->netns = calloc((size_t)h->max_containers, sizeof(*h->netns));
	if (!h->devs)
		h->devs = calloc(HOST_MAX_NETDEVS, sizeof(*h->devs));
	if (!h->netns || !h->devs)
		return NULL;
	b = &h->netns[h->n_netns++];
	memset(b, 0, sizeof(*b));
	b->ino = ino;
	snprintf(path, sizeof(path), "%s/%ld/net/dev", h->procfs, pid);
	if (read_all(h, path) < 0 || host_parse_netdev(h->buf, h->devs, HOST_MAX_NETDEVS, &n))
		return b;
	/* the process may have moved since its namespace was read: the file must be of it */
	if (netns_of(h, pid) != ino)
		return b;
	for (i = 0; i < n; i++) {
		if (excluded(&h->netdev_re, h->has_netdev_re, h->devs[i].name))
			continue;
		b->bytes[0] += h->devs[i].tx_bytes;
		b->bytes[1] += h->devs[i].rx_bytes;
	}
	b->ok = true;
	return b;
}

/* c's network bytes: those of its namespace, if it has a process outside the host's. */
static void container_netns(struct host_collector *h, struct container_stats *c,
			    uint64_t host_ns)
{
	const char *roots[] = { h->cg2, h->v1_mem, h->v1_cpu };
	const struct netns_bytes *b;
	char dir[768];
	long pid = 0;
	uint64_t ino;
	size_t i, len;
	int budget;

	for (i = 0; !pid && i < sizeof(roots) / sizeof(roots[0]); i++) {
		if (!roots[i][0])
			continue;
		len = (size_t)snprintf(dir, sizeof(dir), "%s%s", roots[i], c->path);
		if (len >= sizeof(dir))
			continue;
		budget = NETNS_SEARCH_DIRS;
		pid = cgroup_pid(h, dir, len, sizeof(dir), &budget);
	}
	if (!pid || !host_ns)
		return;
	ino = netns_of(h, pid);
	if (!ino || ino == host_ns)
		return;
	b = netns_bytes(h, ino, pid);
	if (!b || !b->ok)
		return;
	c->have_net = true;
	c->net_bytes[0] = b->bytes[0];
	c->net_bytes[1] = b->bytes[1];
}

int host__containers(struct host_collector *h, enum container_net_source src,
		     const struct cgroup_net *net, size_t n_net,
		     const struct container_snapshot **out)
{
	bool first = true;
	size_t i, j, cnt;
	int k;

	h->csnap.c = h->cs;
	h->csnap.n = 0;
	if (h->max_containers <= 0) {
		*out = &h->csnap;
		return 0;
	}
	rotate(h);
	h->dropped = 0;
	h->n_alive = 0;
	h->walk_truncated = false;
	walk_root(h, h->cg2, true, &first);
	walk_root(h, h->v1_mem, false, &first);
	walk_root(h, h->v1_cpu, false, &first);
	qsort(h->alive, h->n_alive, sizeof(*h->alive), cmp_u64);
	qsort(h->owners, h->n_owners, sizeof(*h->owners), cmp_owner);
	if (src == CONTAINER_NET_NETNS) {
		/* pid 1's namespace is the host's even when we run in a pod's; our own where
		 * pid 1 is not ours to look at (as for the host's net/dev) */
		uint64_t host_ns = netns_at(h, "1") ?: netns_at(h, "self");

		h->n_netns = 0;
		for (k = 0; k < h->n_kept; k++) {
			read_container(h, &h->kept[k], &h->cs[k]);
			container_netns(h, &h->cs[k], host_ns);
		}
		goto done;
	}
	carry_over(h, net, n_net);
	for (k = 0; k < h->n_kept; k++) {
		struct container_stats *c = &h->cs[k];

		read_container(h, &h->kept[k], c);
		c->net_bytes[0] = h->kept[k].retired[0];
		c->net_bytes[1] = h->kept[k].retired[1];
		/* a cgroup v2 cgroup with no traffic yet: zero bytes, not unknown */
		c->have_net = c->cgid != 0;
	}
	for (i = 0; i < n_net; i++) {
		const struct id_owner *o = owners_of(h->owners, h->n_owners, net[i].cgid, &cnt);

		for (j = 0; j < cnt; j++) {
			struct container_stats *c = &h->cs[o[j].idx];

			c->have_net = true;
			c->net_bytes[0] += net[i].bytes[0];
			c->net_bytes[1] += net[i].bytes[1];
		}
	}
done:
	h->csnap.n = (size_t)h->n_kept;
	h->csnap.dropped = h->dropped;
	h->csnap.complete = !h->walk_truncated;
	*out = &h->csnap;
	return 0;
}
