// SPDX-License-Identifier: GPL-2.0-only
/*
 * TLS plaintext: uprobes on OpenSSL's SSL_read/SSL_write (and their _ex variants) emit
 * what the call returned to or took from the application as fp_l7_event records of the
 * call's socket, into the same ring buffer as bpf/l7.bpf.c, flagged FP_L7_F_TLS.
 *
 * An SSL * does not say which socket it uses (the fd sits behind OpenSSL's BIO, whose
 * layout changes between versions). The socket hooks of bpf/l7.bpf.c fill that in: while
 * a thread is inside a call (l7_ssl), the read/write it makes names the socket and is
 * not emitted as data. A call served from OpenSSL's own buffer makes no syscall; the
 * connection last seen for that SSL * (ssl_sk) names it then; the handshake calls, hooked
 * too, make sure there is one before the first SSL_read.
 *
 * Userspace attaches these programs to each libssl (or static OpenSSL) binary, pid -1,
 * and looks at each process that execs (tls_exec) for binaries to hook.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "tcp.h"
#include "l7.h"
#include "tls.h"
#include "maps.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Shared with bpf/l7.bpf.c: userspace hands this object the same maps (reuse_fd). */
#include "flows.bpf.h"
#include "l7_maps.bpf.h"

/* Own maps. An SSL * is an address in one process: the key needs the process too. */
struct ssl_key {
	__u64 ssl;
	__u32 tgid;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, FP_TLS_SSL_SOCKETS);
	__type(key, struct ssl_key);
	__type(value, struct fp_tls_sock);
} ssl_sk SEC(".maps");

/* enum fp_tls_stat */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FP_TLS_STATS);
	__type(key, __u32);
	__type(value, __u64);
} tls_stats SEC(".maps");

/* struct fp_tls_exec records */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, FP_TLS_RINGBUF_BYTES);
} tls_events SEC(".maps");

/* The connection socket sk belongs to now (its flow's start), 0 for a socket of no
 * service: with sk, what ssl_sk remembers. */
static __always_inline void remember(const struct ssl_key *k, __u64 sk)
{
	struct fp_tls_sock v = { .sk = sk };
	struct fp_flow_ref f;

	if (flow_ref(sk, &f))
		v.conn_start = f.start_ns;
	bpf_map_update_elem(&ssl_sk, k, &v, BPF_ANY);
}

/* The thread's SSL call record (ssl 0 outside a call); create makes one. */
static __always_inline struct fp_l7_ssl_call *call_of_thread(bool create)
{
	return bpf_task_storage_get(&l7_ssl, bpf_get_current_task_btf(), 0,
				    create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
}

/* watched: follow the call only in a process that holds a socket of an L7 service */
static __always_inline int enter(void *ssl, void *buf, void *out, bool watched)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct fp_l7_ssl_call *c;

	/* Every process's calls come here (pid -1): only those of tasks that hold a
	 * socket of an L7 service (bpf/l7.bpf.c) are followed. */
	c = call_of_thread(false);
	if (watched && !(c && c->watched == tgid) && !bpf_map_lookup_elem(&l7_tasks, &tgid))
		return 0;
	c = c ?: call_of_thread(true);
	if (!c)
		return 0;
	c->ssl = (__u64)ssl;
	c->buf = (__u64)buf;
	c->out = (__u64)out;
	c->sk = 0;
	c->enter_ns = bpf_ktime_get_ns();
	return 0;
}

/*
 * One record reserved in the ring at a size known to the verifier: `room` bytes of
 * prefix (a constant at each call site, want <= room) and one snippet. No scratch copy:
 * uprobe programs run preemptibly, a per-CPU scratch could be reused under them.
 */
