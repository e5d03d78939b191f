#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The exposition against tools we did not write: promtool check metrics (text 0.0.4),
# the Python client's strict OpenMetrics parser, gzip, and a real Prometheus server
# scraping the daemon (it asks for OpenMetrics first).
. "$(dirname "$0")/lib.sh"
PROM_PORT=$((METRICS_PORT + 1000))

setup_netns
# --bpf-stats: the programs' run time, off by default (checked at the end)
FOGPROBE_ARGS="--bpf-stats ${FOGPROBE_ARGS:-}" start_daemon '{"services": [
  {"name": "betanet", "protocol": "betanet", "ports": [9001, 9002, 9003]},
  {"name": "web", "protocol": "http", "ports": [8080]}]}' || exit 1
# some traffic so that histograms and drop reasons have samples
ns_srv python3 "$ROOT/tests/workloads/tcpwork.py" server 9001 --count 5 &
SRV=$!
wait_port "$NS_SRV" 9001
ns_cli python3 "$ROOT/tests/workloads/tcpwork.py" connect "$SRV_IP" 9001 5 20000 >/dev/null
ns_cli python3 "$ROOT/tests/workloads/tcpwork.py" connect "$SRV_IP" 8080 3 0 >/dev/null
wait $SRV
sleep 0.3

echo "text format 0.0.4"
curl -sf -D "$WORK/h" "http://127.0.0.1:$METRICS_PORT/metrics" >"$WORK/m.txt"
check "content type is text/plain; version=0.0.4" grep -qi '^content-type: text/plain; version=0.0.4' "$WORK/h"
# node_memory_MemAvailable_bytes and its siblings are node_exporter's names, which the
# rules and dashboards use as they are: promtool's snake_case lint flags them (it flags
# node_exporter's own output alike). Checked without them, and then that this is all it
# has to say about them.
grep -v -e '^node_memory_' -e '^# [A-Z]* node_memory_' "$WORK/m.txt" |
	promtool check metrics >"$WORK/promtool.out" 2>&1
rc=$?
sed 's/^/    /' "$WORK/promtool.out" | head -20
check "promtool check metrics passes" eq "$rc" 0
promtool check metrics <"$WORK/m.txt" 2>&1 |
	grep -v "^node_memory_[A-Za-z]*_bytes metric names should be written in 'snake_case' not 'camelCase'$" >"$WORK/promtool-mem.out"
check "promtool: node_memory_* only flagged for node_exporter's camelCase" eq "$(cat "$WORK/promtool-mem.out")" ""
for name in fogprobe_tcp_bytes_total fogprobe_tcp_segments_total fogprobe_tcp_retransmits_total \
	fogprobe_tcp_retransmitted_bytes_total \
	fogprobe_tcp_connections_opened_total fogprobe_tcp_connect_failures_total \
	fogprobe_tcp_resets_total fogprobe_tcp_open_connections fogprobe_tcp_rtt_seconds \
	fogprobe_tcp_connect_duration_seconds fogprobe_events_lost_total fogprobe_probe_attached \
	fogprobe_bpf_program_run_seconds_total fogprobe_bpf_program_runs_total fogprobe_build_info \
	fogprobe_packet_drops_total fogcompute_betanet_connected_peers \
	fogcompute_betanet_bytes_transmitted_total fogcompute_betanet_bytes_received_total \
	fogcompute_betanet_packets_dropped_total fogcompute_betanet_mixnode_active \
	fogcompute_betanet_mixnode_failures_total; do
	check "exposes $name" grep -q "^# TYPE $name " "$WORK/m.txt"
done
check "bpf_stats: runs counted for the packet path" \
	[ "$(scrape | awk '/^fogprobe_bpf_program_runs_total\{program="count_(egress|ingress)"\}/ { s += $2 } END { print s + 0 }')" -gt 0 ]
check "no peer address in any label" bash -c "! grep -E '$SRV_IP|$CLI_IP' '$WORK/m.txt'"
check "betanet bytes counted" [ "$(metric fogcompute_betanet_bytes_received_total)" -ge 100000 ]
check "refused connects to web counted" [ "$(metric fogprobe_tcp_connect_failures_total 'service="web",reason="refused"')" -eq 3 ]

