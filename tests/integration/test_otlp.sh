#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Spans of HTTP exchanges (plain and TLS) sent over OTLP/HTTP, decoded by the receiver of
# tests/workloads with the official OpenTelemetry definitions:
#   1. http/protobuf + gzip: one server span per request nginx logged, with the stable
#      HTTP semantic-convention attributes (server.address/port from the Host header),
#      the trace id, parent and tracestate of the traceparent curl sent (tracestate in
#      two lines: one list), new valid ids without one (and with an invalid one), ERROR for 5xx;
#      curl runs on this host too: its client span per request, made from the server
#      end's exchange, whose id is the traceparent's parent-id (without one, a new id in
#      the server span's trace): the server span is its child; no
#      query string anywhere, resource attributes; durations against a server that
#      sleeps a known time; the exporter's own counters against what arrived
#   2. http/json: the same exchanges decode and carry the same values
#   3. the client's socket alone (the server's end left out by a cgroup matcher): client
#      spans whose span id is the traceparent's parent-id (the server span of the same
#      request would be their child), ERROR for 4xx and 5xx; the client runs in a
#      cgroup laid out as the kubelet's systemd driver lays out a pod's container
#      (kubepods-besteffort-pod<uid>.slice/cri-containerd-<id>.scope): its spans' resource
#      carries that container.id and k8s.pod.uid
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/l7lib.sh"
. "$(dirname "$0")/otlplib.sh"

for tool in nginx curl node; do
	command -v $tool >/dev/null || { echo "  $tool missing (make deps)"; exit 1; }
done
NS_SRV=fpot-srv-$ID NS_CLI=fpot-cli-$ID
METRICS_PORT=19402 OTLP=19410 CTL=19411 WEB=19420 TLS=19421 DELAY=19422
setup_netns
start_receiver $OTLP $CTL || exit 1
start_nginx "$NS_SRV" "$SRV_IP" $WEB || exit 1
WEB_LOG=$NGINX_LOG
start_nginx_tls "$NS_SRV" "$SRV_IP" $TLS || exit 1
start_httpdelay "$NS_SRV" $DELAY --bind "$SRV_IP" --delay-ms 300 || exit 1

services='"services": [
  {"name": "web", "protocol": "http", "ports": ['$WEB'], "routes": ["/api/betanet/nodes/[id]"]},
  {"name": "webtls", "protocol": "http", "ports": ['$TLS']},
  {"name": "delay", "protocol": "http", "ports": ['$DELAY']}]'

tp() { # TRACE SPAN FLAGS -> a traceparent value
	printf '00-%s-%s-%s' "$1" "$2" "$3"
}
rand_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# traffic: writes "trace span path status scheme" lines of the requests that carried a
# traceparent to $WORK/sent.$1
traffic() {
	local tag=$1 i t s U=http://$SRV_IP:$WEB
	: >"$WORK/sent.$tag"
	for i in 1 2 3 4 5; do
		t=$(rand_hex 16) s=$(rand_hex 8)
		ns_cli curl -s -o /dev/null -H "traceparent: $(tp $t $s 01)" "$U/"
		echo "$t $s / 200 http" >>"$WORK/sent.$tag"
	done
	for i in 1 2 3; do
		t=$(rand_hex 16) s=$(rand_hex 8)
		ns_cli curl -s -o /dev/null -H "traceparent: $(tp $t $s 01)" "$U/error"
		echo "$t $s /error 500 http" >>"$WORK/sent.$tag"
	done
	t=$(rand_hex 16) s=$(rand_hex 8)
	ns_cli curl -s -o /dev/null -H "traceparent: $(tp $t $s 01)" "$U/notfound?secret=fpot-query"
	echo "$t $s /notfound 404 http" >>"$WORK/sent.$tag"
	t=$(rand_hex 16) s=$(rand_hex 8)
	ns_cli curl -s -o /dev/null -H "traceparent: $(tp $t $s 01)" "$U/api/betanet/nodes/42"
	echo "$t $s /api/betanet/nodes/42 200 http" >>"$WORK/sent.$tag"
	for i in 1 2; do
		t=$(rand_hex 16) s=$(rand_hex 8)
		ns_cli curl -sk -o /dev/null -H "traceparent: $(tp $t $s 01)" "https://$SRV_IP:$TLS/tls"
		echo "$t $s /tls 200 https" >>"$WORK/sent.$tag"
	done
	# a vendor's tracestate, in two lines (one list), and a Host naming the server
	t=$(rand_hex 16) s=$(rand_hex 8)
	ns_cli curl -s -o /dev/null -H "traceparent: $(tp $t $s 01)" -H "tracestate: congo=t61rcWkgMzE" \
		-H "tracestate: rojo=00f067aa0ba902b7" -H "Host: api.fog.example:8080" "$U/state"
	echo "$t $s /state 200 http" >>"$WORK/sent.$tag"
	# no traceparent, and an invalid one (uppercase hex): new ids
	for i in 1 2 3; do ns_cli curl -s -o /dev/null "$U/fresh"; done
	ns_cli curl -s -o /dev/null -H "traceparent: $(tp ABCDEF0123456789ABCDEF0123456789 0123456789ABCDEF 01)" "$U/invalid"
	# a keep-alive connection: three requests, three spans
	t=$(rand_hex 16) s=$(rand_hex 8)
	ns_cli curl -s -o /dev/null -o /dev/null -o /dev/null -H "traceparent: $(tp $t $s 01)" \
		"$U/ka" "$U/ka" "$U/ka"
	# a known server delay
	t=$(rand_hex 16) s=$(rand_hex 8)
	ns_cli curl -s -o /dev/null -w '%{time_total}\n' -H "traceparent: $(tp $t $s 01)" \
		"http://$SRV_IP:$DELAY/slow" >"$WORK/delay.curl.$tag"
	echo "$t $s /slow 200 http" >>"$WORK/sent.$tag"
}

