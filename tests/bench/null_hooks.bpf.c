// SPDX-License-Identifier: GPL-2.0-only
/*
 * Empty programs on the BTF tracepoints that fogprobe's default chain attaches on a
 * kernel that has them (socket calls, the TCP lifecycle, drops, the scheduler), attached
 * by tests/bench/tp_floor.c: what the attach mechanism alone costs the unrelated load of
 * tests/bench/bench.sh (every socket call and context switch of every task runs a
 * program, whatever it then does), against which the daemon's programs on the same hooks
 * can be read. No headers on purpose: built with plain `clang -target bpf`; libbpf
 * finds each tracepoint in the kernel's BTF by the section name.
 */
#define NULL_BTF(tp)                                                                       \
	__attribute__((section("tp_btf/" #tp), used)) int null_##tp(void *ctx)              \
	{                                                                                  \
		(void)ctx;                                                                 \
		return 0;                                                                  \
	}

NULL_BTF(sock_send_length)
NULL_BTF(sock_recv_length)
NULL_BTF(tcp_sendmsg_locked)
NULL_BTF(sched_switch)
NULL_BTF(inet_sock_set_state)
NULL_BTF(tcp_destroy_sock)
NULL_BTF(tcp_retransmit_skb)
NULL_BTF(tcp_receive_reset)
NULL_BTF(kfree_skb)

__attribute__((section("license"), used)) char LICENSE[] = "GPL";
