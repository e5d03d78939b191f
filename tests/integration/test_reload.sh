#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Live reload (SIGHUP). nginx serves three ports; curl makes one connection and one
# request per call, and nginx's access log says what was served. A config with "keep"
# (http) and "gone" (tcp) is replaced by one with "keep" unchanged, "gone" removed and
# "added" (http) on the third port: the same process goes on, keep's counters go on
# from their values, added counts from its first connection (TCP and HTTP), gone counts
# nothing new. Then bad configs (a syntax error, a wrong value) are rejected with their
# file:line:column (the position found in the file by the test), the running config
# still applies, and fogprobe_config_reloads_total{result} counts each. A changed
# protocol is logged as waiting for a restart; a removed service that comes back takes
# its id again and its counters go on.
FP_PREFIX=fpsc
METRICS_PORT=19630
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/l7lib.sh"

for tool in nginx curl; do
	command -v $tool >/dev/null || { echo "  $tool missing (tests/deps.sh installs it)"; exit 1; }
done
P_KEEP=19650
P_GONE=19651
P_ADD=19652
setup_netns
start_nginx "$NS_SRV" "$SRV_IP" $P_KEEP $P_GONE $P_ADD || exit 1

# write_config TEXT: as start_daemon writes it (the test's cgroup as every service's)
write_config() {
	printf '%s\n' "$1" | /usr/bin/python3 -c '
import json, sys
cfg = json.load(sys.stdin)
for s in cfg["services"]:
    if sys.argv[1] and "cgroup" not in s:
        s["cgroup"] = sys.argv[1]
json.dump(cfg, sys.stdout, indent=1)
' "${TEST_CG_DIR:+$TEST_CG}" >"$WORK/config.json.new" && mv "$WORK/config.json.new" "$WORK/config.json"
}
# requests N PORT: N connections with one request each; prints the 200s
requests() {
	local i urls=()
	for i in $(seq 1 "$1"); do urls+=("http://$SRV_IP:$2/r$i"); done
	for u in "${urls[@]}"; do ns_cli curl -s -o /dev/null -w '%{http_code}\n' "$u"; done |
		grep -c '^200$'
}
served() { awk -v p="$1" '$1 == p && $5 == "OK"' "$NGINX_LOG" | wc -l; }
opened() { metric fogprobe_tcp_connections_opened_total "service=\"$1\",role=\"server\""; }
http_reqs() { metric http_requests_total "service=\"$1\""; }
reloads() { metric fogprobe_config_reloads_total "result=\"$1\""; }
# hup WHAT: SIGHUP, then wait for the reload's last log line
hup() {
	local before
	before=$(grep -c 'config reloaded\|config reload rejected' "$WORK/daemon.log")
	kill -HUP "$DAEMON_PID"
	settle $((before + 1)) grep -c 'config reloaded\|config reload rejected' "$WORK/daemon.log"
}
# state: "keep_opened keep_http gone_opened added_opened added_http"
state() { echo "$(opened keep) $(http_reqs keep) $(opened gone) $(opened added) $(http_reqs added)"; }

CONFIG_A='{"services": [
 {"name": "keep", "protocol": "http", "ports": ['$P_KEEP']},
 {"name": "gone", "protocol": "tcp", "ports": ['$P_GONE']}]}'
start_daemon "$CONFIG_A" || exit 1
PID0=$DAEMON_PID
check "no reload yet: both results at 0, the last one successful" \
	eq "$(reloads success) $(reloads failure) $(metric fogprobe_config_last_reload_successful)" "0 0 1"

echo "before: 5 connections to each port"
n=$(($(requests 5 $P_KEEP) + $(requests 5 $P_GONE) + $(requests 5 $P_ADD)))
check "curl: 15 responses" eq "$n" 15
settle "5 5 5 0 0" state
check "keep 5 (TCP and HTTP), gone 5, nothing for the third port" eq "$(state)" "5 5 5 0 0"

echo "reload: gone removed, added added, keep unchanged"
write_config '{"services": [
 {"name": "keep", "protocol": "http", "ports": ['$P_KEEP']},
 {"name": "added", "protocol": "http", "ports": ['$P_ADD']}]}'
hup
check "the log says it was applied" grep -q 'config reloaded: 2 services (1 added, 0 changed, 1 removed)' "$WORK/daemon.log"
check "the same process (no restart)" eq "$DAEMON_PID $(kill -0 $PID0 && echo alive)" "$PID0 alive"
check "fogprobe_config_reloads_total{result=success} 1" eq "$(reloads success)" 1
check "keep's counters kept their values" eq "$(opened keep) $(http_reqs keep)" "5 5"
n=$(($(requests 3 $P_KEEP) + $(requests 3 $P_GONE) + $(requests 3 $P_ADD)))
check "curl: 9 responses" eq "$n" 9
settle "8 8 5 3 3" state
echo "    nginx served: keep $(served $P_KEEP), gone $(served $P_GONE), added $(served $P_ADD); probe: $(state)"
check "keep goes on from 5: 8 = nginx's $(served $P_KEEP) (TCP and HTTP)" \
	eq "$(opened keep) $(http_reqs keep)" "$(served $P_KEEP) $(served $P_KEEP)"
