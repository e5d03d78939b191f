// SPDX-License-Identifier: GPL-2.0-only
/*
 * BPF tests for bpf/tcp.bpf.c.
 *  - cgroup_skb programs through BPF_PROG_TEST_RUN with crafted packets: the verdict is
 *    always "allow" and nothing is counted for a socket that is not TCP; the per-cgroup
 *    bytes count every packet, and nothing when they are off.
 *  - tracing programs, trigger-then-read: real loopback connections, read back through
 *    user/collect/tcp.c (the daemon's own reader).
 *  - bytes, segments and retransmits of a connection against the kernel's tcp_info of
 *    the same sockets, on each path this kernel offers (the flow iterator, per packet).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <proc.h>
#include "collect/probe.h"
#include "collect/tcp.h"
#include "collect/services.h"
#include "tcp.skel.h"

/* ---- BPF_PROG_TEST_RUN on the cgroup_skb programs ---- */

static int run_prog(int fd, const void *pkt, size_t len, __u32 *retval)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = len, .repeat = 1);
	int err = bpf_prog_test_run_opts(fd, &opts);

	*retval = opts.retval;
	return err;
}

static size_t ipv4_tcp_packet(unsigned char *p, uint16_t sport, uint16_t dport, size_t payload)
{
	size_t len = 14 + 20 + 20 + payload;

	memset(p, 0, len);
	p[12] = 0x08; /* ETH_P_IP */
	p[14] = 0x45;
	p[14 + 2] = (len - 14) >> 8;
	p[14 + 3] = (len - 14) & 0xff;
	p[14 + 8] = 64;
	p[14 + 9] = IPPROTO_TCP;
	p[14 + 12] = 127;
	p[14 + 15] = 1;
	p[14 + 16] = 127;
	p[14 + 19] = 1;
	p[34] = sport >> 8;
	p[35] = sport & 0xff;
	p[36] = dport >> 8;
	p[37] = dport & 0xff;
	p[34 + 12] = 5 << 4;
	return len;
}

static void test_cgroup_skb_verdict(void **state)
{
	unsigned char pkt[256];
	struct tcp_bpf *skel;
	struct bpf_program *p;
	__u32 retval, key = 0;
	struct fp_svc_stats *zero;
	size_t len;
	int fds[2], i, ncpu = libbpf_num_possible_cpus();
	__u32 mask = 1;

	(void)state;
	skel = tcp_bpf__open();
	assert_non_null(skel);
	bpf_object__for_each_program(p, skel->obj) bpf_program__set_autoload(
		p, !strcmp(bpf_program__name(p), "count_egress") ||
			   !strcmp(bpf_program__name(p), "count_ingress"));
	assert_int_equal(tcp_bpf__load(skel), 0);
	fds[0] = bpf_program__fd(skel->progs.count_egress);
	fds[1] = bpf_program__fd(skel->progs.count_ingress);
	key = 80;
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(skel->maps.svc_ports), &key, &mask, 0), 0);

	for (i = 0; i < 2; i++) {
		len = ipv4_tcp_packet(pkt, 40000, 80, 100);
		assert_int_equal(run_prog(fds[i], pkt, len, &retval), 0);
		assert_int_equal(retval, 1);
		/* IPv6 + TCP */
		memset(pkt, 0, sizeof(pkt));
		pkt[12] = 0x86;
		pkt[13] = 0xdd;
		pkt[14] = 0x60;
		pkt[14 + 5] = 20;
		pkt[14 + 6] = IPPROTO_TCP;
		pkt[14 + 7] = 64;
		pkt[14 + 40 + 12] = 5 << 4;
		assert_int_equal(run_prog(fds[i], pkt, 14 + 40 + 20, &retval), 0);
		assert_int_equal(retval, 1);
		/* IPv4 header that claims more than the packet holds */
		len = ipv4_tcp_packet(pkt, 40000, 80, 0);
		pkt[14] = 0x4f;
		assert_int_equal(run_prog(fds[i], pkt, len, &retval), 0);
		assert_int_equal(retval, 1);
		/* not IP at all */
		memset(pkt, 0xff, 64);
		assert_int_equal(run_prog(fds[i], pkt, 64, &retval), 0);
		assert_int_equal(retval, 1);
	}
	/* The test-run socket is not TCP: nothing may be counted for service 0. */
	zero = calloc(ncpu, sizeof(*zero));
	assert_non_null(zero);
	for (key = 0; key < FP_KINDS; key++) {
		struct fp_svc_stats *v = calloc(ncpu, sizeof(*v));

		assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(skel->maps.svc_stats), &key, v), 0);
		assert_memory_equal(v, zero, ncpu * sizeof(*v));
		free(v);
	}
	free(zero);
	/* per-cgroup bytes are off by default: the verifier removed them */
	{
		__u64 k;

		assert_int_not_equal(bpf_map_get_next_key(bpf_map__fd(skel->maps.cgroup_net), NULL, &k),
				     0);
	}
	tcp_bpf__destroy(skel);
}

/* The test-run socket belongs to this process's cgroup v2 (cgroup_sk_alloc() at its
 * creation): its id is the inode number of that cgroup's directory. */
static __u64 own_cgroup_id(void)
{
	char root[256], line[512], path[1024];
	struct stat st;
	FILE *f;

	assert_int_equal(probe__cgroup2_root(root, sizeof(root)), 0);
	f = fopen("/proc/self/cgroup", "r");
	assert_non_null(f);
	path[0] = '\0';
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(path, sizeof(path), "%s%s", root, line + 3);
		}
	fclose(f);
	assert_true(path[0]);
	assert_int_equal(stat(path, &st), 0);
	return st.st_ino;
}