# verify TAG ENCODING GZIP: the spans of one round of traffic
verify() {
	local tag=$1 enc=$2 gz=$3 want got
	received "s['encoding'] == '$enc'" >"$WORK/got.$tag"
	SRV_IP=$SRV_IP WEB=$WEB TLS=$TLS DELAY=$DELAY /usr/bin/python3 - "$WORK/sent.$tag" "$WORK/got.$tag" "$enc" "$gz" "$(hostname)" \
		"$WORK/delay.curl.$tag" "$WEB_LOG" <<'PY'
import json, os, re, sys
sent_f, got_f, enc, gz, host, delay_f, nginx_log = sys.argv[1:]
every = [json.loads(l) for l in open(got_f)]
# curl runs on this host too: each exchange has the server's span and curl's client span
spans = [s for s in every if s["kind"] == 2]
clients = [s for s in every if s["kind"] == 3]
fails = 0
def check(what, ok, detail=""):
    global fails
    print(("  ok   " if ok else "  FAIL ") + what + ("" if ok else "  (" + str(detail) + ")"))
    fails += 0 if ok else 1

check("every span came " + ("gzip" if gz == "1" else "uncompressed"),
      all(s["gzip"] == (gz == "1") for s in every), [s["gzip"] for s in every][:5])
check("server and client spans only, as many of each",
      len(spans) + len(clients) == len(every) and len(spans) == len(clients), (len(spans), len(clients), len(every)))
client_by_id = {}
for s in clients:
    client_by_id.setdefault((s["traceId"], s["spanId"]), []).append(s)
by_trace = {}
for s in spans:
    by_trace.setdefault(s["traceId"], []).append(s)
sent = [l.split() for l in open(sent_f)]
for t, sid, path, status, scheme in sent:
    got = by_trace.get(t, [])
    ok = len(got) == 1
    check(f"{path} ({scheme}, {status}): one span in the traceparent's trace", ok, len(got))
    if not ok:
        continue
    s = got[0]
    a = s["attrs"]
    route = "/api/betanet/nodes/:id" if path.startswith("/api/betanet/nodes/") else path
    want = {"http.request.method": "GET", "url.path": path, "url.scheme": scheme,
            "http.route": route, "http.response.status_code": int(status),
            "network.protocol.version": "1.1"}
    if int(status) >= 500:
        want["error.type"] = status
    diff = {k: (a.get(k), v) for k, v in want.items() if a.get(k) != v}
    check(f"{path}: attributes {sorted(want)}", not diff, diff)
    check(f"{path}: parent is the caller's span {sid}", s["parentSpanId"] == sid, s["parentSpanId"])
    check(f"{path}: a server span named 'GET {route}'", s["kind"] == 2 and s["name"] == "GET " + route,
          (s["kind"], s["name"]))
    check(f"{path}: status {'ERROR' if int(status) >= 500 else 'UNSET'}",
          s["status"] == (2 if int(status) >= 500 else 0), s["status"])
    check(f"{path}: a fresh span id", re.fullmatch("[0-9a-f]{16}", s["spanId"]) and
          s["spanId"] not in ("0" * 16, sid), s["spanId"])
    check(f"{path}: start <= end", int(s["start"]) <= int(s["end"]), (s["start"], s["end"]))
    # same host: curl's client span is the server span's parent, its id the traceparent's
    c = client_by_id.get((t, sid), [])
    ca = c[0]["attrs"] if c else {}
    cerr = int(status) >= 400
    check(f"{path}: curl's client span: the traceparent's parent-id as its id, the server span's parent",
          len(c) == 1 and c[0]["parentSpanId"] == "" and c[0]["name"] == "GET" and
          ca.get("url.path") == path and ca.get("http.response.status_code") == int(status) and
          "http.route" not in ca and c[0]["status"] == (2 if cerr else 0) and
          (ca.get("error.type") == status if cerr else "error.type" not in ca) and
          "server.address" not in ca, c)
    # server.address/port: the Host the client asked for (curl sends the URL's)
    if path == "/state":
        want_host = ("api.fog.example", 8080)
    else:
        want_host = (os.environ["SRV_IP"], int(os.environ["TLS" if scheme == "https" else
                                                         "DELAY" if path == "/slow" else "WEB"]))
    check(f"{path}: server.address/port from its Host",
          (a.get("server.address"), a.get("server.port")) == want_host,
          (a.get("server.address"), a.get("server.port"), want_host))
    want_state = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7" if path == "/state" else ""
    check(f"{path}: the caller's tracestate ({'one list of two lines' if want_state else 'none'})",
          s["traceState"] == want_state, s["traceState"])
web = [s for s in spans if s["resource"].get("service.name") == "web"]
# nginx's own log: one span per request it answered on the plain port
n_nginx = sum(1 for l in open(nginx_log))
check("one span per request nginx logged", len(web) == n_nginx, (len(web), n_nginx))
fresh = [s for s in web if s["attrs"]["url.path"] in ("/fresh", "/invalid")]
ids = {s["traceId"] for s in fresh}
check("no/invalid traceparent: 4 new valid trace ids, each server span the child of curl's client span",
      len(fresh) == 4 and len(ids) == 4 and all(re.fullmatch("[0-9a-f]{32}", i) and i != "0" * 32 for i in ids)
      and all(len(client_by_id.get((s["traceId"], s["parentSpanId"]), [])) == 1 for s in fresh)
      and "abcdef0123456789abcdef0123456789" not in ids,
      [(s["traceId"], s["parentSpanId"]) for s in fresh])
ka = [s for s in web if s["attrs"]["url.path"] == "/ka"]
check("keep-alive: three requests, three spans of one trace",
      len(ka) == 3 and len({s["traceId"] for s in ka}) == 1 and len({s["spanId"] for s in ka}) == 3, len(ka))
blob = json.dumps(every)
check("no query string, no client address in any span", "fpot-query" not in blob and "secret" not in blob
      and re.search(r"10\.213\.\d+\.2\b", blob) is None)
r = web[0]["resource"] if web else {}
check("resource: service.name, host.name, telemetry.sdk.*",
      r.get("host.name") == host and r.get("telemetry.sdk.name") == "fogprobe" and "telemetry.sdk.version" in r
      and r.get("deployment.environment") == "fpot-test", r)
check("resource: no container or pod id for a server in no container's cgroup",
      not any("container.id" in s["resource"] or "k8s.pod.uid" in s["resource"] for s in spans))
tls = [s for s in every if s["resource"].get("service.name") == "webtls"]
check("TLS: the spans of the TLS service say https", len(tls) == 4 and all(s["attrs"]["url.scheme"] == "https" for s in tls), len(tls))
slow = [s for s in spans if s["attrs"]["url.path"] == "/slow"]
curl_s = float(open(delay_f).read())
if slow:
    d = (int(slow[0]["end"]) - int(slow[0]["start"])) / 1e9
    check(f"/slow: duration {d:.3f} s at least the server's 0.300 s sleep and at most curl's {curl_s:.3f} s",
          0.300 <= d <= curl_s + 0.0001, d)
else:
    check("/slow: a span", False, [(x["attrs"], x["traceId"]) for x in spans
                                   if x["resource"].get("service.name") == "delay"])
sys.exit(1 if fails else 0)
PY
	local rc=$?
	CHECKS=$((CHECKS + 1))
	((rc == 0)) || FAILS=$((FAILS + 1))
}