echo "OpenMetrics"
curl -sf -D "$WORK/h" -H 'Accept: application/openmetrics-text; version=1.0.0' \
	"http://127.0.0.1:$METRICS_PORT/metrics" >"$WORK/m.om"
check "content type is application/openmetrics-text" grep -qi '^content-type: application/openmetrics-text' "$WORK/h"
check "ends with # EOF" eq "$(tail -n 1 "$WORK/m.om")" "# EOF"
check "strict OpenMetrics parser accepts it" /usr/bin/python3 -c '
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
n = sum(1 for _ in text_string_to_metric_families(open(sys.argv[1]).read()))
assert n > 10, n
' "$WORK/m.om"

echo "gzip"
curl -sf -D "$WORK/h" -H 'Accept-Encoding: gzip' "http://127.0.0.1:$METRICS_PORT/metrics" >"$WORK/m.gz"
check "Content-Encoding: gzip" grep -qi '^content-encoding: gzip' "$WORK/h"
check "body is valid gzip of the exposition" bash -c "gzip -dc '$WORK/m.gz' | grep -q '^# TYPE fogprobe_build_info gauge'"
curl -sf -D "$WORK/h" "http://127.0.0.1:$METRICS_PORT/metrics" >/dev/null
check "no gzip unless asked" bash -c "! grep -qi '^content-encoding' '$WORK/h'"

echo "health endpoints"
check "/healthz is 200" eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$METRICS_PORT/healthz")" 200
check "/readyz is 200" eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$METRICS_PORT/readyz")" 200

echo "a real Prometheus scrapes it"
cat >"$WORK/prometheus.yml" <<YML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: fogprobe
    static_configs:
      - targets: ["127.0.0.1:$METRICS_PORT"]
YML
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
	--web.listen-address="127.0.0.1:$PROM_PORT" >"$WORK/prometheus.log" 2>&1 &
PROM=$!
on_exit "kill $PROM; wait $PROM"
query() {
	curl -sf "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" |
		python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "none")'
}
up=none
for i in $(seq 1 60); do
	up=$(query 'up{job="fogprobe"}' 2>/dev/null)
	[[ "$up" == 1 ]] && break
	sleep 0.5
done
check "Prometheus: up{job=fogprobe} == 1" eq "$up" 1
check "Prometheus: scrape has samples" [ "$(query 'scrape_samples_scraped{job="fogprobe"}')" -gt 100 ]
check "Prometheus: build_info ingested" eq "$(query 'fogprobe_build_info')" 1
check "Prometheus: betanet bytes ingested" [ "$(query 'fogcompute_betanet_bytes_received_total')" != none ]
check "Prometheus: RTT histogram usable" [ "$(query 'histogram_quantile(0.5, sum by (le) (fogprobe_tcp_rtt_seconds_bucket{service="betanet"}))')" != none ]

# Without --bpf-stats the kernel measures no run time (unless the node turned it on):
# the run families have no series, while skipped runs are still counted.
echo "default: no bpf_stats"
stop_daemon
start_daemon '{"services": [{"name": "web", "protocol": "http", "ports": [8080]}]}' || exit 1
ns_cli python3 "$ROOT/tests/workloads/tcpwork.py" connect "$SRV_IP" 8080 3 0 >/dev/null
scrape >"$WORK/m0.txt"
if [[ $(cat /proc/sys/kernel/bpf_stats_enabled) == 0 ]]; then
	check "no run-time series without --bpf-stats" bash -c "! grep -q '^fogprobe_bpf_program_run' '$WORK/m0.txt'"
else
	echo "  (kernel.bpf_stats_enabled=1 on this host: run time is measured anyway)"
	check "run-time series when the node measures them" grep -q '^fogprobe_bpf_program_runs_total{' "$WORK/m0.txt"
fi
check "skipped runs still exported" grep -q '^fogprobe_bpf_program_misses_total{program="count_ingress"}' "$WORK/m0.txt"
finish
