// SPDX-License-Identifier: GPL-2.0-only
/*
 * L7 capture: a bounded prefix of every read/write on a socket of a service whose
 * protocol needs parsing, with the full length the call moved.
 *
 * Two ways in, chosen at load time (user/collect/l7.c):
 *  - socket hooks (default where the kernel has them): tp_btf on sock_send_length and
 *    sock_recv_length, the end of every sendmsg/recvmsg of a socket, and on
 *    tcp_sendmsg_locked, a TCP send's start (its order key). They fire for socket I/O
 *    only, so other syscalls pay nothing; the first test is the socket's protocol, then
 *    one lookup in the TCP flow table (shared with bpf/tcp.bpf.c), which also tells the
 *    service and which end this is. The user buffer comes from the syscall's arguments
 *    in the task's saved user registers.
 *  - syscall tracepoints (the fallback): they fire for every task and put every task on
 *    the slow syscall path, so the first test is one hash lookup of the task in l7_tasks
 *    (tasks that connected or accepted a socket of such a service); only then are the
 *    arguments kept until the syscall returns and the fd resolved to its socket.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "tcp.h"
#include "l7.h"
#include "maps.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#include "flows.bpf.h"
#include "l7_maps.bpf.h"

enum { ARGS_BUF = 0, ARGS_IOV = 1, ARGS_MSG = 2, ARGS_NONE = 3 };

/* recv(..., MSG_PEEK) leaves the bytes queued for the read that follows (nginx peeks at
 * the first byte of each connection on a TLS port): not captured, or the parser would
 * see them twice. */
#define FP_MSG_PEEK 2 /* include/linux/socket.h */

struct l7_args {
	__u64 buf; /* buffer, iovec array or user_msghdr */
	__u32 fd;
	__u32 iovcnt;
	__u8 how;
	__u8 dir;
	__u8 valid; /* set at a syscall's entry, cleared at its exit */
	__u8 pad[5];
	__u64 enter_ns; /* a write's entry (its record's order_ns) */
};

/* The arguments of the syscall in progress, per thread: task-local storage is a pointer
 * away from the task (no hash, nothing to delete, freed with the thread). */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct l7_args);
} l7_args SEC(".maps");

static __always_inline struct l7_args *args_new(void)
{
	return bpf_task_storage_get(&l7_args, bpf_get_current_task_btf(), 0,
				    BPF_LOCAL_STORAGE_GET_F_CREATE);
}

/* The entry's arguments, consumed: NULL if this syscall's entry was not saved. */
static __always_inline struct l7_args *args_take(void)
{
	struct l7_args *a = bpf_task_storage_get(&l7_args, bpf_get_current_task_btf(), 0, 0);

	if (!a || !a->valid)
		return NULL;
	a->valid = 0;
	return a;
}

/*
 * Framing assist for length-prefixed protocols: where a frame starts past the captured
 * prefix (many frames in one read), the kernel walks the lengths and hands userspace the
 * first bytes of each frame. State per connection and direction.
 */
enum { PH_ADV_LEN = 0, PH_ADV_BODY, PH_VERSION, PH_LEN, PH_BODY, PH_DEAD };

struct frame_key {
	__u64 sk;
	__u64 conn_start;
	__u32 dir;
	__u32 pad;
};

struct frame_state {
	__u32 skip; /* body bytes still to pass */
	__u8 phase;
	__u8 have; /* length bytes gathered so far */
	__u8 len[4];
	__u8 pad[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct frame_key);
	__type(value, struct frame_state);
} l7_frames SEC(".maps");

#define WALK_STEPS 192 /* two per frame: a 64 KiB read of 1212-byte Betanet frames fits */
#define MAX_FRAME (1U << 20) /* a longer "length" means the walk lost the framing */

/* The event plus room for one more prefix: iovec copies land at a variable offset
 * below FP_L7_CAP_MAX with a length below FP_L7_CAP_MAX, and the verifier checks the
 * sum against the value size. */
struct l7_scratch {
	struct fp_l7_event e;
	__u8 slack[FP_L7_CAP_MAX];
	__u32 records; /* written by this CPU: every 8th looks at the ring's fill */
};

