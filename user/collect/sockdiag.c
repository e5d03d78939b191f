// SPDX-License-Identifier: GPL-2.0-only
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "collect/sockdiag.h"
#include "lib/log.h"

/* Namespaces whose socket is kept between sweeps; one not asked for in a sweep goes. */
#define DIAG_NS_MAX 1024
/* A namespace no process was found in is searched for again after this. */
#define DIAG_RETRY_S 30

/* TCP states dumped: those a live flow's socket can be in (bit n: state n). */
#define DIAG_STATES                                                                           \
	((1u << 1) /* ESTABLISHED */ | (1u << 2) /* SYN_SENT */ | (1u << 4) /* FIN_WAIT1 */ | \
	 (1u << 5) /* FIN_WAIT2 */ | (1u << 8) /* CLOSE_WAIT */ | (1u << 9) /* LAST_ACK */ |  \
	 (1u << 11) /* CLOSING */)

struct diag_ns {
	uint32_t inum;
	int fd; /* NETLINK_SOCK_DIAG socket made in it, or -1 */
	unsigned gen; /* the sweep that last asked */
	time_t retry_after; /* fd < 0: no process found in it before then */
};

struct sockdiag {
	struct inet_diag_bc_op *bc; /* the port filter */
	size_t bc_len; /* bytes */
	struct diag_ns ns[DIAG_NS_MAX];
	size_t n;
	unsigned gen;
	uint32_t seq;
	uint32_t self_inum;
};

static uint32_t netns_of(const char *path)
{
	struct stat st;

	return stat(path, &st) ? 0 : (uint32_t)st.st_ino;
}

static int diag_socket(void)
{
	return socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
}

/* A sock_diag socket in the network namespace of pid, if that is netns. */
static int socket_in(uint32_t pid, uint32_t netns)
{
	char path[64];
	int self, target, fd = -1;

	snprintf(path, sizeof(path), "/proc/%u/ns/net", pid);
	if (netns_of(path) != netns)
		return -ESRCH;
	target = open(path, O_RDONLY | O_CLOEXEC);
	if (target < 0)
		return -ESRCH;
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0) {
		close(target);
		return -errno;
	}
	/* Only this thread moves, and only for socket(): the socket stays in it. */
	if (setns(target, CLONE_NEWNET)) {
		fd = -errno;
	} else {
		fd = diag_socket();
		if (fd < 0)
			fd = -errno;
		if (setns(self, CLONE_NEWNET)) {
			pr_warn("sock_diag: returning to the daemon's network namespace: %s\n",
				strerror(errno));
			abort();
		}
	}
	close(self);
	close(target);
	return fd;
}

/* Find a process in netns. */
static int socket_search(uint32_t netns)
{
	struct dirent *e;
	DIR *dir = opendir("/proc");
	int fd = -ESRCH;

	if (!dir)
		return -errno;
	while (fd == -ESRCH && (e = readdir(dir))) {
		char *end;
		unsigned long pid = strtoul(e->d_name, &end, 10);

		if (*end || !pid)
			continue;
		fd = socket_in(pid, netns);
	}
	closedir(dir);
	return fd;
}

bool sockdiag__available(void)
{
	struct sockdiag *d;
	int n, self;

	/* Entering a network namespace must be allowed (CAP_SYS_ADMIN, and no seccomp
	 * filter refusing setns): entering our own is a no-op that says so. */
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return false;
	n = setns(self, CLONE_NEWNET);
	close(self);
	if (n) {
		pr_debug("sock_diag: setns: %s\n", strerror(errno));
		return false;
	}
	/* tcp_info as the kernel fills it must reach the byte counters */
	d = sockdiag__new();
	if (!d)
		return false;
	n = sockdiag__dump(d, d->self_inum, 0, NULL, NULL);
	sockdiag__free(d);
	return n >= 0;
}

struct sockdiag *sockdiag__new(void)
{
	struct sockdiag *d = calloc(1, sizeof(*d));

	if (d)
		d->self_inum = netns_of("/proc/self/ns/net");
	return d;
}

void sockdiag__free(struct sockdiag *d)
{
	size_t i;

	if (!d)
		return;
	for (i = 0; i < d->n; i++)
		if (d->ns[i].fd >= 0)
			close(d->ns[i].fd);
	free(d->bc);
	free(d);
}

/*
 * A test per port and end (the comparison, then an op carrying the port in .no), as ss
 * compiles "a or b or ...": a match goes on to the jump that follows it, which leaps to
 * the end (the socket is dumped); a miss skips that jump to the next test. The last
 * test's match reaches the end, its miss goes past it (not dumped). The kernel's audit
 * follows the matches, so every target lies on that path.
 */