static void test_cgroup_net_counts(void **state)
{
	int ncpu = libbpf_num_possible_cpus(), i, n = 0;
	unsigned char pkt[256];
	struct fp_cgroup_net *v;
	__u64 key, next, tx = 0, rx = 0;
	struct tcp_bpf *skel;
	struct bpf_program *p;
	__u32 retval;
	size_t len;

	(void)state;
	skel = tcp_bpf__open();
	assert_non_null(skel);
	skel->rodata->targ_cgroup_net = true;
	bpf_object__for_each_program(p, skel->obj) bpf_program__set_autoload(
		p, !strcmp(bpf_program__name(p), "count_egress") ||
			   !strcmp(bpf_program__name(p), "count_ingress"));
	assert_int_equal(tcp_bpf__load(skel), 0);
	len = ipv4_tcp_packet(pkt, 40000, 5555, 100); /* no service: counted anyway */
	for (i = 0; i < 3; i++) {
		assert_int_equal(run_prog(bpf_program__fd(skel->progs.count_egress), pkt, len,
					  &retval), 0);
		assert_int_equal(retval, 1);
	}
	for (i = 0; i < 2; i++)
		assert_int_equal(run_prog(bpf_program__fd(skel->progs.count_ingress), pkt, len,
					  &retval), 0);
	v = calloc(ncpu, sizeof(*v));
	assert_non_null(v);
	/* one entry: this process's cgroup, with the IP packet's bytes (no Ethernet) */
	assert_int_equal(bpf_map_get_next_key(bpf_map__fd(skel->maps.cgroup_net), NULL, &key), 0);
	do {
		n++;
		next = key;
	} while (!bpf_map_get_next_key(bpf_map__fd(skel->maps.cgroup_net), &next, &key));
	assert_int_equal(n, 1);
	assert_int_equal(key, own_cgroup_id());
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(skel->maps.cgroup_net), &key, v), 0);
	for (i = 0; i < ncpu; i++) {
		tx += v[i].bytes[0];
		rx += v[i].bytes[1];
	}
	assert_int_equal(tx, 3 * (len - 14));
	assert_int_equal(rx, 2 * (len - 14));
	free(v);
	tcp_bpf__destroy(skel);
}

/* ---- trigger, then read through the collector ---- */

struct fixture {
	struct tcp_collector *c;
	struct service_tables t;
	struct tcp_snapshot s;
	int events[8];
	__u32 listen_pids[8]; /* of the first LISTEN events */
};

static void on_event(void *ctx, const struct conn_event *e)
{
	struct fixture *f = ctx;

	if (e->type == CONN_LISTEN && e->svc == 0 && f->events[CONN_LISTEN] < 8)
		f->listen_pids[f->events[CONN_LISTEN]] = e->pid;
	if (e->type < 8 && e->svc == 0)
		f->events[e->type]++;
}

static void prctl_comm(char comm[16])
{
	prctl(PR_GET_NAME, comm, 0, 0, 0);
}

static int bind_ephemeral(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (void *)&a, sizeof(a)) || getsockname(fd, (void *)&a, &alen))
		return -1;
	*port = ntohs(a.sin_port);
	return fd;
}

static int connect_to(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (connect(fd, (void *)&a, sizeof(a))) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* A refused connect of another shape: over IPv6 (v6), or over IPv4 with IP options in
 * its SYN's header (the TCP header further than 20 bytes in). -ECONNREFUSED expected. */
static int connect_refused(int port, bool v6)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(port),
				   .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	unsigned char nops[4] = { 1, 1, 1, 0 }; /* IPOPT_NOOP x 3, IPOPT_END */
	int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0), err;

	if (fd < 0)
		return -errno;
	if (!v6 && setsockopt(fd, IPPROTO_IP, IP_OPTIONS, nops, sizeof(nops))) {
		err = -errno;
		close(fd);
		return err;
	}
	err = v6 ? connect(fd, (void *)&a6, sizeof(a6)) : connect(fd, (void *)&a, sizeof(a));
	err = err ? -errno : 0;
	close(fd);
	return err;
}

static struct fixture *fixture_open_opts(int port, const char *comm,
					 struct tcp_collector_opts opts)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	opts.sinks.conn = on_event;
	opts.sinks.ctx = f;
	f->t.port_mask[port] = 1;
	f->t.match[0].active = 1;
	if (comm) {
		f->t.match[0].n_comm = 1;
		strncpy(f->t.match[0].comm[0], comm, FP_COMM_LEN - 1);
	}
	f->t.n_services = 1;
	assert_int_equal(tcp__open(&opts, &f->t, &f->c), 0);
	return f;
}

static struct fixture *fixture_open_with(int port, const char *comm, __u32 ringbuf_bytes)
{
	struct tcp_collector_opts opts = { .ringbuf_bytes = ringbuf_bytes };

	return fixture_open_opts(port, comm, opts);
}

static struct fixture *fixture_open(int port)
{
	return fixture_open_with(port, NULL, 0);
}

static void fixture_read(struct fixture *f)
{
	tcp__poll(f->c, 0);
	assert_int_equal(tcp__read(f->c, &f->s), 0);
}

static void fixture_close(struct fixture *f)
{
	tcp__close(f->c);
	free(f);
}

static void test_loopback_connection(void **state)
{
	char buf[4096] = { 0 };
	struct fixture *f;
	struct tcp_service_stats *srv, *cli, *peer;
	int lfd, cfd, afd, port, i;
	ssize_t n, got = 0;

	(void)state;
	lfd = bind_ephemeral(&port);
	assert_true(lfd >= 0);
	f = fixture_open(port);
	assert_int_equal(listen(lfd, 8), 0);
	fixture_read(f);
	assert_int_equal(f->s.listeners[0], 1);

	cfd = connect_to(port);
	assert_true(cfd >= 0);
	afd = accept(lfd, NULL, NULL);
	assert_true(afd >= 0);
	assert_int_equal(write(cfd, buf, 3000), 3000);
	while (got < 3000 && (n = read(afd, buf, sizeof(buf))) > 0)
		got += n;
	assert_int_equal(got, 3000);
	fixture_read(f);
	srv = &f->s.stats[0][FP_KIND_SERVER];
	cli = &f->s.stats[0][FP_KIND_CLIENT];
	peer = &f->s.stats[0][FP_KIND_CLIENT_LOCALPEER];
	assert_int_equal(f->s.open[0][FP_KIND_SERVER], 1);
	/* Both ends are local: the client socket is the local-peer kind. */
	assert_int_equal(f->s.open[0][FP_KIND_CLIENT_LOCALPEER], 1);
	assert_int_equal(f->s.open[0][FP_KIND_CLIENT], 0);
	assert_int_equal(srv->opens, 1);
	assert_int_equal(cli->opens + peer->opens, 1);
	assert_int_equal(peer->opens, 1);
	/* One connect duration, in whichever bucket: an emulated machine takes longer. */
	for (i = 0, n = 0; i <= FP_LAT_BOUNDS; i++)
		n += cli->conn_bucket[i];
	assert_int_equal(n, 1);
	/* sent bytes include retransmissions (an emulated machine's stall past the RTO) */
	assert_int_equal(peer->bytes[FP_TX] - peer->retrans_bytes, 3000);
	assert_int_equal(srv->bytes[FP_RX], 3000);

	close(cfd);
	close(afd);
	close(lfd);
	fixture_read(f);
	assert_int_equal(srv->closes, 1);
	assert_int_equal(peer->closes, 1);
	assert_int_equal(f->s.open[0][FP_KIND_SERVER], 0);
	assert_int_equal(f->s.listeners[0], 0);
	assert_int_equal(f->events[FP_EV_LISTEN], 1);
	assert_int_equal(f->events[FP_EV_OPEN], 2);
	assert_int_equal(f->events[FP_EV_UNLISTEN], 1);
	/* The server closed its socket right after the client's FIN: its close may still
	 * be in TIME_WAIT/LAST_ACK for a moment, so only >= 1 here. */
	assert_true(f->events[FP_EV_CLOSE] >= 1);
	fixture_close(f);
}

