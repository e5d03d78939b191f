/* SPDX-License-Identifier: GPL-2.0-only */
/* The kernel's per-socket TCP counters through sock_diag (NETLINK_SOCK_DIAG), in any
 * network namespace a process of this host is in: what `ss -ti` reads. */
#ifndef FP_COLLECT_SOCKDIAG_H
#define FP_COLLECT_SOCKDIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct diag_sock {
	uint8_t family; /* AF_INET (a v4-mapped pair of addresses included) or AF_INET6 */
	uint8_t state; /* TCP_ESTABLISHED, ... */
	uint16_t lport, rport; /* host order */
	uint8_t laddr[16], raddr[16]; /* IPv4 in the first 4 bytes */
	/* tcp_info */
	uint64_t bytes_sent, bytes_received, bytes_retrans;
	uint32_t segs_out, segs_in, total_retrans;
};

struct sockdiag;

/* Can the kernel dump TCP sockets with tcp_info's byte counters (Linux 4.19), and may
 * this process enter network namespaces (setns: CAP_SYS_ADMIN, no seccomp refusal)? */
bool sockdiag__available(void);
struct sockdiag *sockdiag__new(void);
void sockdiag__free(struct sockdiag *d);
/* Only sockets with one of these local or remote ports are dumped (a bytecode filter the
 * kernel runs), none when n is 0. Returns 0 or -errno. */
int sockdiag__ports(struct sockdiag *d, const uint16_t *ports, size_t n);
/* Start a sweep: namespaces not asked for until the next one are let go then. */
void sockdiag__begin(struct sockdiag *d);
/* Every TCP socket of network namespace netns (its inode number) that is neither
 * listening, nor in TIME_WAIT, SYN_RECV or CLOSE, passed to fn. The namespace is reached
 * through /proc/<pid_hint>/ns/net, or a search of /proc when that is not it. Returns
 * the sockets passed, or a negative errno (-ESRCH: no process found in it). */
int sockdiag__dump(struct sockdiag *d, uint32_t netns, uint32_t pid_hint,
		   void (*fn)(void *ctx, const struct diag_sock *s), void *ctx);
/* The same dump of every network namespace a process of this host is in, each once, fn
 * told the namespace. Returns the sockets passed (a namespace that cannot be reached
 * is left out and counted in *unreachable), or -errno if /proc cannot be read. */
int sockdiag__dump_all(struct sockdiag *d,
		       void (*fn)(void *ctx, uint32_t netns, const struct diag_sock *s), void *ctx,
		       unsigned *unreachable);

#endif
