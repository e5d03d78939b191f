// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "collect/collector.h"
#include "collect/l7.h"
#include "lib/log.h"

const struct collector_ops *const collectors[COLLECTORS_MAX] = {
	&tcp_collector_ops, /* the flow table every later one reads */
	&l7_collector_ops,
	&proc_collector_ops,
	&tls_collector_ops, /* feeds the L7 capture's ring */
};

size_t collectors__plan(struct hook *hooks, size_t max, const char *disable)
{
	size_t n = 0, i;

	for (i = 0; i < COLLECTORS_MAX; i++)
		n += collectors[i]->plan(hooks + n, max - n, disable);
	return n;
}

const char *collectors__btf_path(void)
{
	static const char path[] = "/sys/kernel/btf/vmlinux";

	return access(path, R_OK) == 0 ? path : NULL;
}

void collectors__probe(struct collector_env *env)
{
	env->sndq_iterator = l7__sndq_iterator(env->disable);
}

int collectors__open(struct collector_set *set, const struct collector_env *env)
{
	struct collector_env e = *env;
	size_t i;
	int err;

	memset(set, 0, sizeof(*set));
	e.set = set;
	for (i = 0; i < COLLECTORS_MAX; i++) {
		const struct collector_ops *ops = collectors[i];

		err = ops->open(&e, &set->inst[i]);
		if (!err)
			continue;
		set->inst[i] = NULL;
		if (!ops->unavailable) {
			pr_warn("cannot start the probe: %s (run `fogprobe check`)\n",
				strerror(-err));
			collectors__close(set);
			return err;
		}
		pr_warn("%s unavailable (%s): %s\n", ops->name, strerror(-err), ops->unavailable);
	}
	return 0;
}

void collectors__close(struct collector_set *set)
{
	size_t i;

	for (i = COLLECTORS_MAX; i-- > 0;) {
		collectors[i]->close(set->inst[i]);
		set->inst[i] = NULL;
	}
}

void *collectors__get(const struct collector_set *set, const struct collector_ops *ops)
{
	size_t i;

	for (i = 0; i < COLLECTORS_MAX; i++)
		if (collectors[i] == ops)
			return set->inst[i];
	return NULL;
}

int collectors__map_fd(const struct collector_set *set, const char *name)
{
	size_t i;
	int fd;

	for (i = 0; i < COLLECTORS_MAX; i++) {
		if (!set->inst[i] || !collectors[i]->map_fd)
			continue;
		fd = collectors[i]->map_fd(set->inst[i], name);
		if (fd >= 0)
			return fd;
	}
	return -ENOENT;
}

int collectors__watch(const struct collector_set *set, int epfd)
{
	size_t i;

	for (i = 0; i < COLLECTORS_MAX; i++) {
		struct epoll_event ev = { .events = EPOLLIN };
		int fd;

		if (!set->inst[i] || !collectors[i]->epoll_fd)
			continue;
		fd = collectors[i]->epoll_fd(set->inst[i]);
		if (fd >= 0 && epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev))
			return -errno;
	}
	return 0;
}

int collectors__consume(const struct collector_set *set)
{
	size_t i;
	int n;

	for (i = 0; i < COLLECTORS_MAX; i++) {
		if (!set->inst[i] || !collectors[i]->consume)
			continue;
		n = collectors[i]->consume(set->inst[i]);
		if (n < 0 && n != -EINTR && !collectors[i]->unavailable) {
			pr_warn("%s ring buffer: %s\n", collectors[i]->name, strerror(-n));
			return n;
		}
	}
	return 0;
}

void collectors__rescan(const struct collector_set *set)
{
	size_t i;

	for (i = 0; i < COLLECTORS_MAX; i++)
		if (set->inst[i] && collectors[i]->rescan)
			collectors[i]->rescan(set->inst[i]);
}

void collectors__each_hook(const struct collector_set *set,
			   void (*fn)(void *ctx, const struct hook *h), void *ctx)
{
	const struct hook *h;
	size_t i, j, n;

	for (i = 0; i < COLLECTORS_MAX; i++) {
		if (!set->inst[i])
			continue;
		n = collectors[i]->hooks(set->inst[i], &h);
		for (j = 0; j < n; j++)
			fn(ctx, &h[j]);
	}
}

size_t collectors__prog_stats(const struct collector_set *set, struct prog_stats *out,
			      size_t max)
{
	size_t i, n = 0;

	for (i = 0; i < COLLECTORS_MAX; i++)
		if (set->inst[i])
			n += collectors[i]->prog_stats(set->inst[i], out + n, max - n);
	return n;
}

void collectors__losses(const struct collector_set *set, const struct prog_stats *ps, size_t n,
			struct losses *l)
{
	uint64_t misses = 0;
	size_t i;

	for (i = 0; i < COLLECTORS_MAX; i++)
		if (set->inst[i] && collectors[i]->losses)
			collectors[i]->losses(set->inst[i], l);
	/* A tracing program does not run while another one runs on that CPU (an
	 * interrupt during a syscall hook): the kernel counts those runs. */
	for (i = 0; i < n; i++)
		misses += ps[i].recursion_misses;
	losses__set(l, LOSS_BPF_RECURSION, misses);
}