/* -1 where the kernel has no such drop reason */
static int drop_reason(struct fixture *f, const char *name)
{
	int i;

	for (i = 0; i < FP_DROP_REASONS; i++)
		if (!strcmp(tcp__drop_reason_name(f->c, i), name))
			return i;
	return -1;
}

static __u64 drops_of(struct fixture *f, int svc, const char *reason)
{
	int i = drop_reason(f, reason);

	return i < 0 ? 0 : f->s.drops[svc][i];
}

static void test_refused(void **state)
{
	struct fixture *f;
	int lfd, port, i, fd;

	(void)state;
	/* Find a free port, then close it: connects to it are refused. */
	lfd = bind_ephemeral(&port);
	assert_true(lfd >= 0);
	close(lfd);
	f = fixture_open(port);
	for (i = 0; i < 5; i++) {
		fd = connect_to(port);
		assert_int_equal(fd, -ECONNREFUSED);
	}
	/* the headers' other shapes: IPv6, and IPv4 with options */
	assert_int_equal(connect_refused(port, true), -ECONNREFUSED);
	assert_int_equal(connect_refused(port, false), -ECONNREFUSED);
	fixture_read(f);
	assert_int_equal(f->s.stats[0][FP_KIND_CLIENT].conn_fail[FP_CONNFAIL_REFUSED], 7);
	assert_int_equal(f->events[FP_EV_CONNECT_FAIL], 7);
	/* The kernel sends a RST for each SYN that found no socket... */
	assert_int_equal(f->s.stats[0][FP_KIND_SERVER].resets[FP_TX], 7);
	/* ...and drops the SYN (NO_SOCKET): socketless, attributed by its headers. */
	assert_int_equal(drops_of(f, 0, "NO_SOCKET"), 7);
	fixture_close(f);
}

/* A comm matcher is tested in the kernel at connect() and listen(). */
static void test_comm_matcher(void **state)
{
	char self[16] = { 0 };
	struct fixture *f;
	int lfd, cfd, afd, port, round;

	(void)state;
	prctl_comm(self);
	for (round = 0; round < 2; round++) {
		lfd = bind_ephemeral(&port);
		assert_true(lfd >= 0);
		f = fixture_open_with(port, round ? self : "no-such-comm", 0);
		assert_int_equal(listen(lfd, 8), 0);
		cfd = connect_to(port);
		assert_true(cfd >= 0);
		afd = accept(lfd, NULL, NULL);
		assert_true(afd >= 0);
		fixture_read(f);
		/* round 0: nobody is "no-such-comm"; round 1: this process matches */
		assert_int_equal(f->s.listeners[0], round);
		assert_int_equal(f->s.stats[0][FP_KIND_SERVER].opens, round);
		assert_int_equal(f->s.stats[0][FP_KIND_CLIENT].opens +
					 f->s.stats[0][FP_KIND_CLIENT_LOCALPEER].opens,
				 round);
		close(cfd);
		close(afd);
		close(lfd);
		fixture_close(f);
	}
}

/* A full ring buffer loses events, and every lost one is counted. */
static void test_ringbuf_losses_counted(void **state)
{
	struct losses l = {};
	struct fixture *f;
	int lfd, port, i, got;
	const int n = 300;

	(void)state;
	lfd = bind_ephemeral(&port);
	assert_true(lfd >= 0);
	close(lfd);
	/* one page holds ~36 events of 104 bytes: most of n must be lost */
	f = fixture_open_with(port, NULL, 4096);
	for (i = 0; i < n; i++)
		assert_int_equal(connect_to(port), -ECONNREFUSED);
	fixture_read(f); /* drains the ring once, after all the events */
	/* each refused connect makes two events: the RST received, the failed connect */
	for (got = 0, i = 0; i < 8; i++)
		got += f->events[i];
	tcp__losses(f->c, &l);
	print_message("ring of 4096 bytes: %d events delivered, %llu lost\n", got,
		      (unsigned long long)l.n[LOSS_RINGBUF_FULL]);
	assert_true(got < 2 * n);
	assert_true(l.known[LOSS_RINGBUF_FULL]);
	assert_int_equal(got + l.n[LOSS_RINGBUF_FULL], 2 * n);
	/* the counters do not depend on the ring */
	assert_int_equal(f->s.stats[0][FP_KIND_CLIENT].conn_fail[FP_CONNFAIL_REFUSED], n);
	fixture_close(f);
}

/* ---- SO_REUSEPORT: several processes listen on one port, a socket each ---- */

