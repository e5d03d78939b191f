#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Loss: nftables drops a random share of the packets reaching the receiver. Ground
# truth: the nft rule's own counter (drops), nstat TcpRetransSegs of both namespaces
# (retransmitted segments), and for one connection held open, ss -ti (bytes_retrans and
# total_retrans of each end). The rule marks what it drops: bpftrace, an independent
# program on the kernel's skb:kfree_skb tracepoint, counts the marked packets the kernel
# reported there, which the probe must reach (bpf/README.md, "What no counter covers").
. "$(dirname "$0")/lib.sh"

setup_netns
start_daemon '{"services": [{"name": "bulk", "protocol": "tcp", "ports": [5301]}]}' || exit 1

ns_srv nft add table inet fogprobe_test
MARK=0xf09
# The witness: every free the kfree_skb tracepoint reports of a packet the rule dropped.
# Without bpftrace (a kernel matrix guest) the cases fall back to nft's counter alone.
WITNESS=
command -v bpftrace >/dev/null && WITNESS=1
witness_start() {
	: >"$WORK/witness.out"
	bpftrace -e "tracepoint:skb:kfree_skb /((struct sk_buff *)args->skbaddr)->mark == $MARK/ { @drops = count(); }" \
		>"$WORK/witness.out" 2>&1 &
	WIT=$!
	CLEANUPS+=("kill $WIT")
	local i
	for i in $(seq 1 100); do
		grep -q '^Attaching' "$WORK/witness.out" && break
		sleep 0.1
	done
	sleep 1 # attached once it has printed that and loaded
}
# sets wit (not in a subshell: only this shell can wait for bpftrace to print and exit)
witness_stop() {
	kill -INT "$WIT" 2>/dev/null
	wait "$WIT" 2>/dev/null
	# the count map, printed as it exits (absent when it counted nothing)
	wit=$(awk '$1 == "@drops:" { n = $2 } END { print n + 0 }' "$WORK/witness.out")
}
nft_rule() {
	ns_srv nft -f - <<NFT
flush table inet fogprobe_test
table inet fogprobe_test {
	counter loss {}
	chain input {
		type filter hook input priority 0; policy accept;
		tcp dport 5301 numgen random mod 100 < $1 meta mark set $MARK counter name loss drop
	}
}
NFT
}
# short_within MISSING TOTAL PCT: MISSING <= PCT % of TOTAL
short_within() { awk -v m="$1" -v t="$2" -v p="$3" 'BEGIN { exit !(m <= t * p / 100) }'; }
nft_packets() { ns_srv nft -j list counter inet fogprobe_test loss | python3 -c 'import json,sys; d=json.load(sys.stdin)["nftables"]; print([x["counter"]["packets"] for x in d if "counter" in x][0])'; }

retrans_now() { echo $(($(nstat_of "$NS_CLI" TcpRetransSegs) + $(nstat_of "$NS_SRV" TcpRetransSegs))); }
# No socket of the test's port in a state that still sends (only TIME_WAIT or none).
quiet() {
	local ns
	for ns in "$NS_CLI" "$NS_SRV"; do
		ip netns exec "$ns" ss -Htan '( sport = :5301 or dport = :5301 )' |
			awk '$1 != "TIME-WAIT" { busy = 1 } END { exit busy }' || return 1
	done
}

