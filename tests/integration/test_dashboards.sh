#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The five Grafana dashboards of deploy/grafana/dashboards proven on real data: the daemon
# runs under the test workloads (Betanet with a loss episode, dropped responses and a
# refused connect; BitChat with every drop reason; HTTP and HTTPS through nginx, part of it
# from a Docker-named container cgroup; a crashing service) while Debian's Prometheus
# scrapes it every second. Then every PromQL query of every panel, its variables
# substituted, must return data from Prometheus's HTTP API (dashboard_queries.py). The
# Loki panels' LogQL is parsed by Grafana's own LogQL grammar (@grafana/lezer-logql), its
# labels checked against the Promtail pipeline of deploy/compose and the kinds against the
# events this daemon wrote (no Loki in Debian). The dashboard JSON is checked structurally:
# no package on npm ships Grafana's dashboard schema as a JSON schema (@grafana/schema
# has TypeScript types only); the checks are listed in tests/README.md.
METRICS_PORT=${METRICS_PORT:-19510}
. "$(dirname "$0")/lib.sh"
NS_SRV=fpdp-srv-$ID
NS_CLI=fpdp-cli-$ID
PROM_PORT=19511
BETANET_PORT=19520 # its service also names 19521, where nothing listens: refused
BITCHAT_PORT=19530
HTTP_PORT=19540
HTTPS_PORT=19541
CRASH_PORT=19550
PY=/usr/bin/python3
DASH=$ROOT/deploy/grafana/dashboards
GRAFANA=$ROOT/deploy/grafana
NODE_DIR=$ROOT/tests/workloads
. "$(dirname "$0")/l7lib.sh"
ulimit -c 0 # the crash is counted by its signal, no core file

for t in prometheus promtool nginx hey nft node; do
	command -v $t >/dev/null || { check "$t installed (tests/deps.sh)" false; finish; }
done
[[ -d $NODE_DIR/node_modules/@grafana/lezer-logql ]] ||
	{ check "tests/workloads node_modules (npm ci, tests/deps.sh)" false; finish; }