/* A listening SO_REUSEPORT socket on 127.0.0.1:*port (0: any; *port is set). */
static int reuseport_listen(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(*port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    bind(fd, (void *)&a, sizeof(a)) || listen(fd, 8) ||
	    getsockname(fd, (void *)&a, &alen)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

/* A child process that listens on port with a socket of its own and waits to be killed.
 * Returns its pid once it listens. */
static pid_t sibling(int port)
{
	int p[2], fd;
	char c = 0;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		close(p[0]);
		fd = reuseport_listen(&port);
		c = fd >= 0;
		if (write(p[1], &c, 1) != 1 || fd < 0)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	assert_int_equal(c, 1);
	return pid;
}

static void kill_wait(pid_t pid)
{
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
}

static bool is_task_of(struct fixture *f, __u32 pid, __u8 svc)
{
	int fd = tcp_collector_ops.map_fd(f->c, FP_MAP_PROC_TASKS);
	__u8 v = 0xff;

	return fd >= 0 && !bpf_map_lookup_elem(fd, &pid, &v) && v == svc;
}

static __u64 lost_proc_tasks(struct fixture *f)
{
	int fd = tcp_collector_ops.map_fd(f->c, FP_MAP_LOST_PROC), cpu,
	    ncpu = libbpf_num_possible_cpus();
	__u32 k = FP_PROC_LOST_TASKS;
	__u64 v[ncpu], n = 0;

	assert_true(fd >= 0);
	assert_int_equal(bpf_map_lookup_elem(fd, &k, v), 0);
	for (cpu = 0; cpu < ncpu; cpu++)
		n += v[cpu];
	return n;
}

/*
 * Three processes listen on one port with SO_REUSEPORT: each listen() is reported with
 * its caller's pid and makes the caller a process of the service at once; the kernel's
 * count follows each close. A socket that was listening before the probe started is not
 * counted, and its close takes nothing from the others.
 */
static void test_reuseport_siblings(void **state)
{
	struct fixture *f;
	pid_t kids[3];
	int old, port = 0, i, j, found;

	(void)state;
	old = reuseport_listen(&port);
	assert_true(old >= 0);
	f = fixture_open(port);
	for (i = 0; i < 3; i++)
		kids[i] = sibling(port);
	fixture_read(f);
	assert_int_equal(f->s.listeners[0], 3);
	assert_int_equal(f->events[FP_EV_LISTEN], 3);
	for (i = 0; i < 3; i++) {
		for (j = 0, found = 0; j < 3; j++)
			found += f->listen_pids[j] == (__u32)kids[i];
		assert_int_equal(found, 1);
		assert_true(is_task_of(f, kids[i], 0));
	}
	assert_false(is_task_of(f, getpid(), 0)); /* its socket predates the probe */

	close(old);
	fixture_read(f);
	assert_int_equal(f->s.listeners[0], 3);
	assert_int_equal(f->events[FP_EV_UNLISTEN], 0);

	kill_wait(kids[0]);
	fixture_read(f);
	assert_int_equal(f->s.listeners[0], 2);
	assert_int_equal(f->events[FP_EV_UNLISTEN], 1);
	kill_wait(kids[1]);
	kill_wait(kids[2]);
	fixture_read(f);
	assert_int_equal(f->s.listeners[0], 0);
	assert_int_equal(f->events[FP_EV_UNLISTEN], 3);
	fixture_close(f);
}

/* Full tables lose listeners and processes, and count each one lost. */
static void test_reuseport_full_tables(void **state)
{
	struct tcp_collector_opts o = { .max_listen_socks = 2, .max_proc_tasks = 2 };
	struct losses l = {};
	struct fixture *f;
	pid_t kids[3];
	int fd, port = 0, i;

	(void)state;
	fd = reuseport_listen(&port);
	assert_true(fd >= 0);
	close(fd);
	f = fixture_open_opts(port, NULL, o);
	for (i = 0; i < 3; i++)
		kids[i] = sibling(port);
	fixture_read(f);
	tcp__losses(f->c, &l);
	assert_int_equal(f->s.listeners[0], 2);
	assert_int_equal(f->events[FP_EV_LISTEN], 2);
	assert_int_equal(l.n[LOSS_LISTENER_MAP_FULL], 1);
	/* every listener is the service's process while the table has room */
	assert_true(is_task_of(f, kids[0], 0));
	assert_true(is_task_of(f, kids[1], 0));
	assert_false(is_task_of(f, kids[2], 0));
	assert_int_equal(lost_proc_tasks(f), 1);
	for (i = 0; i < 3; i++)
		kill_wait(kids[i]);
	fixture_read(f);
	assert_int_equal(f->s.listeners[0], 0);
	assert_int_equal(f->events[FP_EV_UNLISTEN], 2);
	fixture_close(f);
}

/* The socket_counters hook in use: 0 the flow iterator, 1 sock_diag (both the kernel's
 * per-socket counters), 2 per packet. */
#define PATH_PER_PACKET 2
static const struct hook *hook_of(struct fixture *f, const char *feature)
{
	const struct hook *h;
	size_t n = tcp__hooks(f->c, &h), i;

	for (i = 0; i < n; i++)
		if (!strcmp(h[i].feature, feature))
			return &h[i];
	return NULL;
}

static int counters_path(struct fixture *f)
{
	const struct hook *h = hook_of(f, "socket_counters");

	return h && h->attached ? h->chosen : -1;
}

/* Listen on lfd, connect to it and accept: the two ends. */
static void open_pair(int lfd, int port, int *cfd, int *afd)
{
	assert_int_equal(listen(lfd, 8), 0);
	*cfd = connect_to(port);
	assert_true(*cfd >= 0);
	*afd = accept(lfd, NULL, NULL);
	assert_true(*afd >= 0);
}

/* n connections to lfd's port; the server closes each first: its end is an orphan in
 * FIN_WAIT2 when the client's FIN arrives, which closes it, and the kernel then purges
 * its receive queue (that FIN: QUEUE_PURGE) after its flow has gone. A FIN_WAIT2
 * timeout above TIME_WAIT's keeps the orphan a full socket until then (else the ACK of
 * its FIN, when it comes alone, turns it into a time-wait socket: no purge). */
static void server_closes_first(int lfd, int port, int n)
{
	int i, cfd, afd, linger2 = 120;
	char buf[16];

	for (i = 0; i < n; i++) {
		open_pair(lfd, port, &cfd, &afd);
		assert_int_equal(setsockopt(afd, IPPROTO_TCP, TCP_LINGER2, &linger2,
					    sizeof(linger2)), 0);
		assert_int_equal(write(cfd, "GET", 3), 3);
		assert_int_equal(read(afd, buf, sizeof(buf)), 3);
		close(afd);
		assert_int_equal(read(cfd, buf, sizeof(buf)), 0); /* the server's FIN */
		close(cfd);
	}
}

/* disable: the hooks to leave out (NULL: the best); want_hook: the drop hook then */
static void orphan_purge_case(const char *disable, const char *want_hook)
{
	struct tcp_collector_opts opts = { .disable = disable };
	int lfd, other, port, oport, i;
	const struct hook *h;
	const char *reason;
	struct fixture *f;

	lfd = bind_ephemeral(&port);
	other = bind_ephemeral(&oport); /* a port of no service */
	assert_true(lfd >= 0 && other >= 0);
	f = fixture_open_opts(port, NULL, opts);
	h = hook_of(f, "drops");
	assert_true(h && h->attached);
	assert_string_equal(h->hook[h->chosen], want_hook);
	/* a kernel that names no such reason frees a purged skb as NOT_SPECIFIED */
	reason = drop_reason(f, "QUEUE_PURGE") < 0 ? "NOT_SPECIFIED" : "QUEUE_PURGE";
	server_closes_first(other, oport, 2);
	server_closes_first(lfd, port, 3);
	/* the last FIN is processed in softirq: wait for it, no longer than 5 s */
	for (i = 0; i < 50; i++) {
		fixture_read(f);
		if (drops_of(f, 0, reason) >= 3)
			break;
		usleep(100000);
	}
	/* the service's three, by the closed socket's own ports; the other port's two
	 * are no service's */
	assert_int_equal(drops_of(f, 0, reason), 3);
	assert_int_equal(f->s.stats[0][FP_KIND_SERVER].closes, 3);
	close(lfd);
	close(other);
	fixture_close(f);
}

static void test_orphan_purge(void **state)
{
	(void)state;
	orphan_purge_case(NULL, probe__available("tp_btf/kfree_skb") ? "tp_btf/kfree_skb" :
								       "tracepoint/skb/kfree_skb");
	orphan_purge_case("tp_btf", "tracepoint/skb/kfree_skb");
}

static void tcp_info_of(int fd, struct tcp_info *ti)
{
	socklen_t len = sizeof(*ti);

	memset(ti, 0, sizeof(*ti));
	assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_INFO, ti, &len), 0);
	assert_true(len >= offsetof(struct tcp_info, tcpi_bytes_retrans) + 8);
}