int sockdiag__ports(struct sockdiag *d, const uint16_t *ports, size_t n)
{
	const size_t op = sizeof(struct inet_diag_bc_op), tests = 2 * n;
	size_t len = tests ? tests * 3 * op - op : 0, at = 0, i;
	struct inet_diag_bc_op *bc = NULL;

	if (len > 60000)
		return -E2BIG;
	if (n) {
		bc = calloc(len / op, op);
		if (!bc)
			return -ENOMEM;
	}
	for (i = 0; i < tests; i++) {
		struct inet_diag_bc_op *t = &bc[at / op];

		t[0] =
		    (struct inet_diag_bc_op){.code = i % 2 ? INET_DIAG_BC_D_EQ : INET_DIAG_BC_S_EQ,
					     .yes = 2 * op,
					     .no = 3 * op};
		t[1] = (struct inet_diag_bc_op){.no = ports[i / 2]};
		at += 2 * op;
		if (i + 1 < tests) {
			/* the jump: always its .no, to the end */
			t[2] = (struct inet_diag_bc_op){
			    .code = INET_DIAG_BC_JMP, .yes = op, .no = len - at};
			at += op;
		}
	}
	free(d->bc);
	d->bc = bc;
	d->bc_len = len;
	return 0;
}

void sockdiag__begin(struct sockdiag *d)
{
	size_t i, k = 0;

	for (i = 0; i < d->n; i++) {
		if (d->ns[i].gen != d->gen && d->ns[i].fd >= 0) {
			close(d->ns[i].fd);
			continue;
		}
		d->ns[k++] = d->ns[i];
	}
	d->n = k;
	d->gen++;
}

static struct diag_ns *ns_get(struct sockdiag *d, uint32_t netns, uint32_t pid_hint)
{
	struct diag_ns *n = NULL;
	time_t now = time(NULL);
	size_t i;

	for (i = 0; i < d->n && !n; i++)
		if (d->ns[i].inum == netns)
			n = &d->ns[i];
	if (!n) {
		if (d->n == DIAG_NS_MAX)
			return NULL;
		n = &d->ns[d->n++];
		*n = (struct diag_ns){.inum = netns, .fd = -1};
	}
	n->gen = d->gen;
	if (n->fd >= 0 || now < n->retry_after)
		return n;
	if (netns == d->self_inum)
		n->fd = diag_socket();
	else if ((n->fd = pid_hint ? socket_in(pid_hint, netns) : -ESRCH) == -ESRCH)
		n->fd = socket_search(netns);
	if (n->fd < 0) {
		/* said once per namespace: its sockets' counts wait for their close */
		if (!n->retry_after)
			pr_warn("socket counters: network namespace %u unreachable (%s): its "
				"sockets are counted at their close\n",
				netns, strerror(-n->fd));
		n->fd = -1;
		n->retry_after = now + DIAG_RETRY_S;
	}
	return n;
}

static void to_sock(const struct inet_diag_msg *m, const struct tcp_info *ti, struct diag_sock *s)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	memset(s, 0, sizeof(*s));
	s->family = m->idiag_family;
	s->state = m->idiag_state;
	s->lport = ntohs(m->id.idiag_sport);
	s->rport = ntohs(m->id.idiag_dport);
	if (m->idiag_family == AF_INET6) {
		memcpy(s->laddr, m->id.idiag_src, 16);
		memcpy(s->raddr, m->id.idiag_dst, 16);
		/* as the flow table keeps a dual-stack socket's IPv4 */
		if (!memcmp(s->laddr, mapped, 12) && !memcmp(s->raddr, mapped, 12)) {
			s->family = AF_INET;
			memmove(s->laddr, s->laddr + 12, 4);
			memmove(s->raddr, s->raddr + 12, 4);
			memset(s->laddr + 4, 0, 12);
			memset(s->raddr + 4, 0, 12);
		}
	} else {
		memcpy(s->laddr, m->id.idiag_src, 4);
		memcpy(s->raddr, m->id.idiag_dst, 4);
	}
	s->bytes_sent = ti->tcpi_bytes_sent;
	s->bytes_received = ti->tcpi_bytes_received;
	s->bytes_retrans = ti->tcpi_bytes_retrans;
	s->segs_out = ti->tcpi_segs_out;
	s->segs_in = ti->tcpi_segs_in;
	s->total_retrans = ti->tcpi_total_retrans;
}