check "added counts from its first connection: 3 (TCP and HTTP, nginx: $(($(served $P_ADD) - 5)))" \
	eq "$(opened added) $(http_reqs added)" "3 $(($(served $P_ADD) - 5))"
check "gone counts nothing new: 5" eq "$(opened gone)" 5
# nginx listened on the added port before the reload: found by the reload's scan
check "nginx listens on the added port (ss)" bash -c "ip netns exec '$NS_SRV' ss -ltnH 'sport = :$P_ADD' | grep -q ."
settle 1 metric fogprobe_service_up 'service="added"'
check "fogprobe_service_up{service=added} 1 (its listener predates the reload)" \
	eq "$(metric fogprobe_service_up 'service="added"')" 1
check "fogprobe_service_up{service=gone} no longer exported" \
	eq "$(scrape | grep -c '^fogprobe_service_up{service="gone"}')" 0

echo "a config with a syntax error"
cp "$WORK/config.json" "$WORK/good.json"
printf '{"services": [\n  {"name": "keep", "protocol": "http", "ports": [%s]},\n  {"name": "added" "protocol": "http", "ports": [%s]}]}\n' \
	$P_KEEP $P_ADD >"$WORK/config.json"
hup
# jansson stops at the token after "added": line 3, the column of that token's last
# character (the closing quote of "protocol")
col=$(awk 'NR == 3 { print index($0, "\"protocol\"") + length("\"protocol\"") - 1 }' "$WORK/config.json")
check "rejected with its position ($WORK/config.json:3:$col)" \
	grep -q "config reload rejected: $WORK/config.json:3:$col: .*; the running config stays" "$WORK/daemon.log"
check "fogprobe_config_reloads_total{result=failure} 1, last reload unsuccessful" \
	eq "$(reloads failure) $(metric fogprobe_config_last_reload_successful)" "1 0"

echo "a config with a wrong value"
printf '{"services": [\n  {"name": "keep", "protocol": "http", "ports": [%s]},\n  {"name": "added", "protocol": "htp", "ports": [%s]}]}\n' \
	$P_KEEP $P_ADD >"$WORK/config.json"
hup
col=$(awk 'NR == 3 { print index($0, "\"htp\"") }' "$WORK/config.json")
check "rejected with the value's position ($WORK/config.json:3:$col)" \
	grep -q "config reload rejected: $WORK/config.json:3:$col: .*htp.*; the running config stays" "$WORK/daemon.log"
check "fogprobe_config_reloads_total{result=failure} 2" eq "$(reloads failure)" 2
n=$(($(requests 2 $P_KEEP) + $(requests 2 $P_GONE) + $(requests 2 $P_ADD)))
check "curl: 6 responses" eq "$n" 6
settle "10 10 5 5 5" state
check "the running config still applies: keep 10, gone 5, added 5" eq "$(state)" "10 10 5 5 5"

echo "a change that waits for a restart"
write_config '{"services": [
 {"name": "keep", "protocol": "tcp", "ports": ['$P_KEEP']},
 {"name": "added", "protocol": "http", "ports": ['$P_ADD']}]}'
hup
check "keep's protocol change is logged as waiting for a restart" \
	grep -q 'reload: service keep: protocol change at a restart; the running values stay' "$WORK/daemon.log"
check "applied otherwise; last reload successful" \
	eq "$(reloads success) $(metric fogprobe_config_last_reload_successful)" "2 1"
n=$(requests 2 $P_KEEP)
settle 12 http_reqs keep
check "keep: 2 more requests counted as HTTP (12)" eq "$(http_reqs keep)" 12

echo "gone back with its settings: its id again, its counters go on"
write_config '{"services": [
 {"name": "keep", "protocol": "http", "ports": ['$P_KEEP']},
 {"name": "added", "protocol": "http", "ports": ['$P_ADD']},
 {"name": "gone", "protocol": "tcp", "ports": ['$P_GONE']}]}'
hup
check "applied: 1 added" grep -q 'config reloaded: 3 services (1 added, 0 changed, 0 removed)' "$WORK/daemon.log"
n=$(requests 2 $P_GONE)
settle 7 opened gone
check "gone: 5 before its removal + 2 now = 7 (curl: $n)" eq "$(opened gone) $n" "7 2"
check "one series per service name (no second gone)" \
	eq "$(scrape | grep -c '^fogprobe_tcp_connections_opened_total{service="gone",role="server"}')" 1
check "the daemon stops cleanly" stop_daemon
finish