/* The counters of two tcp_info readings are the same (other fields tell times). */
static bool same_counts(const struct tcp_info *a, const struct tcp_info *b)
{
	return a->tcpi_bytes_sent == b->tcpi_bytes_sent &&
	       a->tcpi_bytes_received == b->tcpi_bytes_received &&
	       a->tcpi_segs_out == b->tcpi_segs_out && a->tcpi_segs_in == b->tcpi_segs_in &&
	       a->tcpi_bytes_retrans == b->tcpi_bytes_retrans &&
	       a->tcpi_total_retrans == b->tcpi_total_retrans;
}

/* One end's service stats: the client's are split between its two kinds. */
static struct tcp_service_stats end_stats(struct fixture *f, bool server)
{
	struct tcp_service_stats r = f->s.stats[0][FP_KIND_SERVER];
	const struct tcp_service_stats *a = &f->s.stats[0][FP_KIND_CLIENT],
				       *b = &f->s.stats[0][FP_KIND_CLIENT_LOCALPEER];
	int d;

	if (server)
		return r;
	r = *a;
	for (d = 0; d < TCP_DIRS; d++) {
		r.bytes[d] += b->bytes[d];
		r.segs[d] += b->segs[d];
	}
	r.retrans_segs += b->retrans_segs;
	r.retrans_bytes += b->retrans_bytes;
	return r;
}

static void assert_like_tcp_info(const struct tcp_service_stats *st, const struct tcp_info *ti,
				 bool kernel, bool server)
{
	assert_int_equal(st->bytes[TCP_TX], ti->tcpi_bytes_sent);
	assert_int_equal(st->bytes[TCP_RX], ti->tcpi_bytes_received);
	assert_int_equal(st->retrans_bytes, ti->tcpi_bytes_retrans);
	assert_int_equal(st->retrans_segs, ti->tcpi_total_retrans);
	assert_int_equal(st->segs[TCP_TX], ti->tcpi_segs_out);
	/* per packet, the SYN and the handshake's last ACK reach the server through its
	 * listener, not the connection's socket: tcp_info counts them */
	assert_int_equal(st->segs[TCP_RX], ti->tcpi_segs_in - (!kernel && server ? 2 : 0));
}

/*
 * One end's payload each way. Sent bytes are tcp_info's bytes_sent, retransmissions
 * included (loopback retransmits too when the machine stalls past the RTO, as an
 * emulated guest does): without those, the payload written. Received bytes are unique.
 */
static void assert_payload(const struct tcp_service_stats *st, __u64 tx, __u64 rx)
{
	assert_int_equal(st->bytes[TCP_TX] - st->retrans_bytes, tx);
	assert_int_equal(st->bytes[TCP_RX], rx);
}

static void write_all(int fd, size_t n)
{
	static char buf[16384];
	ssize_t w;

	while (n > 0) {
		w = write(fd, buf, n < sizeof(buf) ? n : sizeof(buf));
		assert_true(w > 0);
		n -= w;
	}
}

static void read_all(int fd, size_t n)
{
	static char buf[16384];
	ssize_t r;

	while (n > 0) {
		r = read(fd, buf, n < sizeof(buf) ? n : sizeof(buf));
		assert_true(r > 0);
		n -= r;
	}
}

/*
 * A connection's bytes and segments, read while it lives and after both ends closed,
 * against tcp_info (what ss -ti prints) of its two sockets. With the kernel's counters
 * every field is equal; per packet too but for the server end's handshake segments.
 */
static void socket_counters_case(const char *disable, int want_path)
{
	struct tcp_collector_opts opts = { .disable = disable };
	struct tcp_info ci, si, ci2, si2;
	struct tcp_service_stats cs, ss;
	int lfd, cfd, afd, port, i;
	struct fixture *f;

	lfd = bind_ephemeral(&port);
	assert_true(lfd >= 0);
	f = fixture_open_opts(port, NULL, opts);
	assert_int_equal(counters_path(f), want_path);
	open_pair(lfd, port, &cfd, &afd);
	write_all(cfd, 300000);
	read_all(afd, 300000);
	write_all(afd, 70000);
	read_all(cfd, 70000);
	/* delayed ACKs still move segments: read once both ends stand still */
	for (i = 0; i < 100; i++) {
		tcp_info_of(cfd, &ci);
		tcp_info_of(afd, &si);
		fixture_read(f);
		tcp_info_of(cfd, &ci2);
		tcp_info_of(afd, &si2);
		if (same_counts(&ci, &ci2) && same_counts(&si, &si2))
			break;
		usleep(20000);
	}
	cs = end_stats(f, false);
	ss = end_stats(f, true);
	assert_like_tcp_info(&cs, &ci, want_path != PATH_PER_PACKET, false);
	assert_like_tcp_info(&ss, &si, want_path != PATH_PER_PACKET, true);
	if (want_path == 1) {
		/* sock_diag dumps the service's two sockets and no other: a connection on
		 * another port is left to the kernel's filter */
		int ol, oc, oa, oport;
		__u64 r0, a0, r1, a1;

		ol = bind_ephemeral(&oport);
		assert_true(ol >= 0);
		assert_int_equal(listen(ol, 8), 0);
		oc = connect_to(oport);
		assert_true(oc >= 0);
		oa = accept(ol, NULL, NULL);
		assert_true(oa >= 0);
		tcp__diag_counts(f->c, &r0, &a0);
		fixture_read(f);
		tcp__diag_counts(f->c, &r1, &a1);
		assert_int_equal(r1 - r0, 2);
		assert_int_equal(a1 - a0, 2);
		close(oc);
		close(oa);
		close(ol);
	}

	close(cfd);
	close(afd);
	close(lfd);
	for (i = 0; i < 100 && f->s.stats[0][FP_KIND_SERVER].closes < 1; i++) {
		usleep(20000);
		fixture_read(f);
	}
	cs = end_stats(f, false);
	ss = end_stats(f, true);
	/* payload only: the FINs' sequence numbers are not bytes */
	assert_payload(&cs, 300000, 70000);
	assert_payload(&ss, 70000, 300000);
	fixture_close(f);
}

