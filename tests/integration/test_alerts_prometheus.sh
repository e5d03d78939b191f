#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Agreement: a real Prometheus scrapes the daemon and evaluates
# deploy/prometheus/fogprobe-rules.yml while the daemon's engine evaluates its defaults,
# both with the same shortened `for:` and windows (applied to a copy of the file, and as
# config overrides). Induced together: a Betanet node with 0 peers, the Control Panel
# killed, 20 % packet loss to a mixnode (nftables; the rate and the ratio forms) from one
# client connection at a time (at most 2 peers while one closes and the next opens: a
# transient 3rd peer shorter than the sampling would be seen by either side by chance),
# two SIGSEGV crashes of another service (its own: the restarts between crashes
# would make the Control Panel flap, and a flap shorter than the evaluation interval is
# seen or missed by either side by chance), a test tmpfs 95 % full. Both fire the same alerts with the
# same labels (job and instance aside: Prometheus's come from its scrape), and fire and
# resolve within one evaluation interval of each other, plus the age of Prometheus's
# newest sample (one scrape interval): Prometheus sees the registry that much later.
METRICS_PORT=19370
. "$(dirname "$0")/lib.sh"
W=$ROOT/tests/workloads/crasher.py
B=$ROOT/tests/workloads/betanet.py
PY=/usr/bin/python3
PROM_PORT=19374
EVAL=2
SCRAPE_MS=1000
[[ -x /usr/bin/prometheus ]] || skip "prometheus is not installed (tests/deps.sh)"
setup_netns
mkdir -p "$WORK/fs"
mount -t tmpfs -o size=8m "fpal$ID" "$WORK/fs" || exit 1
on_exit "umount $WORK/fs"

WATCH="BetanetLowPeerCount ControlPanelDown ServiceProcessCrashed DiskSpaceLow BetanetHighPacketLoss"
# name for window: the shortened rules, for both
OVERRIDES='[{"alert": "BetanetLowPeerCount", "for": "6s"},
 {"alert": "BetanetHighPacketLoss", "window": "10s", "for": "4s"},
 {"alert": "ControlPanelDown", "for": "6s"},
 {"alert": "ServiceProcessCrashed", "window": "20s"},
 {"alert": "DiskSpaceLow", "for": "6s"}]'

$PY - "$ROOT/deploy/prometheus/fogprobe-rules.yml" "$OVERRIDES" >"$WORK/rules.yml" <<'PY'
import json, re, sys, yaml
y = yaml.safe_load(open(sys.argv[1]))
ov = {o["alert"]: o for o in json.loads(sys.argv[2])}
for g in y["groups"]:
    for r in g["rules"]:
        o = ov.get(r.get("alert"))
        if not o:
            continue
        if "for" in o:
            r["for"] = o["for"]
        if "window" in o:
            r["expr"] = re.sub(r"\[\w+\]", "[%s]" % o["window"], r["expr"])
# the recording rules an overridden alert reads get its window too
records = {r["record"]: r for g in y["groups"] for r in g["rules"] if "record" in r}
for g in y["groups"]:
    for r in g["rules"]:
        o = ov.get(r.get("alert"))
        if not o or "window" not in o:
            continue
        todo = [r["expr"]]
        while todo:
            e = todo.pop()
            for name, rec in records.items():
                if name in e and "[%s]" % o["window"] not in rec["expr"]:
                    rec["expr"] = re.sub(r"\[\w+\]", "[%s]" % o["window"], rec["expr"])
                    todo.append(rec["expr"])
yaml.safe_dump(y, sys.stdout)
PY
check "promtool accepts the shortened copy" promtool check rules "$WORK/rules.yml"

start_daemon '{"services": [
  {"name": "betanet", "protocol": "betanet", "ports": [19371]},
  {"name": "control-panel", "protocol": "tcp", "ports": [19372]},
  {"name": "worker", "protocol": "tcp", "ports": [19373]}],
 "containers": {"enabled": false},
 "alerts": {"interval": "'$EVAL's", "rules": '"$OVERRIDES"'}}' || exit 1

cat >"$WORK/prometheus.yml" <<YML
global:
  scrape_interval: ${SCRAPE_MS}ms
  scrape_timeout: ${SCRAPE_MS}ms
  evaluation_interval: ${EVAL}s
rule_files: ["$WORK/rules.yml"]
scrape_configs:
  - job_name: fogprobe
    static_configs:
      - targets: ["127.0.0.1:$METRICS_PORT"]
YML
check "promtool accepts the Prometheus config" promtool check config "$WORK/prometheus.yml"
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
	--web.listen-address="127.0.0.1:$PROM_PORT" >"$WORK/prometheus.log" 2>&1 &
PROM=$!
on_exit "kill $PROM; wait $PROM"

# The Control Panel serves; a moment for both to have seen it up
$PY "$W" serve 19372 --end none >"$WORK/cp1" 2>&1 &
CP=$!
on_exit "kill $CP"
await_metric fogprobe_service_up 'service="control-panel"' 1
sleep 5