# ---- the dashboards' structure -------------------------------------------------------
echo "(a) dashboard JSON and provisioning, structurally"
structure() {
	$PY - "$GRAFANA" <<-'EOF'
		import glob, json, os, re, sys, yaml
		g = sys.argv[1]
		errs = []
		def need(c, m):
		    if not c:
		        errs.append(m)
		ds = yaml.safe_load(open(g + "/provisioning/datasources/fogprobe.yml"))
		uids = {d["uid"]: d for d in ds["datasources"]}
		need({"prometheus", "loki", "tempo"} <= set(uids), "datasources: %s" % sorted(uids))
		need(uids["prometheus"]["type"] == "prometheus" and uids["loki"]["type"] == "loki"
		     and uids["tempo"]["type"] == "tempo", "datasource types")
		ex = uids["prometheus"]["jsonData"].get("exemplarTraceIdDestinations", [])
		need(any(e.get("datasourceUid") == "tempo" for e in ex), "no exemplar link to tempo")
		prov = yaml.safe_load(open(g + "/provisioning/dashboards/fogprobe.yml"))
		need(prov["providers"][0]["type"] == "file", "dashboard provider is not a file provider")
		files = sorted(glob.glob(g + "/dashboards/*.json"))
		want = {"betanet", "bitchat", "system", "control-panel", "logs"}
		seen = set()
		hq = re.compile(r"histogram_quantile\(")
		good_hq = re.compile(r"histogram_quantile\(0\.\d+, sum by \(le(, \w+)*\) \(rate\(\w+_bucket\{[^}]*\}\[5m\]\)\)\)")
		for f in files:
		    d = json.load(open(f))
		    u = d["uid"]
		    seen.add(u)
		    need(os.path.basename(f) == u + ".json", "%s: file name is not its uid" % f)
		    for k in ("title", "panels", "templating", "schemaVersion", "time", "links"):
		        need(k in d, "%s: no %s" % (u, k))
		    need(isinstance(d["schemaVersion"], int) and d["schemaVersion"] >= 36, "%s: schemaVersion" % u)
		    names = [v["name"] for v in d["templating"]["list"]]
		    need({"instance", "service"} <= set(names), "%s: variables %s" % (u, names))
		    for v in d["templating"]["list"]:
		        if v["type"] == "query":
		            need(v["datasource"]["uid"] in uids, "%s: variable %s datasource" % (u, v["name"]))
		    ids = [p["id"] for p in d["panels"]]
		    need(len(ids) == len(set(ids)), "%s: duplicate panel ids" % u)
		    cells = set()
		    for p in d["panels"]:
		        gp = p["gridPos"]
		        need(gp["x"] >= 0 and gp["w"] > 0 and gp["x"] + gp["w"] <= 24, "%s/%s: gridPos" % (u, p["title"]))
		        for x in range(gp["x"], gp["x"] + gp["w"]):
		            for y in range(gp["y"], gp["y"] + gp["h"]):
		                need((x, y) not in cells, "%s/%s: overlaps another panel" % (u, p["title"]))
		                cells.add((x, y))
		        if p["type"] == "row":
		            continue
		        need(p["type"] in ("timeseries", "stat", "logs", "table", "gauge", "bargauge"),
		             "%s/%s: panel type %s" % (u, p["title"], p["type"]))
		        need(p["datasource"]["uid"] in uids and p["datasource"]["type"] == uids[p["datasource"]["uid"]]["type"],
		             "%s/%s: datasource %s" % (u, p["title"], p["datasource"]))
		        need(p["targets"], "%s/%s: no targets" % (u, p["title"]))
		        refs = [t["refId"] for t in p["targets"]]
		        need(len(refs) == len(set(refs)), "%s/%s: duplicate refIds" % (u, p["title"]))
		        for t in p["targets"]:
		            e = t["expr"]
		            n = len(hq.findall(e))
		            need(n == len(good_hq.findall(e)), "%s/%s: quantile not over sum by (le...) (rate(_bucket[5m])): %s" % (u, p["title"], e))
		            if n and p["fieldConfig"]["defaults"].get("unit") == "s":
		                need(t.get("exemplar") is True, "%s/%s: latency target without exemplars" % (u, p["title"]))
		                need(any("tempo" in l["url"] for l in p.get("links", [])), "%s/%s: no link to traces" % (u, p["title"]))
		            if p["datasource"]["type"] == "prometheus":
		                need("$instance" in e, "%s/%s: query ignores $instance: %s" % (u, p["title"], e))
		need(seen == want, "dashboards %s, want %s" % (sorted(seen), sorted(want)))
		logs = json.load(open(g + "/dashboards/logs.json"))
		need(any(p["type"] == "logs" and p["datasource"]["uid"] == "loki" for p in logs["panels"]),
		     "logs: no Loki logs panel")
		if errs:
		    sys.exit("\n".join("    " + e for e in errs))
		print("    %d dashboards, %d panels" % (len(files), sum(
		    1 for f in files for p in json.load(open(f))["panels"] if p["type"] != "row")))
	EOF
}
check "five dashboards (uids), variables, datasources, grid, quantiles, exemplar links" structure