/* Both ends' tcp_info once neither changes any more (delayed ACKs sent). */
static void settled_tcp_info(int cfd, int afd, struct tcp_info *ci, struct tcp_info *si)
{
	struct tcp_info c2, s2;
	int i;

	for (i = 0; i < 50; i++) {
		tcp_info_of(cfd, ci);
		tcp_info_of(afd, si);
		usleep(100000);
		tcp_info_of(cfd, &c2);
		tcp_info_of(afd, &s2);
		if (same_counts(ci, &c2) && same_counts(si, &s2))
			return;
	}
	fail_msg("tcp_info kept changing");
}

/* What the counters saw of one end against its tcp_info's change since t0. */
static void assert_since(const struct tcp_service_stats *st, const struct tcp_info *t0,
			 const struct tcp_info *t1)
{
	assert_int_equal(st->bytes[TCP_TX], t1->tcpi_bytes_sent - t0->tcpi_bytes_sent);
	assert_int_equal(st->bytes[TCP_RX], t1->tcpi_bytes_received - t0->tcpi_bytes_received);
	assert_int_equal(st->segs[TCP_TX], t1->tcpi_segs_out - t0->tcpi_segs_out);
	assert_int_equal(st->segs[TCP_RX], t1->tcpi_segs_in - t0->tcpi_segs_in);
}

/* A connection older than the probe counts from the probe's start, on each path. */
/* reload: the service's port is added by a reload (tcp__set_services) after the start,
 * with one other port */
static void older_socket_case(const char *disable, int want_path, bool reload)
{
	struct tcp_collector_opts opts = { .disable = disable };
	struct tcp_info c0, s0, c1, s1;
	struct tcp_service_stats cs, ss;
	int lfd, cfd, afd, port, dfd = -1, other;
	struct fixture *f;

	lfd = bind_ephemeral(&port);
	assert_true(lfd >= 0);
	open_pair(lfd, port, &cfd, &afd);
	write_all(cfd, 50000);
	read_all(afd, 50000);
	write_all(afd, 30000);
	read_all(cfd, 30000);
	settled_tcp_info(cfd, afd, &c0, &s0);
	if (reload) {
		dfd = bind_ephemeral(&other);
		assert_true(dfd >= 0);
		f = fixture_open_opts(other, NULL, opts);
		f->t.port_mask[port] = 1;
		assert_int_equal(tcp__set_services(f->c, &f->t), 0);
	} else {
		f = fixture_open_opts(port, NULL, opts);
	}
	assert_int_equal(counters_path(f), want_path);
	write_all(afd, 20000); /* the server end speaks first, then the client */
	read_all(cfd, 20000);
	write_all(cfd, 70000);
	read_all(afd, 70000);
	settled_tcp_info(cfd, afd, &c1, &s1);
	fixture_read(f);
	cs = end_stats(f, false);
	ss = end_stats(f, true);
	assert_payload(&cs, 70000, 20000);
	assert_payload(&ss, 20000, 70000);
	assert_since(&cs, &c0, &c1);
	assert_since(&ss, &s0, &s1);
	close(cfd);
	close(afd);
	close(lfd);
	if (dfd >= 0)
		close(dfd);
	fixture_close(f);
}

static void test_socket_counters(void **state)
{
	/* the kernel's counters: the flow iterator where it loads, else sock_diag */
	int diag = probe__available("syscall/sock_diag") ? 1 : PATH_PER_PACKET;
	int best = probe__available("iter/bpf_map_elem") ? 0 : diag;

	(void)state;
	/* under CI every path runs: sock_diag is there on every kernel of the matrix */
	if (getenv("CI") && !strcmp(getenv("CI"), "true"))
		assert_int_equal(diag, 1);
	socket_counters_case(NULL, best);
	socket_counters_case("iter", diag);
	socket_counters_case("iter,syscall", PATH_PER_PACKET);
	older_socket_case(NULL, best, false);
	older_socket_case("iter", diag, false);
	older_socket_case("iter,syscall", PATH_PER_PACKET, false);
	older_socket_case(NULL, best, true);
	older_socket_case("iter,syscall", PATH_PER_PACKET, true);
}

/*
 * A connection whose ESTABLISHED no lifecycle run saw (skipped: recursion_misses),
 * accepted through a listener whose LISTEN one did: the ingress program finds its
 * socket without a flow and, its listener being younger than the probe, counts it from
 * its start (the open included), not from that packet. The client end, of no known
 * listener, counts from its first packet as a socket older than the probe would.
 */
static void established_missed_case(const char *disable, int want_path)
{
	struct tcp_collector_opts opts = { .disable = disable };
	struct tcp_service_stats cs, ss;
	struct tcp_info ci, si;
	int lfd, cfd, afd, port;
	struct fixture *f;

	lfd = bind_ephemeral(&port);
	assert_true(lfd >= 0);
	f = fixture_open_opts(port, NULL, opts);
	assert_int_equal(counters_path(f), want_path);
	assert_int_equal(listen(lfd, 8), 0);
	fixture_read(f);
	assert_int_equal(f->s.listeners[0], 1);
	assert_int_equal(tcp__detach(f->c, "lifecycle"), 0);
	cfd = connect_to(port);
	assert_true(cfd >= 0);
	afd = accept(lfd, NULL, NULL);
	assert_true(afd >= 0);
	write_all(afd, 20000); /* the server end speaks first */
	read_all(cfd, 20000);
	write_all(cfd, 70000);
	read_all(afd, 70000);
	settled_tcp_info(cfd, afd, &ci, &si);
	fixture_read(f);
	cs = end_stats(f, false);
	ss = end_stats(f, true);
	assert_like_tcp_info(&ss, &si, want_path != PATH_PER_PACKET, true);
	assert_int_equal(f->s.stats[0][FP_KIND_SERVER].opens, 1);
	assert_int_equal(f->events[CONN_OPEN], 1);
	assert_true(cs.bytes[TCP_TX] <= ci.tcpi_bytes_sent);
	assert_true(cs.bytes[TCP_RX] <= ci.tcpi_bytes_received);
	close(cfd);
	close(afd);
	close(lfd);
	fixture_close(f);
}