# rate:mode. gso: veth carries 64 KiB GSO skbs, one drop costs many segments (only
# ~400 skbs per run: at 1 % a run without any drop is too likely, hence 3 %);
# mss: gso_max_size 1500, every skb is one segment as on a physical link.
for case in ${LOSS_CASES:-3:gso 7:gso 2:mss 10:mss}; do
	rate=${case%%:*}
	mode=${case##*:}
	gso=65536
	[[ $mode == mss ]] && gso=1500
	ns_cli ip link set "fpc$ID" gso_max_size $gso
	ns_srv ip link set "fps$ID" gso_max_size $gso
	echo "loss rate $rate% ($mode)"
	ns_srv nft reset counter inet fogprobe_test loss >/dev/null 2>&1
	nft_rule "$rate"
	d0=$(metric fogprobe_packet_drops_total 'service="bulk",reason="NETFILTER_DROP"')
	h0=$(metric fogprobe_host_packet_drops_total 'reason="NETFILTER_DROP"')
	u0=$(metric fogprobe_host_packet_drops_total 'reason="NOT_SPECIFIED"')
	scrape | grep '^fogprobe_host_packet_drops_total' >"$WORK/host.before"
	m0=$(metric fogprobe_events_lost_total 'reason="bpf_recursion"')
	sd0=$(metric fogprobe_bpf_program_misses_total 'program="handle_kfree_skb')
	sr0=$(metric fogprobe_bpf_program_misses_total 'program="handle_retransmit')
	r0=$(metric fogprobe_tcp_retransmits_total 'service="bulk"')
	n0=$(retrans_now)
	[[ -n $WITNESS ]] && witness_start
	nft0=$(nft_packets)
	ns_srv iperf3 -s -1 -p 5301 >/dev/null 2>&1 &
	SRV=$!
	wait_port "$NS_SRV" 5301
	ns_cli timeout 60 iperf3 -c "$SRV_IP" -p 5301 -n 24M >/dev/null 2>&1 || echo "    iperf3 did not finish"
	wait $SRV 2>/dev/null
	# A FIN lost at the end is retransmitted with backoff, seconds after iperf3 exits:
	# compare only once no socket of the port can send again, and the ground truth read
	# before and after the probe's figures agrees.
	drops= retr=
	for try in $(seq 1 40); do
		quiet || [[ $try -eq 40 ]] || { sleep 0.5; continue; }
		g0="$(nft_packets) $(retrans_now)"
		drops=$(($(metric fogprobe_packet_drops_total 'service="bulk",reason="NETFILTER_DROP"') - d0))
		retr=$(($(metric fogprobe_tcp_retransmits_total 'service="bulk"') - r0))
		g1="$(nft_packets) $(retrans_now)"
		[[ "$g0" == "$g1" ]] && break
	done
	read -r nft1 n1 <<<"$g1"
	nftp=$((nft1 - nft0))
	wit=
	[[ -n $WITNESS ]] && witness_stop
	nst=$((n1 - n0))
	host=$(($(metric fogprobe_host_packet_drops_total 'reason="NETFILTER_DROP"') - h0))
	# Printed in every case, so that a short case can be held against the exact ones: a
	# NETFILTER_DROP skb whose last reference were freed later would show here as
	# NOT_SPECIFIED (bpf/README.md: none of the unreported ones did).
	unspec=$(($(metric fogprobe_host_packet_drops_total 'reason="NOT_SPECIFIED"') - u0))
	skipped=$(($(metric fogprobe_events_lost_total 'reason="bpf_recursion"') - m0))
	skd=$(($(metric fogprobe_bpf_program_misses_total 'program="handle_kfree_skb') - sd0))
	skr=$(($(metric fogprobe_bpf_program_misses_total 'program="handle_retransmit') - sr0))
	echo "    nft dropped $nftp, the kfree_skb tracepoint reported ${wit:-(no bpftrace)} of them;" \
		"probe NETFILTER_DROP $drops (host-wide $host, NOT_SPECIFIED +$unspec);" \
		"nstat TcpRetransSegs $nst, probe $retr; program runs skipped $skipped" \
		"(drop program $skd, retransmit programs $skr)"
	# which programs the kernel skipped, exact or not
	[[ $skipped -gt 0 ]] &&
		scrape | grep '^fogprobe_bpf_program_misses_total' | grep -v ' 0$' | sed 's/^/    /'
	if [[ $drops -ne $nftp || $retr -ne $nst ]]; then
		# where the difference went: every reason's host-wide change, and the same
		# counters a second later (a count that arrives late is not a count that is lost)
		sleep 1
		echo "    a second later: nft $(($(nft_packets) - nft0)), probe NETFILTER_DROP" \
			"$(($(metric fogprobe_packet_drops_total 'service="bulk",reason="NETFILTER_DROP"') - d0))"
		scrape | grep '^fogprobe_host_packet_drops_total' |
			awk 'NR == FNR { b[$1] = $2; next } $2 - b[$1] > 0 { printf "    host drops %s +%d\n", $1, $2 - b[$1] }' \
				"$WORK/host.before" -
	fi
	# A run the kernel skipped (a classic tracepoint while another tracing program ran on
	# that CPU) is a loss the probe exports, by program. It bounds what the probe may have
	# missed, not what it did: a skipped kfree_skb run may have been any drop of the host.
	# So the truth must lie between what the probe counted and that count plus what the
	# skipped runs could have held, within the tolerance below. Retransmits of the
	# service's sockets are their own counters (total_retrans), which no skipped or
	# unreported run can shorten; a skipped SYN-ACK resend run held one segment.
	check "$rate% $mode: drops never above the nft counter" [ "$drops" -le "$nftp" ]
	check "$rate% $mode: retransmits never above nstat TcpRetransSegs" [ "$retr" -le "$nst" ]
	if [[ -n $WITNESS ]]; then
		# At least every drop the tracepoint reported to bpftrace (which may itself miss
		# some silently), but for the drop program's skipped runs (a run skipped on the
		# tracepoint fallback skips bpftrace's program too).
		check "$rate% $mode: bpftrace saw drops, never more than nft counted" \
			[ "${wit:-0}" -gt 0 -a "${wit:-0}" -le "$nftp" ]
		# (read again: bpftrace stopped after the figures above, and a drop in between
		# would be in its count)
		dw=$(($(metric fogprobe_packet_drops_total 'service="bulk",reason="NETFILTER_DROP"') - d0))
		check "$rate% $mode: probe's drops + the drop program's skipped runs >= bpftrace's" \
			[ "$((dw + skd))" -ge "${wit:-0}" ]
		# What the kernel did not report at all is printed above, not bounded: the
		# kernel's, not the probe's (bpf/README.md, "What no counter covers": 0 to
		# 0.4 % of nft's drops with no probe loaded, once 13 of 348 with it).
	else
		check "$rate% $mode: nft drops - probe's <= the drop program's skipped runs + 2%" \
			short_within "$((nftp - drops - skd))" "$nftp" 2
	fi
	check "$rate% $mode: nstat retransmits - probe's <= skipped retransmit runs" \
		[ "$((nst - retr))" -le "$skr" ]
	check "$rate% $mode: some loss happened" [ "$nftp" -gt 0 ]
done
# Retransmitted bytes against the kernel's own per-socket count (tcp_info bytes_retrans,
# as ss -ti prints it): one connection at HOLD_RATE % loss on MSS-sized segments, held
# open after its transfer so that ss can still read both ends.
HOLD='import os, socket, sys, time
mode, host, port, n, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
if mode == "recv":
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port))
    ls.listen(1)
    c, _ = ls.accept()
    got = 0
    while got < n:
        b = c.recv(1 << 16)
        if not b:
            break
        got += len(b)
    with open(path, "w") as f:
        f.write("%d\n" % got)
    while c.recv(1 << 16):  # until the sender closes
        pass