/* One family's dump on fd; returns the sockets passed or -errno. */
static int dump_family(struct sockdiag *d, int fd, int family,
		       void (*fn)(void *ctx, const struct diag_sock *s), void *ctx)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
		struct rtattr bc;
	} req = {
	    .nlh = {.nlmsg_len = NLMSG_LENGTH(sizeof(req.r)),
		    .nlmsg_type = SOCK_DIAG_BY_FAMILY,
		    .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		    .nlmsg_seq = ++d->seq},
	    .r = {.sdiag_family = family,
		  .sdiag_protocol = IPPROTO_TCP,
		  .idiag_ext = 1 << (INET_DIAG_INFO - 1),
		  .idiag_states = DIAG_STATES},
	};
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	static __thread char buf[64 * 1024] __attribute__((aligned(8)));
	const size_t need = offsetof(struct tcp_info, tcpi_bytes_retrans) + 8;
	int passed = 0;

	struct iovec iov[2] = {{.iov_base = &req, .iov_len = NLMSG_LENGTH(sizeof(req.r))},
			       {.iov_base = d->bc, .iov_len = d->bc_len}};
	struct msghdr msg = {
	    .msg_name = &kernel, .msg_namelen = sizeof(kernel), .msg_iov = iov, .msg_iovlen = 1};

	if (d->bc) {
		/* the filter follows the request as an INET_DIAG_REQ_BYTECODE attribute */
		req.bc.rta_type = INET_DIAG_REQ_BYTECODE;
		req.bc.rta_len = RTA_LENGTH(d->bc_len);
		iov[0].iov_len += sizeof(req.bc);
		req.nlh.nlmsg_len = iov[0].iov_len + d->bc_len;
		msg.msg_iovlen = 2;
	}
	if (sendmsg(fd, &msg, 0) < 0)
		return -errno;
	for (;;) {
		ssize_t len = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h;

		if (len < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (len == 0)
			return -EPIPE;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)len); h = NLMSG_NEXT(h, len)) {
			const struct inet_diag_msg *m = NLMSG_DATA(h);
			const struct tcp_info *ti = NULL;
			struct diag_sock s;
			struct rtattr *a;
			size_t ti_len = 0;
			int alen;

			if (h->nlmsg_seq != d->seq)
				continue;
			if (h->nlmsg_type == NLMSG_DONE)
				return passed;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				return e->error ? e->error : -EPROTO;
			}
			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
				continue;
			alen = h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));
			for (a = (struct rtattr *)(m + 1); RTA_OK(a, alen); a = RTA_NEXT(a, alen))
				if (a->rta_type == INET_DIAG_INFO) {
					ti = RTA_DATA(a);
					ti_len = RTA_PAYLOAD(a);
				}
			/* older than Linux 4.19: no byte counters */
			if (!ti || ti_len < need)
				return -EOPNOTSUPP;
			to_sock(m, ti, &s);
			if (fn)
				fn(ctx, &s);
			passed++;
		}
	}
}

int sockdiag__dump(struct sockdiag *d, uint32_t netns, uint32_t pid_hint,
		   void (*fn)(void *ctx, const struct diag_sock *s), void *ctx)
{
	struct diag_ns *n = ns_get(d, netns, pid_hint);
	int v4, v6;

	if (!n)
		return -ENOSPC;
	if (n->fd < 0)
		return -ESRCH;
	v4 = dump_family(d, n->fd, AF_INET, fn, ctx);
	if (v4 < 0)
		return v4;
	v6 = dump_family(d, n->fd, AF_INET6, fn, ctx);
	if (v6 == -ENOENT) /* no IPv6 in this kernel */
		v6 = 0;
	return v6 < 0 ? v6 : v4 + v6;
}

struct dump_all {
	void (*fn)(void *ctx, uint32_t netns, const struct diag_sock *s);
	void *ctx;
	uint32_t netns;
};

static void dump_all_one(void *ctx, const struct diag_sock *s)
{
	struct dump_all *a = ctx;

	a->fn(a->ctx, a->netns, s);
}

int sockdiag__dump_all(struct sockdiag *d,
		       void (*fn)(void *ctx, uint32_t netns, const struct diag_sock *s), void *ctx,
		       unsigned *unreachable)
{
	struct dump_all a = { .fn = fn, .ctx = ctx };
	uint32_t *seen = NULL;
	size_t n = 0, cap = 0, i;
	DIR *dir = opendir("/proc");
	struct dirent *e;
	int total = 0, got;

	*unreachable = 0;
	if (!dir)
		return -errno;
	sockdiag__begin(d);
	while ((e = readdir(dir))) {
		char path[64], *end;
		unsigned long pid = strtoul(e->d_name, &end, 10);
		uint32_t inum;

		if (*end || !pid)
			continue;
		snprintf(path, sizeof(path), "/proc/%lu/ns/net", pid);
		inum = netns_of(path);
		for (i = 0; i < n && seen[i] != inum; i++)
			;
		if (!inum || i < n)
			continue;
		if (n == cap) {
			uint32_t *p = realloc(seen, (cap = cap ? cap * 2 : 64) * sizeof(*seen));

			if (!p)
				break;
			seen = p;
		}
		seen[n++] = inum;
		a.netns = inum;
		got = sockdiag__dump(d, inum, (uint32_t)pid, dump_all_one, &a);
		if (got < 0) {
			pr_debug("sock_diag: network namespace %u: %s\n", inum, strerror(-got));
			(*unreachable)++;
		} else {
			total += got;
		}
	}
	closedir(dir);
	free(seen);
	return total;
}
