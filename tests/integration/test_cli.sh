#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The command line contract: check, --version, --help, config errors (file:line:column,
# exit 2), and a clean stop on SIGTERM/SIGINT that leaves nothing attached.
. "$(dirname "$0")/lib.sh"

echo "fogprobe check"
out=$("$FOGPROBE" check 2>&1)
rc=$?
echo "$out" | sed 's/^/    /'
check "check exits 0 on this kernel" eq "$rc" 0
check "check lists the lifecycle hook as chosen" grep -q 'inet_sock_set_state.*chosen' <<<"$out"
out=$("$FOGPROBE" check --disable-hooks tp_btf,tracepoint/tcp 2>&1)
check "check with hooks disabled reports them" grep -q 'tracepoint/tcp/tcp_retransmit_skb .*disabled' <<<"$out"
out=$("$FOGPROBE" check --disable-hooks cgroup_skb 2>&1)
rc=$?
check "check exits non-zero when a required hook is missing" [ "$rc" -ne 0 ]
check "check names the missing required feature" grep -q 'REQUIRED' <<<"$out"

echo "version and help"
check "--version prints a version" grep -q '^fogprobe ' <<<"$("$FOGPROBE" --version)"
help=$("$FOGPROBE" --help)
for opt in --config --listen --log-format -v --version --help check; do
	check "--help mentions $opt" grep -q -- "$opt" <<<"$help"
done
"$FOGPROBE" --bogus >/dev/null 2>&1
check "unknown option exits 2" eq $? 2

echo "config errors: file:line:column, exit 2"
cfg_error() { # TEXT EXPECTED_REGEX
	printf '%s' "$1" >"$WORK/bad.json"
	local out rc
	out=$("$FOGPROBE" --config "$WORK/bad.json" 2>&1)
	rc=$?
	echo "    $out"
	[[ $rc -eq 2 ]] && grep -Eq "$2" <<<"$out"
}
check "unknown key" cfg_error '{"services": [{"name": "a", "protocol": "tcp", "ports": [1]}],
  "lisen": ":1"}' "bad.json:2:3: .*lisen"
check "bad port value" cfg_error '{"services": [{"name": "a", "protocol": "tcp",
  "ports": [80, 70000]}]}' "bad.json:2:17: .*port"
check "bad protocol" cfg_error '{"services": [{"name": "a", "protocol": "smtp", "ports": [1]}]}' "bad.json:1:41: .*protocol"
check "empty services" cfg_error '{"services": []}' "bad.json:1:1[0-9]: .*empty"
check "missing services" cfg_error '{"listen": ":9477"}' "bad.json:1:1: .*services"
check "syntax error" cfg_error '{"services": [' "bad.json:1:[0-9]+: "
"$FOGPROBE" --config /nonexistent/fogprobe.json >/dev/null 2>&1
check "unreadable config exits 2" eq $? 2

echo "the hooks check chose are the ones the daemon attached"
# a WebSocket service: the L7, TLS and send-queue hooks load only for one
start_daemon '{"services": [{"name": "x", "protocol": "tcp", "ports": [7777]},
  {"name": "w", "protocol": "websocket", "ports": [7778]}]}' || exit 1
# What check chose is what the daemon attached: a program the verifier refuses makes the
# loader fall back (reported), which a table of mere availability would hide.
chosen_hooks() { # "feature hook" per chosen row of check's table (fixed columns)
	"$FOGPROBE" check 2>/dev/null | awk 'NR > 1 && /^[a-z_ ]/ && length($0) > 21 {
		f = substr($0, 1, 21); gsub(/ /, "", f); if (f != "") cur = f
		if (/<- chosen/) { h = substr($0, 22, 41); sub(/ +$/, "", h); print cur " " h } }' | sort
}
attached_hooks() {
	curl -s "http://127.0.0.1:$METRICS_PORT/metrics" | sed -n \
		's/^fogprobe_probe_attached{feature="\([^"]*\)",program="[^"]*",hook="\([^"]*\)"} 1$/\1 \2/p' | sort
}
chosen_hooks >"$WORK/chosen"
attached_hooks >"$WORK/attached"
diff "$WORK/chosen" "$WORK/attached" | sed 's/^/    /'
check "the daemon attached every hook check chose ($(wc -l <"$WORK/chosen"))" \
	bash -c "[ -s '$WORK/chosen' ] && cmp -s '$WORK/chosen' '$WORK/attached'"
stop_daemon

echo "SIGTERM: exit 0 within 2 s, nothing left behind"
ids() { bpftool "$1" show 2>/dev/null | sed -n 's/^\([0-9]*\):.*/\1/p' | sort; }
progs_before=$(ids prog)
pins_before=$(find /sys/fs/bpf -mindepth 1 | sort)
links_before=$(ids link)
cg=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
cg_progs() { bpftool cgroup show "$cg" 2>/dev/null | awk '$1 ~ /^[0-9]+$/ { print $1 }' | sort; }
start_daemon '{"services": [{"name": "x", "protocol": "tcp", "ports": [7777]}]}' || exit 1
# Ours are the ids that appeared while it ran (other BPF users may come and go).
ours_progs=$(comm -13 <(echo "$progs_before") <(ids prog))
ours_links=$(comm -13 <(echo "$links_before") <(ids link))
echo "    programs loaded: $(echo $ours_progs | wc -w), links: $(echo $ours_links | wc -w)"
check "programs and links loaded while running" [ -n "$ours_progs" -a -n "$ours_links" ]
t0=$(date +%s%N)
stop_daemon
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
echo "    stopped in $ms ms, exit $rc"
check "exit code 0 on SIGTERM" eq "$rc" 0
check "stopped within 2 s" [ "$ms" -lt 2000 ]
# The kernel frees programs after an RCU grace period: give it a moment.
for i in $(seq 1 20); do
	[[ -z "$(comm -12 <(echo "$ours_progs") <(ids prog))" ]] && break
	sleep 0.1
done
comm -12 <(echo "$ours_progs") <(ids prog) | while read -r id; do bpftool prog show id "$id" | head -1 | sed 's/^/    left: /'; done
check "none of its programs left" eq "$(comm -12 <(echo "$ours_progs") <(ids prog) | wc -w)" 0
check "none of its links left" eq "$(comm -12 <(echo "$ours_links") <(ids link) | wc -w)" 0
check "none of its cgroup attachments left" eq "$(comm -12 <(echo "$ours_progs") <(cg_progs) | wc -w)" 0
check "nothing pinned" eq "$(comm -13 <(echo "$pins_before") <(find /sys/fs/bpf -mindepth 1 | sort) | wc -l)" 0

start_daemon '{"services": [{"name": "x", "protocol": "tcp", "ports": [7777]}]}' || exit 1
kill -INT "$DAEMON_PID"
wait "$DAEMON_PID"
check "exit code 0 on SIGINT" eq $? 0
DAEMON_PID=

echo "JSON logs"
FOGPROBE_ARGS="--log-format json" start_daemon '{"services": [{"name": "x", "protocol": "tcp", "ports": [7777]}]}' || exit 1
stop_daemon
check "every log line is JSON" python3 -c '
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
assert lines, "no log lines"
for l in lines:
    d = json.loads(l)
    assert {"ts", "level", "msg"} <= d.keys(), d
' "$WORK/daemon.log"
finish