/* One slot per CPU (max_entries set to the CPU count at load): a per-CPU array caps
 * values at 32 KiB. Programs on syscall tracepoints do not nest on a CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct l7_scratch);
} l7_scratch SEC(".maps");



static __always_inline bool task_watched(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	return bpf_map_lookup_elem(&l7_tasks, &tgid);
}

#define FP_S_IFMT 00170000 /* include/uapi/linux/stat.h */
#define FP_S_IFSOCK 0140000

/* fd -> struct sock of the current task (0 if fd is not a socket it has open). */
static __always_inline __u64 fd_to_sock(__u32 fd)
{
	/* A BTF task pointer: the walk to the fd array is plain loads, not helper calls
	 * (bpf_get_current_task_btf, 5.11). */
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = task->files->fdt;
	struct file **fds = fdt->fd;
	struct socket *sock;
	struct file *file;

	if (fd >= fdt->max_fds || bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return 0;
	/* Another file's private_data is no struct socket: what it would read as a socket
	 * is not in flows, but an SSL call takes the first socket its thread moves bytes on
	 * whether or not it is a service's (a log or pipe write inside the call would name
	 * garbage as the SSL *'s socket). */
	if ((BPF_CORE_READ(file, f_inode, i_mode) & FP_S_IFMT) != FP_S_IFSOCK)
		return 0;
	sock = BPF_CORE_READ(file, private_data);
	return (__u64)BPF_CORE_READ(sock, sk);
}

static __always_inline int save(__u32 fd, __u64 buf, __u32 iovcnt, __u8 how, __u8 dir)
{
	struct l7_args *a;

	if (!task_watched())
		return 0;
	a = args_new();
	if (!a)
		return 0;
	a->buf = buf;
	a->fd = fd;
	a->iovcnt = iovcnt;
	a->how = how;
	a->dir = dir;
	if (dir == FP_TX)
		a->enter_ns = bpf_ktime_get_ns();
	a->valid = 1;
	return 0;
}

/* Copy up to cap bytes of what the syscall moved into e->data; *tail gets the user
 * address of the last FP_L7_SNIP_BYTES moved when they lie in one buffer. */
static __always_inline __u32 copy_prefix(struct fp_l7_event *e, const struct l7_args *a,
					 __u64 moved, __u32 cap, __u64 *tail)
{
	__u64 want = moved < cap ? moved : cap, acc = 0;
	__u32 got = 0;
	struct iovec iov[FP_L7_MAX_IOV];
	__u64 base = a->buf, cnt = a->iovcnt;
	int i;

	if (want > FP_L7_CAP_MAX)
		want = FP_L7_CAP_MAX;
	/* The mask restates the clamp for the verifier (the compiler would drop it
	 * otherwise); the scratch value has FP_L7_CAP_MAX bytes of slack after data. */
	barrier_var(want);
	want &= 2 * FP_L7_CAP_MAX - 1;
	if (a->how == ARGS_BUF) {
		*tail = base + moved - FP_L7_SNIP_BYTES;
		if (bpf_probe_read_user(e->data, want, (void *)base))
			return 0;
		return want;
	}
	if (a->how == ARGS_MSG) {
		struct user_msghdr msg;

		if (bpf_probe_read_user(&msg, sizeof(msg), (void *)base))
			return 0;
		base = (__u64)msg.msg_iov;
		cnt = msg.msg_iovlen;
	}
	if (cnt > FP_L7_MAX_IOV)
		cnt = FP_L7_MAX_IOV;
	if (bpf_probe_read_user(iov, sizeof(iov[0]) * FP_L7_MAX_IOV, (void *)base) &&
	    bpf_probe_read_user(iov, sizeof(iov[0]), (void *)base))
		return 0;
	/* the buffer holding the last byte moved */
	for (i = 0; i < FP_L7_MAX_IOV; i++) {
		if (i >= cnt)
			break;
		if (moved <= acc + iov[i].iov_len) {
			if (moved - acc >= FP_L7_SNIP_BYTES)
				*tail = (__u64)iov[i].iov_base + (moved - acc) - FP_L7_SNIP_BYTES;
			break;
		}
		acc += iov[i].iov_len;
	}
	for (i = 0; i < FP_L7_MAX_IOV; i++) {
		__u32 n, off = got;

		if (i >= cnt || got >= want)
			break;
		n = iov[i].iov_len < want - got ? iov[i].iov_len : want - got;
		if (off >= FP_L7_CAP_MAX || n >= FP_L7_CAP_MAX || !n)
			break;
		/* masks: the verifier needs both bounds on these very registers */
		if (bpf_probe_read_user(e->data + (off & (FP_L7_CAP_MAX - 1)),
					n & (FP_L7_CAP_MAX - 1), iov[i].iov_base))
			break;
		got += n;
	}
	return got;
}

struct walk {
	struct fp_l7_event *e;
	struct frame_state *st;
	__u64 buf;
	__u32 ret;
	__u32 pos;
	__u16 nsnip;
};

/* One step of the walk (bpf_loop callback: the verifier walks it once). 1 stops. */
static long walk_step(__u32 i, void *ctx)
{
	struct walk *w = ctx;
	struct frame_state *st = w->st;
	struct fp_l7_event *e = w->e;
	__u32 pos = w->pos, ret = w->ret, n;
	__u64 cnt, idx;

	if (pos >= ret || st->phase == PH_DEAD)
		return 1;
	if (st->phase == PH_ADV_BODY || st->phase == PH_BODY) {
		n = ret - pos < st->skip ? ret - pos : st->skip;
		w->pos = pos + n;
		st->skip -= n;
		if (!st->skip)
			st->phase = st->phase == PH_ADV_BODY ? PH_VERSION : PH_LEN;
		return 0;
	}
	if (st->phase == PH_VERSION) {
		w->pos = pos + 1;
		st->phase = PH_LEN;
		return 0;
	}
	/* A length field starts here. Past the prefix, keep the frame's first bytes: they
	 * hold the length field too. Inside the prefix, the copy holds it. The buffer is
	 * read only for what neither has. */
	if (!st->have && pos >= e->cap) {
		if (w->nsnip >= FP_L7_SNIPS)
			return 1; /* the caller stops the walk: see walk_frames */
		struct fp_l7_snip *sn;

		idx = e->cap + w->nsnip * sizeof(*sn);
		barrier_var(idx);
		idx &= 2 * FP_L7_CAP_MAX - 1;
		if (idx > 2 * FP_L7_CAP_MAX - 2 * sizeof(*sn))
			return 1;
		sn = (void *)(e->data + idx);
		sn->off = pos;
		cnt = ret - pos < FP_L7_SNIP_BYTES ? ret - pos : FP_L7_SNIP_BYTES;
		barrier_var(cnt);
		cnt &= 15;
		if (bpf_probe_read_user(sn->bytes, cnt, (void *)(w->buf + pos)))
			return 1;
		w->nsnip++;
		if (cnt >= 4) {
			__builtin_memcpy(st->len, sn->bytes, 4);
			st->have = 4;
			pos += 4;
			goto have_len;
		}
	}
	idx = pos;
	barrier_var(idx);
	idx &= FP_L7_CAP_MAX - 1;
	if (!st->have && ret - pos >= 4) {
		if (pos + 4 <= e->cap)
			__builtin_memcpy(st->len, e->data + idx, 4);
		else if (bpf_probe_read_user(st->len, 4, (void *)(w->buf + pos)))
			return 1;
		st->have = 4;
		pos += 4;
	} else {
		if (pos < e->cap)
			st->len[st->have & 3] = e->data[idx];
		else if (bpf_probe_read_user(&st->len[st->have & 3], 1, (void *)(w->buf + pos)))
			return 1;
		st->have++;
		pos++;
	}
have_len:
	w->pos = pos;
	if (st->have >= 4) {
		n = (__u32)st->len[0] << 24 | (__u32)st->len[1] << 16 | (__u32)st->len[2] << 8 |
		    st->len[3];
		st->have = 0;
		if (n > MAX_FRAME) {
			st->phase = PH_DEAD;
			return 1;
		}
		st->skip = n;
		if (st->phase == PH_ADV_LEN)
			st->phase = n ? PH_ADV_BODY : PH_VERSION;
		else
			st->phase = n ? PH_BODY : PH_LEN;
	}
	return 0;
}

static __always_inline void walk_frames(struct fp_l7_event *e, __u64 buf, __u32 ret,
					__u64 sk, __u64 conn_start, __u8 dir)
{
	struct frame_key k = { .sk = sk, .conn_start = conn_start, .dir = dir };
	struct frame_state init = {};
	struct walk w = { .e = e, .buf = buf, .ret = ret };

	w.st = bpf_map_lookup_elem(&l7_frames, &k);
	if (!w.st) {
		bpf_map_update_elem(&l7_frames, &k, &init, BPF_NOEXIST);
		w.st = bpf_map_lookup_elem(&l7_frames, &k);
		if (!w.st)
			return;
	}
	bpf_loop(WALK_STEPS, walk_step, &w, 0);
	/* out of steps or snippets inside this buffer: the boundaries after it are
	 * unknown, stop rather than hand out wrong ones */
	if (w.pos < ret && w.st->phase != PH_DEAD)
		w.st->phase = PH_DEAD;
	e->nsnip = w.nsnip;
}

/* The buffer's last bytes as one snippet after the prefix (from offset ret - 12: a call
 * a few bytes longer than the prefix has them in both). */
static __always_inline void add_tail(struct fp_l7_event *e, __u64 tail, __u32 ret)
{
	struct fp_l7_snip *sn;
	__u64 idx = e->cap;

	barrier_var(idx);
	idx &= 2 * FP_L7_CAP_MAX - 1;
	if (idx > 2 * FP_L7_CAP_MAX - 2 * sizeof(*sn))
		return;
	sn = (void *)(e->data + idx);
	sn->off = ret - FP_L7_SNIP_BYTES;
	if (!bpf_probe_read_user(sn->bytes, FP_L7_SNIP_BYTES, (void *)tail))
		e->nsnip = 1;
}

/* The last bytes of one buffer, right after the prefix (FP_L7_TAIL): where a pipelined
 * message's head or a chunked body's end lies. */
static __always_inline void add_tail_bytes(struct fp_l7_event *e, __u64 buf, __u32 ret)
{
	__u64 idx = e->cap, n = ret - e->cap;

	if (n > FP_L7_TAIL_BYTES)
		n = FP_L7_TAIL_BYTES;
	barrier_var(idx);
	idx &= 2 * FP_L7_CAP_MAX - 1;
	if (idx > 2 * FP_L7_CAP_MAX - FP_L7_TAIL_BYTES)
		return;
	barrier_var(n);
	if (!n || n > FP_L7_TAIL_BYTES)
		return;
	if (!bpf_probe_read_user(e->data + idx, n, (void *)(buf + ret - n)))
		e->tail = n;
}

/* A record of what the call moved on socket sk (a flow of an L7 service) into the ring. */
static __always_inline void capture(__u64 sk, const struct fp_flow_ref *f,
				    const struct fp_l7_svc *on, const struct l7_args *a,
				    long ret, __u8 type, __u64 order_ns)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct l7_scratch *scratch;
	struct fp_l7_event *e;
	__u64 size, tail = 0;

	scratch = bpf_map_lookup_elem(&l7_scratch, &cpu);
	if (!scratch)
		return;
	e = &scratch->e;
	e->ts_ns = bpf_ktime_get_ns();
	e->order_ns = a->dir == FP_TX && order_ns ? order_ns : e->ts_ns;
	e->sk = sk;
	e->conn_start = f->start_ns;
	e->len = ret;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->svc = f->svc;
	e->kind = f->kind;
	e->dir = a->dir;
	e->type = type;
	e->nsnip = 0;
	e->tail = 0;
	e->flags = 0;
	e->sndq = on->sndq ? sndq_sample(sk, f->start_ns, on->sndq & FP_L7_SNDQ_KEEP) : 0;
	e->cap = type == FP_L7_DATA ? copy_prefix(e, a, ret, on->cap, &tail) : 0;
	if (on->mode == FP_L7_LENGTH_PREFIXED && type == FP_L7_DATA && a->how == ARGS_BUF)
		walk_frames(e, a->buf, ret, sk, f->start_ns, a->dir);
	else if (on->mode == FP_L7_TAIL && type == FP_L7_DATA && a->how == ARGS_BUF &&
		 ret > e->cap)
		add_tail_bytes(e, a->buf, ret);
	else if (on->mode == FP_L7_TAIL && tail && ret > e->cap) /* it may overlap the prefix */
		add_tail(e, tail, ret);
	size = offsetof(struct fp_l7_event, data) + e->cap + e->tail +
	       e->nsnip * sizeof(struct fp_l7_snip);
	barrier_var(size);
	size &= 4 * FP_L7_CAP_MAX - 1; /* a power-of-two mask >= the scratch, then clamped */
	/* prefix + snippets: both can be at their maximum; the record ends with the slack */
	if (size > offsetof(struct l7_scratch, records))
		size = offsetof(struct l7_scratch, records);
	/* Batched wakeups, as for the lifecycle ring; the fill is a cache line the consumer
	 * writes, read at every 8th record of a CPU (a wakeup comes at most 7 records
	 * late; the daemon drains every 100 ms anyway). */
	if (bpf_ringbuf_output(&l7_events, e, size,
			       ++scratch->records & 7 ?
				       BPF_RB_NO_WAKEUP :
				       rb_wakeup_flags(&l7_events, FP_L7_RINGBUF_BYTES / 8)))
		map_inc(&l7_stats, 0);
}

