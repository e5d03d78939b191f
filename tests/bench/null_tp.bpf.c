// SPDX-License-Identifier: GPL-2.0-only
/*
 * Empty programs on the syscall tracepoints that tests/bench/bench.sh's unrelated load
 * (dd | cat, a socketpair ping-pong) goes through, attached by tests/bench/tp_floor.c:
 * the cost of the attach mechanism alone (every syscall of every task takes the traced
 * path once one syscall tracepoint has a program), against which fogprobe's l7 programs
 * (bpf/l7.bpf.c, same tracepoints) can be read.
 * No headers on purpose: built with plain `clang -target bpf`.
 */
#define NULL_TP(sys)                                                                       \
	__attribute__((section("tracepoint/syscalls/sys_enter_" #sys), used)) int          \
	null_enter_##sys(void *ctx)                                                        \
	{                                                                                  \
		(void)ctx;                                                                 \
		return 0;                                                                  \
	}                                                                                  \
	__attribute__((section("tracepoint/syscalls/sys_exit_" #sys), used)) int           \
	null_exit_##sys(void *ctx)                                                         \
	{                                                                                  \
		(void)ctx;                                                                 \
		return 0;                                                                  \
	}

NULL_TP(write)
NULL_TP(read)
NULL_TP(sendto)
NULL_TP(recvfrom)

__attribute__((section("license"), used)) char LICENSE[] = "GPL";