/* a + b, the counters assert_like_tcp_info reads */
static struct tcp_info tcp_info_sum(const struct tcp_info *a, const struct tcp_info *b)
{
	struct tcp_info r = *a;

	r.tcpi_bytes_sent += b->tcpi_bytes_sent;
	r.tcpi_bytes_received += b->tcpi_bytes_received;
	r.tcpi_bytes_retrans += b->tcpi_bytes_retrans;
	r.tcpi_total_retrans += b->tcpi_total_retrans;
	r.tcpi_segs_out += b->tcpi_segs_out;
	r.tcpi_segs_in += b->tcpi_segs_in;
	return r;
}

/*
 * A client whose SYN_SENT a lifecycle run saw and whose ESTABLISHED none did: its first
 * inbound packet in ESTABLISHED finds its flow still connecting and establishes it
 * (its open counted, with no connect duration), and its counters are read as any
 * other's. Its SYN meets a full accept queue (dropped, sent again a second later) while
 * the lifecycle hook is taken off; its server end's ESTABLISHED is missed too.
 */
static void client_established_missed_case(const char *disable, int want_path)
{
	struct tcp_collector_opts opts = { .disable = disable };
	struct tcp_info c1i, a1i, c2i, a2i, ci, si;
	struct tcp_service_stats cs, ss;
	int lfd, c1, a1, c2, a2, port, err = -1, b, kind, timed = 0;
	socklen_t elen = sizeof(err);
	struct sockaddr_in to = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct pollfd p;
	struct fixture *f;

	lfd = bind_ephemeral(&port);
	assert_true(lfd >= 0);
	f = fixture_open_opts(port, NULL, opts);
	assert_int_equal(counters_path(f), want_path);
	assert_int_equal(listen(lfd, 0), 0); /* one connection fills the queue */
	c1 = connect_to(port);
	assert_true(c1 >= 0);
	c2 = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(c2 >= 0);
	to.sin_port = htons(port);
	assert_int_equal(connect(c2, (void *)&to, sizeof(to)), -1);
	assert_int_equal(errno, EINPROGRESS);
	fixture_read(f);
	assert_int_equal(tcp__detach(f->c, "lifecycle"), 0);
	a1 = accept(lfd, NULL, NULL);
	assert_true(a1 >= 0);
	p = (struct pollfd){ .fd = c2, .events = POLLOUT };
	assert_int_equal(poll(&p, 1, 10000), 1);
	assert_int_equal(getsockopt(c2, SOL_SOCKET, SO_ERROR, &err, &elen), 0);
	assert_int_equal(err, 0);
	assert_int_equal(fcntl(c2, F_SETFL, 0), 0);
	a2 = accept(lfd, NULL, NULL);
	assert_true(a2 >= 0);
	write_all(c2, 50000);
	read_all(a2, 50000);
	write_all(a2, 30000);
	read_all(c2, 30000);
	settled_tcp_info(c1, a1, &c1i, &a1i);
	settled_tcp_info(c2, a2, &c2i, &a2i);
	assert_true(c2i.tcpi_total_retrans >= 1); /* its SYN, dropped once */
	fixture_read(f);
	cs = end_stats(f, false);
	ss = end_stats(f, true);
	ci = tcp_info_sum(&c1i, &c2i);
	/* per packet, each server end's SYN and handshake ACK reached the listener:
	 * assert_like_tcp_info takes out one connection's two */
	if (want_path == PATH_PER_PACKET)
		a1i.tcpi_segs_in -= 2;
	si = tcp_info_sum(&a1i, &a2i);
	assert_like_tcp_info(&cs, &ci, want_path != PATH_PER_PACKET, false);
	assert_like_tcp_info(&ss, &si, want_path != PATH_PER_PACKET, true);
	/* two opens of each end; one connect duration, the first connection's */
	assert_int_equal(f->s.stats[0][FP_KIND_CLIENT].opens +
				 f->s.stats[0][FP_KIND_CLIENT_LOCALPEER].opens,
			 2);
	assert_int_equal(f->s.stats[0][FP_KIND_SERVER].opens, 2);
	for (kind = FP_KIND_CLIENT; kind <= FP_KIND_CLIENT_LOCALPEER; kind++)
		for (b = 0; b <= TCP_LAT_BOUNDS; b++)
			timed += f->s.stats[0][kind].conn_bucket[b];
	assert_int_equal(timed, 1);
	close(c1);
	close(a1);
	close(c2);
	close(a2);
	close(lfd);
	fixture_close(f);
}

/* The flow table's key of the socket whose local port is lport. */
static __u64 flow_key_of(struct fixture *f, __u16 lport)
{
	int fd = tcp__flows_fd(f->c);
	__u64 k, next, *kp = NULL;
	struct fp_flow v;

	while (!bpf_map_get_next_key(fd, kp, &next)) {
		k = next;
		kp = &k;
		if (!bpf_map_lookup_elem(fd, &k, &v) && v.lport == lport)
			return k;
	}
	return 0;
}

/*
 * A flow left under a socket's address by a former connection whose CLOSE and
 * destruction runs were both skipped is replaced when a connection starts on that
 * address (here the same socket, disconnected and connected again): its counts are
 * the new connection's, not moved from the stale entry's.
 */