static __always_inline void submit(struct fp_l7_ssl_call *c, const struct fp_flow_ref *f,
				   const struct fp_l7_svc *on, __u64 sk, __u64 moved,
				   __u64 want, __u8 dir, __u32 sndq, const __u32 room)
{
	struct fp_l7_event *e;
	struct fp_l7_snip *sn;

	e = bpf_ringbuf_reserve(&l7_events,
				offsetof(struct fp_l7_event, data) + room + sizeof(*sn), 0);
	if (!e) {
		map_inc(&l7_stats, 0);
		return;
	}
	/* the comparison on the very register used below: the verifier's bound */
	barrier_var(want);
	if (want > room)
		want = room;
	e->ts_ns = bpf_ktime_get_ns();
	e->order_ns = dir == FP_TX ? c->enter_ns : e->ts_ns;
	e->sk = sk;
	e->conn_start = f->start_ns;
	e->len = moved;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->svc = f->svc;
	e->kind = f->kind;
	e->dir = dir;
	e->type = FP_L7_DATA;
	e->nsnip = 0;
	e->tail = 0;
	e->pad2 = 0;
	e->flags = FP_L7_F_TLS;
	e->pad = 0;
	e->sndq = sndq;
	e->cap = 0;
	if (want && !bpf_probe_read_user(e->data, want, (void *)c->buf))
		e->cap = want;
	/* as bpf/l7.bpf.c: the buffer's last bytes when they fall past the prefix */
	if (on->mode == FP_L7_TAIL && e->cap && moved >= e->cap + FP_L7_SNIP_BYTES) {
		sn = (void *)(e->data + want);
		sn->off = moved - FP_L7_SNIP_BYTES;
		if (!bpf_probe_read_user(sn->bytes, FP_L7_SNIP_BYTES,
					 (void *)(c->buf + moved - FP_L7_SNIP_BYTES)))
			e->nsnip = 1;
	}
	/* as bpf/l7.bpf.c: the fill is a cache line the consumer writes, read at every 8th
	 * record (of this thread: uprobes run preemptibly, a per-CPU count could race) */
	bpf_ringbuf_submit(e, ++c->records & 7 ?
				      BPF_RB_NO_WAKEUP :
				      rb_wakeup_flags(&l7_events, FP_L7_RINGBUF_BYTES / 8));
}

/* ret: the call's return value; bytes: SSL_read/SSL_write: ret itself, the _ex
 * variants return 1 and store the count through c->out. */
static __always_inline int leave(long ret, bool ex, __u8 dir)
{
	__u64 id = bpf_get_current_pid_tgid(), sk, moved = 0, want, start = 0;
	struct ssl_key k = { .tgid = id >> 32 };
	struct fp_l7_ssl_call *c;
	struct fp_tls_sock *known;
	struct fp_l7_svc *on;
	struct fp_flow_ref f;
	__u32 svc, sndq;
	bool joined = false;

	c = call_of_thread(false);
	if (!c || !c->ssl)
		return 0;
	k.ssl = c->ssl;
	sk = c->sk;
	if (sk) {
		/* the first call seen for this SSL *, and no handshake before it */
		joined = !bpf_map_lookup_elem(&ssl_sk, &k);
		remember(&k, sk);
	} else {
		known = bpf_map_lookup_elem(&ssl_sk, &k);
		if (known) {
			sk = known->sk;
			start = known->conn_start;
		}
	}
	if (ret <= 0)
		goto out;
	if (!ex)
		moved = ret;
	else if (ret != 1 || !c->out || bpf_probe_read_user(&moved, sizeof(moved), (void *)c->out))
		goto out;
	if (!moved || moved > 0x7fffffffULL)
		goto out;
	if (!sk) {
		map_inc(&tls_stats, FP_TLS_UNKNOWN_SOCKET);
		goto out;
	}
	if (!flow_ref(sk, &f))
		goto out;
	/* Served from OpenSSL's buffer: the remembered socket is this SSL *'s only if its
	 * address still names the same connection. An SSL * freed and reallocated at the
	 * same address for a connection whose own syscalls were not seen would otherwise
	 * hand its bytes to whatever connection now owns that socket address. */
	if (!c->sk && f.start_ns != start) {
		map_inc(&tls_stats, FP_TLS_UNKNOWN_SOCKET);
		goto out;
	}
	svc = f.svc;
	on = bpf_map_lookup_elem(&l7_svc, &svc);
	/* as in bpf/l7.bpf.c: the local-peer client end is parsed from its server end */
	if (!on || !on->mode || f.kind == FP_KIND_CLIENT_LOCALPEER)
		goto out;
	if (joined)
		map_inc(&tls_stats, FP_TLS_SESSION_JOINED);
	want = moved < on->cap ? moved : on->cap;
	/* once here, not in each inlined size class below (6.1's verifier refused the
	 * object with a map update in each) */
	sndq = on->sndq ? sndq_sample(sk, f.start_ns, on->sndq & FP_L7_SNDQ_KEEP) : 0;
	/* the smallest of a few record sizes that holds the prefix */
	if (want <= 64)
		submit(c, &f, on, sk, moved, want, dir, sndq, 64);
	else if (want <= 256)
		submit(c, &f, on, sk, moved, want, dir, sndq, 256);
	else if (want <= 1024)
		submit(c, &f, on, sk, moved, want, dir, sndq, 1024);
	else if (want <= 4096)
		submit(c, &f, on, sk, moved, want, dir, sndq, 4096);
	else
		submit(c, &f, on, sk, moved, want, dir, sndq, FP_L7_CAP_MAX);
out:
	c->ssl = 0;
	return 0;
}