else:
    s = socket.create_connection((host, port))
    s.sendall(b"x" * n)
    while not os.path.exists(path):
        time.sleep(0.05)
    s.close()'
# both ends' established sockets of the port, summed: "bytes_retrans total_retrans
# bytes_sent bytes_received segs_out segs_in"
ss_counters() {
	local ns
	for ns in "$NS_CLI" "$NS_SRV"; do
		ip netns exec "$ns" ss -tinH state established '( sport = :5301 or dport = :5301 )'
	done | awk '{ for (i = 1; i <= NF; i++) {
		split($i, a, ":")
		if (a[1] == "retrans") { split($i, b, "[:/]"); r += b[3] }
		else if (a[1] in v || a[1] ~ /^(bytes_retrans|bytes_sent|bytes_received|segs_out|segs_in)$/) v[a[1]] += a[2] } }
		END { printf "%d %d %d %d %d %d\n", v["bytes_retrans"], r, v["bytes_sent"],
			v["bytes_received"], v["segs_out"], v["segs_in"] }'
}
# the service's bytes and segments: "tx rx segs_tx segs_rx"
probe_counters() {
	echo "$(metric fogprobe_tcp_bytes_total 'service="bulk",direction="tx"')" \
		"$(metric fogprobe_tcp_bytes_total 'service="bulk",direction="rx"')" \
		"$(metric fogprobe_tcp_segments_total 'service="bulk",direction="tx"')" \
		"$(metric fogprobe_tcp_segments_total 'service="bulk",direction="rx"')"
}
hold_rate=${HOLD_RATE:-10}
hold_bytes=${HOLD_BYTES:-8000000}
echo "one held connection, $hold_rate% loss (mss), $hold_bytes bytes"
ns_cli ip link set "fpc$ID" gso_max_size 1500
ns_srv ip link set "fps$ID" gso_max_size 1500
nft_rule "$hold_rate"
read -r tx0 rx0 stx0 srx0 <<<"$(probe_counters)"
rb0=$(metric fogprobe_tcp_retransmitted_bytes_total 'service="bulk"')
rs0=$(metric fogprobe_tcp_retransmits_total 'service="bulk"')
sr0=$(metric fogprobe_bpf_program_misses_total 'program="handle_retransmit')
sl0=$(metric fogprobe_bpf_program_misses_total 'program="handle_set_state')
ns_srv timeout 120 python3 -c "$HOLD" recv "$SRV_IP" 5301 "$hold_bytes" "$WORK/hold.got" &
RCV=$!
wait_port "$NS_SRV" 5301
ns_cli timeout 120 python3 -c "$HOLD" send "$SRV_IP" 5301 "$hold_bytes" "$WORK/hold.release" &
SND=$!
for i in $(seq 1 1200); do [[ -s "$WORK/hold.got" ]] && break; sleep 0.1; done
check "held connection: the receiver got every byte" eq "$(cat "$WORK/hold.got" 2>/dev/null)" "$hold_bytes"
for try in $(seq 1 40); do
	g0=$(ss_counters)
	rb=$(($(metric fogprobe_tcp_retransmitted_bytes_total 'service="bulk"') - rb0))
	rs=$(($(metric fogprobe_tcp_retransmits_total 'service="bulk"') - rs0))
	read -r tx rx stx srx <<<"$(probe_counters)"
	g1=$(ss_counters)
	[[ "$g0" == "$g1" ]] && break
	sleep 0.5