/* The thread's state (l7_ssl): its SSL call, whether its process is watched. */
static __always_inline struct fp_l7_ssl_call *thread_state(void)
{
	return bpf_task_storage_get(&l7_ssl, bpf_get_current_task_btf(), 0, 0);
}

/* The thread's SSL call in progress (bpf/tls.bpf.c), NULL outside one. */
static __always_inline struct fp_l7_ssl_call *ssl_call(struct fp_l7_ssl_call *t)
{
	return t && t->ssl ? t : NULL;
}

static __always_inline int emit(long ret, __u8 type)
{
	struct fp_l7_ssl_call *call;
	struct l7_args *a;
	struct fp_flow_ref f;
	struct fp_l7_svc *on;
	__u32 svc;
	__u64 sk;

	/* every task's syscalls come here: the cheapest test first (a hash miss costs less
	 * than the task-storage lookup) */
	if (!task_watched())
		return 0;
	a = args_take();
	if (!a)
		return 0;
	if (ret <= 0)
		return 0;
	sk = fd_to_sock(a->fd);
	/* Ciphertext of an SSL call: the call's return emits the plaintext instead, for
	 * the socket recorded here (whatever it is: the return decides). */
	call = sk ? ssl_call(thread_state()) : 0;
	if (call) {
		if (!call->sk)
			call->sk = sk;
		return 0;
	}
	if (!sk || !flow_ref(sk, &f))
		return 0;
	svc = f.svc;
	on = bpf_map_lookup_elem(&l7_svc, &svc);
	/* The local-peer client end of a connection is parsed from its server end. */
	if (!on || !on->mode || f.kind == FP_KIND_CLIENT_LOCALPEER)
		return 0;
	capture(sk, &f, on, a, ret, type, a->enter_ns);
	return 0;
}