/*
 * SSL_do_handshake, SSL_accept, SSL_connect, SSL_shutdown: no data for the application,
 * but their syscalls are this SSL *'s too. Marked as inside a call (buf 0), they name
 * the socket before the first SSL_read (whose request may have arrived with the
 * handshake's last read and sit in OpenSSL's buffer: no syscall of its own), and their
 * ciphertext is not captured. SSL_accept and SSL_connect run SSL_do_handshake: the
 * inner call finds the outer entry and leaves it.
 */
SEC("uprobe")
int BPF_KPROBE(ssl_ctl_enter, void *ssl)
{
	struct fp_l7_ssl_call *c = call_of_thread(false);

	if (c && c->ssl && (c->buf || c->ssl == (__u64)ssl))
		return 0; /* inside a data call, or nested in a control call */
	/* followed in any process: a server's first handshake comes before its first read
	 * of a service's socket, which is what makes the process watched (the socket hooks
	 * of bpf/l7.bpf.c) */
	return enter(ssl, 0, 0, false);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_ctl_exit)
{
	struct fp_l7_ssl_call *c = call_of_thread(false);
	struct ssl_key k = { .tgid = bpf_get_current_pid_tgid() >> 32 };

	if (!c || !c->ssl || c->buf)
		return 0;
	k.ssl = c->ssl;
	if (c->sk)
		remember(&k, c->sk);
	c->ssl = 0;
	return 0;
}

/* int SSL_write(SSL *ssl, const void *buf, int num) */
SEC("uprobe")
int BPF_KPROBE(ssl_write_enter, void *ssl, const void *buf)
{
	return enter(ssl, (void *)buf, 0, true);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_write_exit, int ret)
{
	return leave(ret, false, FP_TX);
}

/* int SSL_read(SSL *ssl, void *buf, int num) */
SEC("uprobe")
int BPF_KPROBE(ssl_read_enter, void *ssl, void *buf)
{
	return enter(ssl, buf, 0, true);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_read_exit, int ret)
{
	return leave(ret, false, FP_RX);
}

/* int SSL_write_ex(SSL *s, const void *buf, size_t num, size_t *written) */
SEC("uprobe")
int BPF_KPROBE(ssl_write_ex_enter, void *ssl, const void *buf, size_t num, size_t *written)
{
	return enter(ssl, (void *)buf, written, true);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_write_ex_exit, int ret)
{
	return leave(ret, true, FP_TX);
}

/* int SSL_read_ex(SSL *ssl, void *buf, size_t num, size_t *readbytes) */
SEC("uprobe")
int BPF_KPROBE(ssl_read_ex_enter, void *ssl, void *buf, size_t num, size_t *readbytes)
{
	return enter(ssl, buf, readbytes, true);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_read_ex_exit, int ret)
{
	return leave(ret, true, FP_RX);
}

/*
 * Every exec on the host (once per program start, no syscall hook): userspace looks at
 * the new program at once, so that an OpenSSL binary it carries or the loader maps next
 * is hooked before the process serves, rather than at the next periodic scan. The
 * daemon is woken for each: the record is rare and its point is to be early.
 */
SEC("tracepoint/sched/sched_process_exec")
int tls_exec(void *ctx)
{
	struct fp_tls_exec *e = bpf_ringbuf_reserve(&tls_events, sizeof(*e), 0);

	if (!e) {
		map_inc(&tls_stats, FP_TLS_EXEC_LOST);
		return 0;
	}
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->pad = 0;
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
	return 0;
}