run_round() { # TAG OTLP_JSON_EXTRA ENCODING GZIP
	local tag=$1 n0 total
	: >"$WEB_LOG"
	start_daemon '{'"$services"', "otlp": {"endpoint": "http://127.0.0.1:'$OTLP'",
	  '"$2"', "batch_delay_ms": 200, "resource_attributes": {"deployment.environment": "fpot-test"}}}' || exit 1
	n0=$(count_received)
	traffic "$tag"
	# + /fresh, /invalid, /ka; twice: curl's client span with the server's
	total=$((2 * ($(wc -l <"$WORK/sent.$tag") + 3 + 1 + 3)))
	check "$tag: all $total spans arrive" await_spans $((n0 + total)) True 15
	verify "$tag" "$3" "$4"
	check "$tag: fogprobe_otlp_spans_exported_total = spans received" \
		eq "$(metric fogprobe_otlp_spans_exported_total)" "$(($(count_received) - n0))"
	check "$tag: nothing dropped" eq "$(metric fogprobe_otlp_spans_dropped_total)" 0
	check "$tag: export requests timed" between "$(metric fogprobe_otlp_export_duration_seconds_count)" 1 1e9
	check "$tag: event log: a tls_hook event for nginx's libssl, hooked" \
		grep -q '"kind":"tls_hook","service":"none","binary":"[^"]*libssl[^"]*","state":"hooked"' "$WORK/daemon.log"
	stop_daemon
}