# Both sides' firing alerts, sampled every 0.25 s until told to stop: one line per
# change, "t side state labels".
$PY - "http://127.0.0.1:$PROM_PORT/api/v1/alerts" "http://127.0.0.1:$METRICS_PORT/api/v1/alerts" \
	"$WATCH" "$WORK/stop" >"$WORK/timeline" <<'PY' &
import json, os, sys, time, urllib.request
urls = {"prometheus": sys.argv[1], "engine": sys.argv[2]}
watch, stop = set(sys.argv[3].split()), sys.argv[4]
last = {}
while not os.path.exists(stop):
    for side, url in urls.items():
        try:
            alerts = json.load(urllib.request.urlopen(url, timeout=2))["data"]["alerts"]
        except Exception:
            continue
        now = {}
        for a in alerts:
            l = {k: v for k, v in a["labels"].items() if k not in ("job", "instance")}
            if l["alertname"] in watch and a["state"] == "firing":
                now[json.dumps(l, sort_keys=True)] = 1
        for k in set(now) | set(last.get(side, {})):
            if (k in now) != (k in last.get(side, {})):
                print("%.2f %s %s %s" % (time.time(), side, "firing" if k in now else "resolved", k), flush=True)
        last[side] = now
    time.sleep(0.25)
PY
WATCHER=$!
on_exit "touch $WORK/stop; kill $WATCHER"

echo "induce: 2 peers, latency, loss, Control Panel killed, 2 crashes, tmpfs 95 % full"
ns_srv $PY "$B" server 19371 --duration 90 >/dev/null 2>"$WORK/betanet.err" &
on_exit "kill \$(ip netns pids $NS_SRV)"
ns_srv nft -f - <<NFT
table inet fpal_loss {
	chain input {
		type filter hook input priority 0; policy accept;
		tcp dport 19371 numgen random mod 100 < 20 drop
	}
}
NFT
on_exit "ip netns exec $NS_SRV nft delete table inet fpal_loss"
sleep 0.5
(while :; do ns_cli $PY "$B" client "$SRV_IP" 19371 --data 400 --control 0 --cover 0 \
	--mode pipelined --response-timeout 5 >/dev/null 2>&1; done) &
LOSSCL=$!
on_exit "kill $LOSSCL"
kill -KILL $CP
dd if=/dev/zero of="$WORK/fs/fill" bs=1M count=7 status=none
dd if=/dev/zero of="$WORK/fs/fill2" bs=512K count=1 status=none
for i in 1 2; do
	$PY "$W" serve 19373 --after 1 --end segv >"$WORK/crash$i" 2>&1
	await_metric fogprobe_process_crashes_total 'service="worker",signal="SIGSEGV"' $i
	sleep $((EVAL + 1))
done
sleep 14
echo "clear: clients and mixnodes stop, Control Panel back, tmpfs emptied (crashes age out)"
kill $LOSSCL
kill $(ip netns pids "$NS_CLI") $(ip netns pids "$NS_SRV") 2>/dev/null
ns_srv nft delete table inet fpal_loss
$PY "$W" serve 19372 --end none >"$WORK/cp2" 2>&1 &
CP=$!
on_exit "kill $CP"
rm -f "$WORK/fs/fill" "$WORK/fs/fill2"
sleep 30
touch "$WORK/stop"
wait $WATCHER
# A scrape that failed makes Prometheus mark the series stale and resolve what they held:
# say so rather than leave a disagreement unexplained.
up_min=$(curl -sf "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode 'query=min_over_time(up{job="fogprobe"}[2m])' |
	$PY -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "none")')
check "every scrape of the run succeeded (min up over 2m)" eq "$up_min" 1

$PY - "$WORK/timeline" "$EVAL" "$SCRAPE_MS" >"$WORK/agreement" <<'PY'
import collections, sys
ev = collections.defaultdict(dict)
for line in open(sys.argv[1]):
    t, side, state, labels = line.split(" ", 3)
    ev[labels.strip()].setdefault((side, state), float(t))
bound = float(sys.argv[2]) + float(sys.argv[3]) / 1000 + 0.25  # + the sampling period
for labels, e in sorted(ev.items()):
    for state in ("firing", "resolved"):
        p, n = e.get(("prometheus", state)), e.get(("engine", state))
        ok = p is not None and n is not None and abs(p - n) <= bound
        d = "%+.2f s" % (n - p) if p is not None and n is not None else "engine %s, prometheus %s" % (n is not None, p is not None)
        if state == "resolved" and p is None and n is None:
            # still firing on both sides when the watch ended: they agree
            ok, d = True, "still firing on both at the end"
        print("%s\t%s %s: engine - prometheus = %s (bound %.2f s)" % ("ok" if ok else "FAIL", labels, state, d, bound))
PY
cat "$WORK/timeline" | sed 's/^/    /'
n=0
while IFS=$'\t' read -r res what; do
	n=$((n + 1))
	check "$what" [ "$res" == ok ]
done <"$WORK/agreement"
for a in $WATCH; do
	check "$a fired in Prometheus" grep -q "prometheus firing {\"alertname\": \"$a\"" "$WORK/timeline"
	check "$a fired in the engine" grep -q "engine firing {\"alertname\": \"$a\"" "$WORK/timeline"
done
finish