done
read -r sb sr ssent srecv sout sin <<<"$g1"
tx=$((tx - tx0)) rx=$((rx - rx0)) stx=$((stx - stx0)) srx=$((srx - srx0))
skr=$(($(metric fogprobe_bpf_program_misses_total 'program="handle_retransmit') - sr0))
echo "    ss -ti: bytes_retrans $sb, retransmits $sr; probe: $rb bytes, $rs segments;" \
	"retransmit program runs skipped $skr"
[[ $rb -eq $sb && $rs -eq $sr ]] || echo "    short by $((sr - rs)) segments, $((sb - rb)) bytes"
check "held connection: some bytes were retransmitted" [ "$sb" -gt 0 ]
check "held connection: retransmitted bytes never above ss -ti bytes_retrans" [ "$rb" -le "$sb" ]
check "held connection: retransmits never above ss -ti retrans (total_retrans)" [ "$rs" -le "$sr" ]
# The sockets' own counters, as for nstat above (total_retrans also counts the SYN-ACKs
# resent before the server end existed, from their own program).
check "held connection: retransmitted bytes == ss -ti bytes_retrans" eq "$rb" "$sb"
check "held connection: ss -ti retrans - probe's <= skipped retransmit runs" [ "$((sr - rs))" -le "$skr" ]
# Bytes and segments against the same sockets' tcp_info: equal with the kernel's
# counters (socket_counters: the flow iterator or sock_diag). Per packet too, but for the server end's
# SYN and last handshake ACK, which reach its listener, not its socket.
echo "    ss -ti: bytes_sent $ssent, bytes_received $srecv, segs_out $sout, segs_in $sin;" \
	"probe: $tx, $rx, $stx, $srx"
# A lifecycle run the kernel skipped (recursion_misses, exported by program): a skipped
# ESTABLISHED is made up at the socket's next packet, unless a data segment completed
# the handshake (its ACK lost: then the server end counts from that packet), and the
# classic tracepoint (the fallback) can skip a task's SYN_SENT too (the client end
# from its first packet): bpf/README.md. Then the counts may be short, never over.
skl=$(($(metric fogprobe_bpf_program_misses_total 'program="handle_set_state') - sl0))
same=eq rel="=="
if [[ $skl -gt 0 ]]; then
	echo "    lifecycle runs skipped: $skl (the counts below may be short, never over)"
	same=le rel="<="
fi
if [[ $(($(metric fogprobe_probe_attached 'feature="socket_counters",program="account_flows"') +
	$(metric fogprobe_probe_attached 'feature="socket_counters",program="account_diag"'))) == 1 ]]; then
	want_srx=$sin how="socket counters"
else
	want_srx=$((sin - 2)) how="per packet" # the server end's SYN and handshake ACK
fi
check "held connection: tx bytes $rel ss -ti bytes_sent" $same "$tx" "$ssent"
check "held connection: rx bytes $rel ss -ti bytes_received" $same "$rx" "$srecv"
check "held connection: tx segments $rel ss -ti segs_out" $same "$stx" "$sout"
check "held connection: rx segments $rel ss -ti segs_in ($how)" $same "$srx" "$want_srx"
if [[ "$tx $rx $stx $srx" != "$ssent $srecv $sout $want_srx" ]]; then
	# which end differs: each end's socket against the probe's series of its role
	for ns in "$NS_CLI" "$NS_SRV"; do
		echo "    ss in $ns: $(ip netns exec "$ns" ss -tinH state established '( sport = :5301 or dport = :5301 )' |
			grep -oE '(bytes_sent|bytes_received|segs_out|segs_in):[0-9]+' | tr '\n' ' ')"
	done
	scrape | grep -E '^fogprobe_tcp_(bytes|segments)_total\{service="bulk"' | sed 's/^/    /'
	scrape | grep -E '^fogprobe_(bpf_program_misses|events_lost)_total' | grep -v ' 0$' | sed 's/^/    /'
	echo "    (the probe's series include the connections before this one)"
fi
touch "$WORK/hold.release"
wait "$SND" "$RCV" 2>/dev/null

host=$(metric fogprobe_host_packet_drops_total 'reason="NETFILTER_DROP"')
check "host-wide NETFILTER_DROP >= the service's" [ "$host" -ge "$(metric fogprobe_packet_drops_total 'service="bulk",reason="NETFILTER_DROP"')" ]
finish