echo "1. http/protobuf, gzip"
run_round pb '"protocol": "http/protobuf", "compression": "gzip"' protobuf 1
echo "2. http/json, not compressed"
run_round json '"protocol": "http/json"' json 0

echo "3. client spans: only the client end on this host, in a pod's container"
POD_UID=$(cat /proc/sys/kernel/random/uuid)
CID=$(rand_hex 32)
POD=kubepods-besteffort-pod${POD_UID//-/_}.slice
mkdir -p "$CG_ROOT$TEST_CG/$POD/cri-containerd-$CID.scope"
on_exit "rmdir $CG_ROOT$TEST_CG/$POD/cri-containerd-$CID.scope $CG_ROOT$TEST_CG/$POD"
in_cli_cg() { # CMD...: the client namespace, in the container's cgroup under the pod the service names
	sh -c 'echo $$ >"$0/cgroup.procs" && exec ip netns exec "$@"' \
		"$CG_ROOT$TEST_CG/$POD/cri-containerd-$CID.scope" "$NS_CLI" "$@"
}
start_daemon '{"services": [{"name": "webcli", "protocol": "http", "ports": ['$WEB'],
  "cgroup": "'"$TEST_CG/$POD"'"}], "otlp": {"endpoint": "http://127.0.0.1:'$OTLP'", "batch_delay_ms": 200}}' || exit 1
: >"$WORK/sent.cli"
for p in / /notfound /error; do
	t=$(rand_hex 16) s=$(rand_hex 8)
	in_cli_cg curl -s -o /dev/null -H "traceparent: $(tp $t $s 01)" "http://$SRV_IP:$WEB$p"
	echo "$t $s $p" >>"$WORK/sent.cli"
done
check "3 client spans arrive" await_spans 3 "s['resource']['service.name'] == 'webcli'" 10
received "s['resource']['service.name'] == 'webcli'" >"$WORK/got.cli"
check "client spans: the traceparent's trace, its parent-id as span id, no parent; ERROR for 404 and 500" \
	/usr/bin/python3 - "$WORK/sent.cli" "$WORK/got.cli" <<'PY'
import json, sys
sent = [l.split() for l in open(sys.argv[1])]
got = {(s["traceId"], s["spanId"]): s for s in map(json.loads, open(sys.argv[2]))}
bad = 0
for t, sid, path in sent:
    s = got.get((t, sid))
    err = 2 if path != "/" else 0
    ok = s is not None and s["kind"] == 3 and s["parentSpanId"] == "" and s["name"] == "GET" \
        and s["attrs"]["url.path"] == path and s["status"] == err and "http.route" not in s["attrs"]
    if not ok:
        print("    ", path, s)
        bad += 1
sys.exit(1 if bad or len(got) != 3 else 0)
PY
check "client spans: the resource names the client's container and pod" \
	/usr/bin/python3 - "$WORK/got.cli" "$CID" "$POD_UID" <<'PY'
import json, sys
spans = [json.loads(l) for l in open(sys.argv[1])]
bad = [s["resource"] for s in spans
       if s["resource"].get("container.id") != sys.argv[2] or s["resource"].get("k8s.pod.uid") != sys.argv[3]]
print("    ", bad[:1]) if bad else None
sys.exit(1 if bad or not spans else 0)
PY
stop_daemon
finish