/*
 * The record of a syscalls/sys_{enter,exit}_* event is syscall_trace_enter/exit (the
 * syscall number is an int after the common header, then the arguments or the return
 * value), not trace_event_raw_sys_enter/exit (raw_syscalls' events, a long id). The two
 * agree only while the common header is 8 bytes: PREEMPT_RT kernels add a byte to it,
 * and there the raw_syscalls layout would read every argument one slot off (and the
 * kernel refuses the attach: the return value would lie past the record).
 */
#define ENTER(name, fd, buf, cnt, how, dir)                                               \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                        \
	int enter_##name(struct syscall_trace_enter *ctx)                                  \
	{                                                                                  \
		return save(fd, buf, cnt, how, dir);                                       \
	}
#define EXIT(name, type)                                                                   \
	SEC("tracepoint/syscalls/sys_exit_" #name)                                         \
	int exit_##name(struct syscall_trace_exit *ctx)                                    \
	{                                                                                  \
		return emit(ctx->ret, type);                                               \
	}

ENTER(write, ctx->args[0], ctx->args[1], 0, ARGS_BUF, FP_TX)
EXIT(write, FP_L7_DATA)
ENTER(read, ctx->args[0], ctx->args[1], 0, ARGS_BUF, FP_RX)
EXIT(read, FP_L7_DATA)
ENTER(writev, ctx->args[0], ctx->args[1], ctx->args[2], ARGS_IOV, FP_TX)
EXIT(writev, FP_L7_DATA)
ENTER(readv, ctx->args[0], ctx->args[1], ctx->args[2], ARGS_IOV, FP_RX)
EXIT(readv, FP_L7_DATA)
ENTER(sendto, ctx->args[0], ctx->args[1], 0, ARGS_BUF, FP_TX)
EXIT(sendto, FP_L7_DATA)
/* recvfrom(fd, buf, len, flags, ...), recvmsg(fd, msg, flags): a MSG_PEEK read is not
 * captured (see sock_recv_exit). */
SEC("tracepoint/syscalls/sys_enter_recvfrom")
int enter_recvfrom(struct syscall_trace_enter *ctx)
{
	if (ctx->args[3] & FP_MSG_PEEK)
		return 0;
	return save(ctx->args[0], ctx->args[1], 0, ARGS_BUF, FP_RX);
}
EXIT(recvfrom, FP_L7_DATA)
ENTER(sendmsg, ctx->args[0], ctx->args[1], 0, ARGS_MSG, FP_TX)
EXIT(sendmsg, FP_L7_DATA)
SEC("tracepoint/syscalls/sys_enter_recvmsg")
int enter_recvmsg(struct syscall_trace_enter *ctx)
{
	if (ctx->args[2] & FP_MSG_PEEK)
		return 0;
	return save(ctx->args[0], ctx->args[1], 0, ARGS_MSG, FP_RX);
}
EXIT(recvmsg, FP_L7_DATA)
/* sendfile(out_fd, in_fd, ...): bytes only */
ENTER(sendfile64, ctx->args[0], 0, 0, ARGS_NONE, FP_TX)
EXIT(sendfile64, FP_L7_ACCOUNT)

/* splice(fd_in, off_in, fd_out, ...): a socket on either side; bytes only. The output
 * side is tried first (a proxy splicing into a service socket). */
SEC("tracepoint/syscalls/sys_enter_splice")
int enter_splice(struct syscall_trace_enter *ctx)
{
	__u64 out = fd_to_sock(ctx->args[2]), key = out;

	if (!task_watched())
		return 0;
	if (out && bpf_map_lookup_elem(&flows, &key))
		return save(ctx->args[2], 0, 0, ARGS_NONE, FP_TX);
	return save(ctx->args[0], 0, 0, ARGS_NONE, FP_RX);
}
EXIT(splice, FP_L7_ACCOUNT)

/*
 * Watch a task once it holds a socket of an L7 service: after connect() (0 or
 * EINPROGRESS) and after accept()/accept4() returns the new fd. Workers of a pre-fork
 * server are caught by their own accept().
 */
static __always_inline int watch_if_l7(__u32 fd)
{
	__u64 sk = fd_to_sock(fd);
	__u32 tgid = bpf_get_current_pid_tgid() >> 32, svc;
	struct fp_flow *f = sk ? bpf_map_lookup_elem(&flows, &sk) : 0;
	struct fp_l7_svc *on;
	__u8 one = 1;

	if (!f)
		return 0;
	svc = f->svc;
	on = bpf_map_lookup_elem(&l7_svc, &svc);
	if (on && on->mode)
		bpf_map_update_elem(&l7_tasks, &tgid, &one, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_connect")
int enter_connect(struct syscall_trace_enter *ctx)
{
	struct l7_args *a = args_new();

	if (!a)
		return 0;
	a->fd = ctx->args[0];
	a->how = ARGS_NONE;
	a->valid = 1;
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int exit_connect(struct syscall_trace_exit *ctx)
{
	struct l7_args *a = args_take();

	if (!a)
		return 0;
	if (ctx->ret == 0 || ctx->ret == -115 /* EINPROGRESS */)
		watch_if_l7(a->fd);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int exit_accept4(struct syscall_trace_exit *ctx)
{
	return ctx->ret >= 0 ? watch_if_l7(ctx->ret) : 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int exit_accept(struct syscall_trace_exit *ctx)
{
	return ctx->ret >= 0 ? watch_if_l7(ctx->ret) : 0;
}

SEC("tracepoint/sched/sched_process_exit")
int task_exit(void *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	/* The process ends with its last thread (do_exit counted it out of signal->live
	 * before this tracepoint), whichever thread that is: a leader that exits first
	 * leaves the others serving. */
	if (!task->signal->live.counter && bpf_map_lookup_elem(&l7_tasks, &tgid))
		bpf_map_delete_elem(&l7_tasks, &tgid);
	return 0;
}

/*
 * Socket hooks. sock_send_length and sock_recv_length fire as every sendmsg/recvmsg of a
 * socket returns (write, read, their vector forms, send*, recv*, sendfile and splice
 * alike), in the task that made the call; tcp_sendmsg_locked fires before a TCP send
 * queues anything, once per segment-sized round of one call.
 */

/* x86-64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl) */
enum {
	NR_READ = 0,
	NR_WRITE = 1,
	NR_READV = 19,
	NR_WRITEV = 20,
	NR_SENDTO = 44,
	NR_RECVFROM = 45,
	NR_SENDMSG = 46,
	NR_RECVMSG = 47,
};

/* Does the current task's fd name socket sk? One read of the fd array, compared with
 * the socket's own file: a file that is no socket is never sk's. */
static __always_inline bool fd_names(__u32 fd, const struct sock *sk)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = task->files->fdt;
	struct socket *sock = sk->sk_socket;
	struct file *file;

	if (!sock || fd >= fdt->max_fds ||
	    bpf_probe_read_kernel(&file, sizeof(file), &fdt->fd[fd]))
		return false;
	return file && file == sock->file;
}

/*
 * The buffer of the syscall in progress, from the task's user registers (the syscall's
 * number and arguments as it entered): ARGS_NONE for any other way in (sendfile, splice,
 * io_uring, a kernel thread), whose bytes are accounted without a prefix. The fd must
 * name sk itself, so that a socket moved by the kernel inside an unrelated syscall never
 * takes that syscall's buffer. The registers are a BTF pointer: plain loads.
 */
static __always_inline void args_from_regs(struct l7_args *a, const struct sock *sk, __u8 dir)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	long nr = regs->orig_ax;
	__u8 how = ARGS_NONE;

	a->dir = dir;
	a->iovcnt = 0;
	if (dir == FP_TX) {
		if (nr == NR_WRITE || nr == NR_SENDTO)
			how = ARGS_BUF;
		else if (nr == NR_WRITEV)
			how = ARGS_IOV;
		else if (nr == NR_SENDMSG)
			how = ARGS_MSG;
	} else {
		if (nr == NR_READ || nr == NR_RECVFROM)
			how = ARGS_BUF;
		else if (nr == NR_READV)
			how = ARGS_IOV;
		else if (nr == NR_RECVMSG)
			how = ARGS_MSG;
	}
	if (how != ARGS_NONE) {
		a->fd = regs->di;
		if (!fd_names(a->fd, sk))
			how = ARGS_NONE;
	}
	a->buf = regs->si;
	if (how == ARGS_IOV)
		a->iovcnt = regs->dx;
	a->how = how;
}

/* Watch the process once it moves bytes on a socket of an L7 service: its SSL_read and
 * SSL_write calls are then followed (bpf/tls.bpf.c). t: the thread's l7_ssl storage, if
 * it has one; a thread that found its process there once does not look again. */
static __always_inline void watch_task(struct fp_l7_ssl_call *t)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u8 one = 1;

	if (t && t->watched == tgid)
		return;
	if (!bpf_map_lookup_elem(&l7_tasks, &tgid) &&
	    bpf_map_update_elem(&l7_tasks, &tgid, &one, BPF_ANY))
		return;
	t = t ?: bpf_task_storage_get(&l7_ssl, bpf_get_current_task_btf(), 0,
				      BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (t)
		t->watched = tgid;
}

/* order_ns: a send's start, 0 if unknown (the record's own time is its key then).
 * t: the thread's state, looked up by the caller. */
static __always_inline int sock_io(struct sock *sk, int ret, __u8 dir, __u64 order_ns,
				   struct fp_l7_ssl_call *t)
{
	struct fp_l7_ssl_call *call = ssl_call(t);
	struct l7_args a = {};
	struct fp_flow_ref f;
	struct fp_l7_svc *on;
	__u32 svc;

	if (!flow_ref((__u64)sk, &f)) {
		/* an SSL call on a socket of no service: named, so that its return is
		 * known to be no service's (and not counted as an unknown socket) */
		if (call && call->buf && !call->sk)
			call->sk = (__u64)sk;
		return 0;
	}
	/* Ciphertext of an SSL call: the call's return emits the plaintext instead. */
	if (call) {
		if (!call->sk)
			call->sk = (__u64)sk;
		watch_task(t);
		return 0;
	}
	/* The local-peer client end of a connection is parsed from its server end (its
	 * process is watched through its SSL calls above, if it makes any: their plaintext
	 * is not captured either). */
	if (f.kind == FP_KIND_CLIENT_LOCALPEER)
		return 0;
	svc = f.svc;
	on = bpf_map_lookup_elem(&l7_svc, &svc);
	if (!on || !on->mode)
		return 0;
	watch_task(t);
	args_from_regs(&a, sk, dir);
	capture((__u64)sk, &f, on, &a, ret, a.how == ARGS_NONE ? FP_L7_ACCOUNT : FP_L7_DATA,
		order_ns);
	return 0;
}

/* A TCP send's start: its record's order key (the write's entry, as for the syscall
 * path), kept in the thread's state. Later rounds of the same call find the key set for
 * their socket. Only a send that will be captured needs it: a socket of an L7 service,
 * not the local-peer client end (parsed from its server end), nor a server end whose
 * records userspace takes as they come. */
static __always_inline int send_start(struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct fp_l7_ssl_call *t;
	struct fp_l7_svc *on;
	struct fp_flow *f;
	__u32 svc;

	f = bpf_map_lookup_elem(&flows, &key);
	if (!f || f->kind == FP_KIND_CLIENT_LOCALPEER)
		return 0;
	svc = f->svc;
	on = bpf_map_lookup_elem(&l7_svc, &svc);
	if (!on || !on->mode || (on->server_in_order && f->kind == FP_KIND_SERVER))
		return 0;
	t = bpf_task_storage_get(&l7_ssl, bpf_get_current_task_btf(), 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!t || t->send_sk == key)
		return 0;
	t->send_sk = key;
	t->send_ns = bpf_ktime_get_ns();
	return 0;
}

static __always_inline int send_end(struct sock *sk, int ret)
{
	struct fp_l7_ssl_call *t;
	__u64 order_ns = 0;

	/* every socket's sends come here: a UNIX or UDP one stops at the first test */
	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	t = thread_state();
	if (t && t->send_sk) { /* the send is over, whatever it returned */
		if (t->send_sk == (__u64)sk)
			order_ns = t->send_ns;
		t->send_sk = 0;
	}
	if (ret <= 0)
		return 0;
	return sock_io(sk, ret, FP_TX, order_ns, t);
}

SEC("tp_btf/tcp_sendmsg_locked")
int BPF_PROG(sock_send_enter, struct sock *sk)
{
	return send_start(sk);
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(sock_send_exit, struct sock *sk, int ret)
{
	return send_end(sk, ret);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(sock_recv_exit, struct sock *sk, int ret, int flags)
{
	if (flags & FP_MSG_PEEK || ret <= 0 || sk->sk_protocol != IPPROTO_TCP)
		return 0;
	return sock_io(sk, ret, FP_RX, 0, thread_state());
}

/*
 * The send queue of each established socket of a service that asks for it, read when
 * userspace runs the iterator (at each scrape): the queue drains with ACKs that no
 * syscall of the owner observes. The key is the socket's address.
 */
SEC("iter/bpf_map_elem")
int dump_sndq(struct bpf_iter__bpf_map_elem *ctx)
{
	struct fp_flow *f = ctx->value;
	struct fp_l7_sndq r = {};
	struct fp_l7_svc *on;
	struct tcp_sock *tp;
	__u64 *key = ctx->key;
	__u32 svc, w, u;

	if (!key || !f || !f->established)
		return 0;
	svc = f->svc;
	on = bpf_map_lookup_elem(&l7_svc, &svc);
	if (!on || !on->sndq)
		return 0;
	tp = (struct tcp_sock *)*key;
	if (bpf_probe_read_kernel(&w, sizeof(w), &tp->write_seq) ||
	    bpf_probe_read_kernel(&u, sizeof(u), &tp->snd_una))
		return 0;
	r.sk = *key;
	r.conn_start = f->start_ns;
	r.sndq = w - u;
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}