static void stale_flow_case(const char *disable, int want_path)
{
	struct tcp_collector_opts opts = { .disable = disable };
	struct sockaddr_in me, to = { .sin_family = AF_INET,
				      .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr unspec = { .sa_family = AF_UNSPEC };
	struct tcp_service_stats c0, c1;
	struct fp_flow stale = { .start_ns = 1, .established = 1, .kind = FP_KIND_CLIENT };
	socklen_t mlen = sizeof(me);
	struct tcp_info ci, si;
	int lfd, cfd, afd, port, fd;
	struct fixture *f;
	__u64 key;

	lfd = bind_ephemeral(&port);
	assert_true(lfd >= 0);
	f = fixture_open_opts(port, NULL, opts);
	assert_int_equal(counters_path(f), want_path);
	open_pair(lfd, port, &cfd, &afd);
	assert_int_equal(getsockname(cfd, (void *)&me, &mlen), 0);
	key = flow_key_of(f, ntohs(me.sin_port));
	assert_true(key != 0);
	assert_int_equal(connect(cfd, &unspec, sizeof(unspec)), 0); /* CLOSE: the flow goes */
	close(afd);
	fixture_read(f);
	c0 = end_stats(f, false);
	/* what two skipped runs would have left: a flow whose counters are far ahead */
	stale.acct.bytes_sent = stale.acct.bytes_received = 1ULL << 40;
	stale.acct.segs_out = stale.acct.segs_in = 1U << 30;
	fd = tcp__flows_fd(f->c);
	assert_int_equal(bpf_map_update_elem(fd, &key, &stale, BPF_NOEXIST), 0);
	to.sin_port = htons(port);
	assert_int_equal(connect(cfd, (void *)&to, sizeof(to)), 0);
	afd = accept(lfd, NULL, NULL);
	assert_true(afd >= 0);
	write_all(cfd, 40000);
	read_all(afd, 40000);
	write_all(afd, 10000);
	read_all(cfd, 10000);
	settled_tcp_info(cfd, afd, &ci, &si);
	fixture_read(f);
	c1 = end_stats(f, false);
	/* tcp_disconnect() zeroed the socket's counters: all of them are this connection's */
	assert_int_equal(c1.bytes[TCP_TX] - c0.bytes[TCP_TX], ci.tcpi_bytes_sent);
	assert_int_equal(c1.bytes[TCP_RX] - c0.bytes[TCP_RX], ci.tcpi_bytes_received);
	assert_int_equal(c1.segs[TCP_TX] - c0.segs[TCP_TX], ci.tcpi_segs_out);
	close(cfd);
	close(afd);
	close(lfd);
	fixture_close(f);
}

static void test_established_missed(void **state)
{
	int diag = probe__available("syscall/sock_diag") ? 1 : PATH_PER_PACKET;

	(void)state;
	established_missed_case(NULL, probe__available("iter/bpf_map_elem") ? 0 : diag);
	established_missed_case("iter", diag);
	established_missed_case("iter,syscall", PATH_PER_PACKET);
	client_established_missed_case(NULL, probe__available("iter/bpf_map_elem") ? 0 : diag);
	client_established_missed_case("iter", diag);
	client_established_missed_case("iter,syscall", PATH_PER_PACKET);
	stale_flow_case(NULL, probe__available("iter/bpf_map_elem") ? 0 : diag);
	stale_flow_case("iter", diag);
}

/*
 * A connection whose close no lifecycle run saw (the kernel skips a run that nests in
 * another on the same CPU: recursion_misses) is closed as its sockets are destroyed:
 * what they moved since the last read still arrives, and the flows go; so does its
 * listener.
 */
static void close_missed_case(const char *disable, const char *want_hook)
{
	struct tcp_collector_opts opts = { .disable = disable };
	struct tcp_service_stats cs, ss;
	struct tcp_info ci, si;
	int lfd, cfd, afd, port, i;
	const struct hook *h;
	struct fixture *f;

	lfd = bind_ephemeral(&port);
	assert_true(lfd >= 0);
	f = fixture_open_opts(port, NULL, opts);
	h = hook_of(f, "closes_missed");
	assert_true(h && h->attached);
	assert_string_equal(h->hook[h->chosen], want_hook);
	open_pair(lfd, port, &cfd, &afd);
	write_all(cfd, 100000);
	read_all(afd, 100000);
	fixture_read(f);
	assert_int_equal(f->s.open[0][FP_KIND_SERVER], 1);
	assert_int_equal(f->s.listeners[0], 1);
	assert_int_equal(tcp__detach(f->c, "lifecycle"), 0);
	write_all(cfd, 50000);
	read_all(afd, 50000);
	write_all(afd, 20000);
	read_all(cfd, 20000);
	settled_tcp_info(cfd, afd, &ci, &si);
	close(cfd);
	close(afd);
	close(lfd);
	for (i = 0; i < 100 && (f->s.stats[0][FP_KIND_SERVER].closes < 1 ||
				end_stats(f, false).bytes[TCP_RX] < 20000);
	     i++) {
		usleep(20000);
		fixture_read(f);
	}
	cs = end_stats(f, false);
	ss = end_stats(f, true);
	assert_int_equal(f->s.stats[0][FP_KIND_SERVER].closes, 1);
	assert_int_equal(f->s.stats[0][FP_KIND_CLIENT].closes +
				 f->s.stats[0][FP_KIND_CLIENT_LOCALPEER].closes,
			 1);
	/* what the last read had not brought, the destruction did: the sockets' own counts
	 * as they closed (only FINs moved after these readings, and they are no payload) */
	assert_int_equal(cs.bytes[TCP_TX], ci.tcpi_bytes_sent);
	assert_int_equal(ss.bytes[TCP_TX], si.tcpi_bytes_sent);
	assert_payload(&cs, 150000, 20000);
	assert_payload(&ss, 20000, 150000);
	assert_int_equal(f->s.open[0][FP_KIND_SERVER], 0);
	assert_int_equal(f->s.listeners[0], 0);
	fixture_close(f);
}

static void test_close_missed(void **state)
{
	(void)state;
	close_missed_case(NULL, probe__available("tp_btf/tcp_destroy_sock") ?
					"tp_btf/tcp_destroy_sock" :
					"tracepoint/tcp/tcp_destroy_sock");
	close_missed_case("tp_btf", "tracepoint/tcp/tcp_destroy_sock");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cgroup_skb_verdict),
		cmocka_unit_test(test_cgroup_net_counts),
		cmocka_unit_test(test_loopback_connection),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_orphan_purge),
		cmocka_unit_test(test_comm_matcher),
		cmocka_unit_test(test_ringbuf_losses_counted),
		cmocka_unit_test(test_reuseport_siblings),
		cmocka_unit_test(test_reuseport_full_tables),
		cmocka_unit_test(test_socket_counters),
		cmocka_unit_test(test_close_missed),
		cmocka_unit_test(test_established_missed),
	};

	if (geteuid()) {
		fprintf(stderr, "BPF tests need root\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