# Every PromQL expression through promtool's parser, as recording rules (fast, before the run).
promql_parses() {
	$PY - "$WORK/dash-rules.yml" "$DASH"/*.json <<-'EOF' || return 1
		import json, sys
		with open(sys.argv[1], "w") as out:
		    out.write("groups:\n  - name: dashboards\n    rules:\n")
		    i = 0
		    for f in sys.argv[2:]:
		        d = json.load(open(f))
		        for p in d["panels"]:
		            for t in p.get("targets", []):
		                if t["datasource"]["type"] != "prometheus":
		                    continue
		                e = t["expr"].replace("$instance", ".*").replace("$service", ".*")
		                out.write("      - record: dashboard:q%d\n        expr: %s\n" % (i, json.dumps(e)))
		                i += 1
	EOF
	quiet promtool check rules "$WORK/dash-rules.yml"
}
# Every family a panel queries is one the daemon exports (fogprobe metrics), histograms
# through their _bucket series.
families_exist() {
	"$FOGPROBE" metrics | awk '{ print $1 }' >"$WORK/families"
	$PY - "$WORK/families" "$DASH"/*.json <<-'EOF'
		import json, re, sys
		have = set(open(sys.argv[1]).read().split())
		missing, n = set(), set()
		for f in sys.argv[2:]:
		    for p in json.load(open(f))["panels"]:
		        for t in p.get("targets", []):
		            if t["datasource"]["type"] != "prometheus":
		                continue
		            for m in re.findall(r"\b((?:fogprobe|fogcompute|http|nextjs|node|container)_\w+)\s*\{", t["expr"]):
		                fam = re.sub(r"_bucket$", "", m)
		                n.add(fam)
		                if fam not in have:
		                    missing.add(fam)
		if missing:
		    sys.exit("    not exported: %s" % sorted(missing))
		print("    %d families queried, all exported" % len(n))
	EOF
}
check "every family the panels query is one fogprobe exports (fogprobe metrics)" families_exist

quiet() { local out; out=$("$@" 2>&1) || { printf '%s\n' "$out" | sed 's/^/    | /'; return 1; }; }
check "every PromQL query parses (promtool check rules)" promql_parses

# ---- the run --------------------------------------------------------------------------
echo "(b) the daemon under the workloads, scraped by Prometheus"
setup_netns
FOGPROBE_ARGS="${FOGPROBE_ARGS:-} --routing-timeout 0.5 --events $WORK/events.jsonl" start_daemon '{"services": [
  {"name": "betanet", "protocol": "betanet", "ports": ['$BETANET_PORT', 19521]},
  {"name": "backend", "protocol": "websocket", "ports": ['$BITCHAT_PORT'],
   "paths": ["/api/bitchat/ws/", "/api/ws/connect"]},
  {"name": "control-panel", "protocol": "http", "ports": ['$HTTP_PORT', '$HTTPS_PORT'],
   "framework": "nextjs", "routes": ["/api/betanet/nodes/[id]"]},
  {"name": "crashy", "protocol": "tcp", "ports": ['$CRASH_PORT']}]}' || finish

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
PROM_URL=http://127.0.0.1:$PROM_PORT
up() { curl -sf "$PROM_URL/api/v1/query" --data-urlencode 'query=up{job="fogprobe"}' |
	$PY -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' 2>/dev/null; }
settle 1 up || { check "Prometheus scrapes the daemon" false; finish; }
START=$(date +%s)

# A container: a Docker-named cgroup (v2, and v1 where CPU and memory live there) that
# the HTTP load runs in, for the container_* panels.
V1_ROOTS=()
for ctl in memory cpuacct; do
	d=$(awk -v c="$ctl" '$3 == "cgroup" && $4 ~ "(^|,)" c "(,|$)" { print $2; exit }' /proc/mounts)
	[[ -n "$d" ]] && V1_ROOTS+=("$d")
done
CID=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
CGS=("$TEST_CG_DIR/docker-$CID.scope")
mkdir "${CGS[0]}" && on_exit "cg_rmdir '${CGS[0]}'"
for d in "${V1_ROOTS[@]}"; do
	[[ -d "$d$TEST_CG" ]] || { mkdir "$d$TEST_CG" && on_exit "cg_rmdir '$d$TEST_CG'"; }
	mkdir "$d$TEST_CG/docker-$CID.scope" && on_exit "cg_rmdir '$d$TEST_CG/docker-$CID.scope'"
	CGS+=("$d$TEST_CG/docker-$CID.scope")
done
# bash -c "$JOIN" _ N CGROUP... CMD...: CMD in those cgroups (exec keeps the pid)
JOIN='for f in "${@:2:$1}"; do echo $$ >"$f/cgroup.procs"; done; shift $(($1 + 1)); exec "$@"'
in_container() { bash -c "$JOIN" _ "${#CGS[@]}" "${CGS[@]}" "$@"; } # CMD...
# The container's own process, alive throughout as a container's is: where container
# bytes come from network namespaces (containers.network auto with the kernel's socket
# counters), a cgroup with no process has no namespace to read. Not through in_container:
# a function run with & is a subshell, and $! would name it, not the holder.
bash -c "$JOIN" _ "${#CGS[@]}" "${CGS[@]}" ip netns exec "$NS_CLI" sleep 600 &
HOLDER=$!
on_exit "stop_pid $HOLDER"

# Loss episode on Betanet: nftables drops 10% of the segments reaching the mixnode.
ns_srv nft -f - <<NFT
table inet fpdp_test {
	chain input {
		type filter hook input priority 0; policy accept;
		tcp dport $BETANET_PORT numgen random mod 100 < 10 drop
	}
}
NFT

# Betanet: a mixnode that answers after 5 ms and drops a fifth of its responses (routing
# failures); serves every round.
# (ip netns exec itself, not ns_srv: $! names the server, which stop_pid then ends)
ip netns exec "$NS_SRV" $PY "$ROOT/tests/workloads/betanet.py" server $BETANET_PORT --duration 90 \
	--response-delay-ms 5 --handshake-delay-ms 10 --drop-prob 0.2 \
	>"$WORK/betanet-server.json" 2>"$WORK/betanet-server.err" &
BSRV=$!
on_exit "stop_pid $BSRV"
wait_port "$NS_SRV" $BETANET_PORT || { check "betanet server listens" false; finish; }
start_nginx "$NS_SRV" "$SRV_IP" $HTTP_PORT || { check "nginx starts" false; finish; }
start_nginx_tls "$NS_SRV" "$SRV_IP" $HTTPS_PORT || { check "nginx (TLS) starts" false; finish; }

# One round of every workload. A counter's first sample is its baseline for rate(): the
# rounds, seconds apart, make every counter and histogram grow after its series exists,
# as traffic does in production.
round() {
	local path
	# Betanet: six clients in parallel, then one refused connect.
	ns_cli $PY "$ROOT/tests/workloads/betanet.py" client "$SRV_IP" $BETANET_PORT --connections 6 \
		--parallel --data 20 --control 4 --cover 4 --response-timeout 1 \
		>"$WORK/betanet-client.$1.json" 2>&1 &
	BCLI=$!
	ns_cli $PY "$ROOT/tests/workloads/betanet.py" client "$SRV_IP" 19521 >/dev/null 2>&1
	# BitChat: four clients in two rooms, pings, acks after 20 ms, each abnormal ending.
	start_bitchat "$NS_SRV" $BITCHAT_PORT --bind "$SRV_IP" --clients 4 --direct 3 \
		--room-messages 3 || return 1
	ip netns exec "$NS_CLI" "$L7_PY" "$BITCHAT" client "$SRV_IP" $BITCHAT_PORT --clients 4 \
		--direct 3 --room-messages 3 --rooms 2 --pings 3 --ack-delay-ms 20 --hold-seconds 2 \
		--abnormal-close 1 --reset 1 --no-close-frame 1 >"$WORK/bitchat-client.$1.json" 2>&1 &
	CCLI=$!
	# HTTP and HTTPS (nginx as the Control Panel): pages, API routes, 404s and 500s; the
	# plain load from inside the container.
	for path in / /dashboard /api/betanet/nodes/7 /api/betanet/nodes/8 /notfound /error \
		/static/big.html; do
		in_container ip netns exec "$NS_CLI" hey -n 20 -c 2 "http://$SRV_IP:$HTTP_PORT$path" \
			>/dev/null 2>&1
		ns_cli hey -n 10 -c 1 "https://$SRV_IP:$HTTPS_PORT$path" >/dev/null 2>&1
	done
	# A crash (SIGSEGV) and an exit with status 3 of the service's processes.
	{ $PY "$ROOT/tests/workloads/crasher.py" serve $CRASH_PORT --after 0.5 --end segv; } >/dev/null 2>&1
	$PY "$ROOT/tests/workloads/crasher.py" serve $CRASH_PORT --after 0.5 --end exit:3 >/dev/null 2>&1
	wait $BCLI
	wait $CCLI
	wait $BITCHAT_PID
}
for r in 1 2 3; do
	round $r || { check "round $r of the workloads" false; finish; }
	sleep 3
done

# Let Prometheus see the last counts, then query the window.
sleep 3
END=$(date +%s)
echo "    workloads ran $((END - START)) s; Betanet client (last round): $(head -c 400 "$WORK/betanet-client.3.json")"

echo "(c) every panel's PromQL against Prometheus, variables substituted"
check "every PromQL query of every panel returns data" \
	$PY "$(dirname "$0")/dashboard_queries.py" "$PROM_URL" "$START" "$END" "127.0.0.1:$METRICS_PORT" \
	"$DASH"/betanet.json "$DASH"/bitchat.json "$DASH"/system.json "$DASH"/control-panel.json \
	"$DASH"/logs.json

echo "(d) the Loki panels' LogQL (Grafana's LogQL grammar; labels from the Promtail pipeline)"
check "events were written (--events)" [ -s "$WORK/events.jsonl" ]
check "LogQL parses; labels and kinds match Promtail's pipeline and the daemon's events" \
	node "$NODE_DIR/check_logql.mjs" "$DASH/logs.json" "$ROOT/deploy/compose/promtail.yml" \
	"$WORK/events.jsonl"
finish
