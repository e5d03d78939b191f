#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Exemplars: from a latency spike on a dashboard to its request. nginx answers curl
# requests that carry W3C traceparents; the daemon sends their spans to the OTLP receiver
# (tests/workloads/otlp_receiver.js) and points the buckets of http_request_duration_seconds
# at them. Ground truth nobody here wrote:
#   - the OpenMetrics parser of python3-prometheus-client reads the exposition and its
#     exemplars; the 0.0.4 text carries none
#   - Debian's Prometheus with --enable-feature=exemplar-storage scrapes it: every trace
#     id its /api/v1/query_exemplars returns is one the receiver got, and one curl sent
# The connection that carried a sampled request points its TCP histograms at that
# request's span: fogprobe_tcp_rtt_seconds (the server's end, then the client's) and,
# for the client's end (captured alone in a second run: the server's end left out by a
# cgroup matcher), fogprobe_tcp_connect_duration_seconds.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/l7lib.sh"
. "$(dirname "$0")/otlplib.sh"

for tool in nginx curl node prometheus; do
	command -v $tool >/dev/null || { echo "  $tool missing (make deps)"; exit 1; }
done
NS_SRV=fpot-srv-$ID NS_CLI=fpot-cli-$ID
METRICS_PORT=19404 OTLP=19414 CTL=19415 WEB=19426 PROM_PORT=19416
setup_netns
start_receiver $OTLP $CTL || exit 1
start_nginx "$NS_SRV" "$SRV_IP" $WEB || exit 1
start_daemon '{"services": [{"name": "web", "protocol": "http", "ports": ['$WEB']}],
  "otlp": {"endpoint": "http://127.0.0.1:'$OTLP'", "batch_delay_ms": 200}}' || exit 1

cat >"$WORK/prometheus.yml" <<YML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: fogprobe
    static_configs:
      - targets: ["127.0.0.1:$METRICS_PORT"]
YML
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
	--enable-feature=exemplar-storage --web.listen-address="127.0.0.1:$PROM_PORT" \
	>"$WORK/prometheus.log" 2>&1 &
PROM=$!
on_exit "kill $PROM; wait $PROM"

rand_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
: >"$WORK/sent"
echo "traffic: 30 requests with a traceparent, two paths"
for i in $(seq 1 30); do
	t=$(rand_hex 16)
	ns_cli curl -s -o /dev/null -H "traceparent: 00-$t-$(rand_hex 8)-01" \
		"http://$SRV_IP:$WEB/p$((i % 2))"
	echo "$t" >>"$WORK/sent"
done
# curl runs on this host: its client span with each server span
check "the 30 server spans arrive" await_spans 30 "s['kind'] == 2" 10
check "and curl's 30 client spans" await_spans 30 "s['kind'] == 3" 10
sleep 1 # one more scrape after the export confirmed them

curl -sf -H 'Accept: application/openmetrics-text; version=1.0.0' \
	"http://127.0.0.1:$METRICS_PORT/metrics" >"$WORK/m.om"
received "True" | /usr/bin/python3 -c 'import json,sys; [print(json.loads(l)["traceId"], json.loads(l)["spanId"]) for l in sys.stdin]' \
	>"$WORK/got"
check "OpenMetrics: prometheus_client parses the exemplars, each a span the receiver got" \
	/usr/bin/python3 - "$WORK/m.om" "$WORK/got" <<'PY'
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
got = {tuple(l.split()) for l in open(sys.argv[2])}
n = 0
for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in fam.samples:
        if s.exemplar is None:
            continue
        if not s.name.endswith("_bucket"):
            sys.exit(f"exemplar on {s.name}")
        key = (s.exemplar.labels["trace_id"], s.exemplar.labels["span_id"])
        if key not in got:
            sys.exit(f"exemplar {key} on {s.name} is no span the receiver got")
        if not float(s.labels["le"]) >= s.exemplar.value:
            sys.exit(f"exemplar value {s.exemplar.value} above its bucket {s.labels['le']}")
        n += 1
print(f"    {n} exemplars")
sys.exit(0 if n >= 2 else 1)
PY
check "text 0.0.4 carries no exemplar" bash -c "! curl -sf http://127.0.0.1:$METRICS_PORT/metrics | grep -q ' # {'"

# prom_exemplars QUERY: the trace ids of the exemplars Prometheus holds for QUERY, once
# there are some (20 s at most)
prom_exemplars() {
	local i ex=
	for i in $(seq 1 40); do
		ex=$(curl -sf "http://127.0.0.1:$PROM_PORT/api/v1/query_exemplars" \
			--data-urlencode "query=$1" \
			--data-urlencode "start=$(($(date +%s) - 600))" --data-urlencode "end=$(($(date +%s) + 60))" |
			/usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)["data"]
print(" ".join(e["labels"]["trace_id"] for r in d for e in r["exemplars"]))' 2>/dev/null)
		[[ -n "$ex" ]] && break
		sleep 0.5
	done
	echo "$ex"
}
# check_prom WHAT QUERY: Prometheus holds exemplars for QUERY, each a trace id the
# receiver got and curl sent
check_prom() {
	local ex
	ex=$(prom_exemplars "$2")
	echo "    Prometheus holds $(wc -w <<<"$ex") exemplars on $2"
	check "Prometheus, $1: query_exemplars returns trace ids" test -n "$ex"
	check "Prometheus, $1: each one a trace id the receiver got and curl sent" /usr/bin/python3 -c '
import sys
ex = sys.argv[1].split()
got = {l.split()[0] for l in open(sys.argv[2])}
sent = {l.strip() for l in open(sys.argv[3])}
bad = [t for t in ex if t not in got or t not in sent]
print("    not received/sent:", bad) if bad else None
sys.exit(1 if bad or not ex else 0)' "$ex" "$WORK/got" "$WORK/sent"
}
check_prom "HTTP latency" 'http_request_duration_seconds_bucket{service="web"}'
check_prom "TCP RTT of the server's connections" 'fogprobe_tcp_rtt_seconds_bucket{service="web",role="server"}'
stop_daemon

echo "client end alone: 20 requests with a traceparent, in a cgroup the service names"
mkdir -p "$CG_ROOT$TEST_CG/cli"
on_exit "rmdir $CG_ROOT$TEST_CG/cli"
start_daemon '{"services": [{"name": "webcli", "protocol": "http", "ports": ['$WEB'],
  "cgroup": "'"$TEST_CG/cli"'"}], "otlp": {"endpoint": "http://127.0.0.1:'$OTLP'", "batch_delay_ms": 200}}' || exit 1
for i in $(seq 1 20); do
	t=$(rand_hex 16)
	sh -c 'echo $$ >"$0/cgroup.procs" && exec ip netns exec "$@"' "$CG_ROOT$TEST_CG/cli" "$NS_CLI" \
		curl -s -o /dev/null -H "traceparent: 00-$t-$(rand_hex 8)-01" "http://$SRV_IP:$WEB/c$((i % 2))"
	echo "$t" >>"$WORK/sent"
done
check "the 20 client spans arrive" await_spans 20 "s['resource']['service.name'] == 'webcli'" 10
received "True" | /usr/bin/python3 -c 'import json,sys; [print(json.loads(l)["traceId"], json.loads(l)["spanId"]) for l in sys.stdin]' \
	>"$WORK/got"
check_prom "TCP connect time" 'fogprobe_tcp_connect_duration_seconds_bucket{service="webcli"}'
check_prom "TCP RTT of the client's connections" 'fogprobe_tcp_rtt_seconds_bucket{service="webcli",role="client"}'
finish
