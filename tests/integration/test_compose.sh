#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# deploy/compose: the monitoring stack checked without a Docker engine (none here). The
# compose file parses (YAML) and has every service; every file or folder it mounts and
# its build context exist; every named volume is declared; the Grafana datasources point
# at services of the file on the ports their configs listen on, and the dashboards
# provider at the folder the dashboards are mounted in; Prometheus's config passes
# promtool with its rule file where the mounts put it, and scrapes and alerts only
# services of the file; Alertmanager's config passes amtool; Promtail ships from the
# volume the daemon writes its event log into, to Loki; the daemon accepts the stack's
# command line (run here, /readyz, SIGTERM).
METRICS_PORT=${METRICS_PORT:-19570}
. "$(dirname "$0")/lib.sh"
C=$ROOT/deploy/compose
PY=/usr/bin/python3 # Debian's python3-yaml loads here
quiet() { local out; out=$("$@" 2>&1) || { printf '%s\n' "$out" | sed 's/^/    | /'; return 1; }; }
for t in promtool amtool; do
	command -v $t >/dev/null || { check "$t installed (tests/deps.sh)" false; finish; }
done

echo "(a) compose.yml"
structure() {
	$PY - "$C" "$ROOT/deploy/grafana" "$WORK" <<-'EOF'
		import json, os, re, sys, yaml
		c, g, work = sys.argv[1:4]
		f = yaml.safe_load(open(c + "/compose.yml"))
		errs = []
		def need(cond, msg):
		    if not cond:
		        errs.append(msg)
		svcs = f["services"]
		want = {"fogprobe", "prometheus", "alertmanager", "grafana", "loki", "promtail", "tempo", "uptime-kuma"}
		need(want <= set(svcs), "services: %s" % sorted(svcs))
		vols = set(f.get("volumes") or {})
		mounts = {}  # service -> {target: source}
		for name, s in svcs.items():
		    need("image" in s or "build" in s, name + ": no image")
		    img = s.get("image", "")
		    need(name == "fogprobe" or (":" in img and not img.endswith(":latest")),
		         "%s: image %r not pinned" % (name, img))
		    if "build" in s:
		        ctx = os.path.normpath(os.path.join(c, s["build"]["context"]))
		        need(os.path.isdir(ctx), "%s: build context %s" % (name, ctx))
		        need(os.path.isfile(os.path.join(ctx, s["build"]["dockerfile"])), name + ": dockerfile")
		    m = mounts.setdefault(name, {})
		    for v in s.get("volumes", []):
		        src, tgt = v.split(":")[:2]
		        m[tgt] = src
		        if src.startswith("."):
		            need(os.path.exists(os.path.join(c, src)), "%s: mounts %s, which does not exist" % (name, src))
		        elif src.startswith("/"):
		            need(os.path.exists(src), "%s: host path %s does not exist here" % (name, src))
		        else:
		            need(src in vols, "%s: volume %s not declared" % (name, src))
		    for d in s.get("depends_on", []):
		        need(d in svcs, "%s: depends on %s, no such service" % (name, d))
		def listens(name):
		    """the port a service listens on, from its config"""
		    if name == "prometheus":
		        return 9090
		    if name == "alertmanager":
		        return 9093
		    if name == "grafana":
		        return 3000
		    if name == "fogprobe":
		        return int(json.load(open(c + "/../fogprobe.json"))["listen"].rsplit(":", 1)[1])
		    if name in ("loki", "tempo"):
		        return yaml.safe_load(open("%s/%s.yml" % (c, name)))["server"]["http_listen_port"]
		    return None
		def points(url, what):
		    m = re.match(r"^(?:https?://)?([\w.-]+):(\d+)", url)
		    need(m is not None, "%s: %r is no host:port" % (what, url))
		    if m:
		        host, port = m.group(1), int(m.group(2))
		        need(host in svcs, "%s: %s is no service of compose.yml" % (what, host))
		        need(host not in svcs or listens(host) == port,
		             "%s: %s listens on %s, not %d" % (what, host, listens(host), port))
		# Grafana: provisioning mounted where Grafana reads it; datasources; dashboards.
		gm = mounts["grafana"]
		need(gm.get("/etc/grafana/provisioning/datasources") == "../grafana/provisioning/datasources", "grafana: datasources mount")
		need(gm.get("/etc/grafana/provisioning/dashboards") == "../grafana/provisioning/dashboards", "grafana: dashboards provisioning mount")
		ds = yaml.safe_load(open(g + "/provisioning/datasources/fogprobe.yml"))["datasources"]
		for d in ds:
		    points(d["url"], "datasource " + d["name"])
		need({d["type"] for d in ds} >= {"prometheus", "loki", "tempo"}, "datasource types")
		prov = yaml.safe_load(open(g + "/provisioning/dashboards/fogprobe.yml"))["providers"]
		for p in prov:
		    need(gm.get(p["options"]["path"]) == "../grafana/dashboards",
		         "dashboards provider reads %s, where deploy/grafana/dashboards is not mounted" % p["options"]["path"])
		# Prometheus: its files where the mounts put them, for promtool.
		pm = mounts["prometheus"]
		cfg_t = next(a.split("=", 1)[1] for a in svcs["prometheus"]["command"] if a.startswith("--config.file="))
		os.makedirs(work + "/prom", exist_ok=True)
		for tgt, src in pm.items():
		    if src.startswith(".") and os.path.dirname(tgt) == os.path.dirname(cfg_t):
		        open(work + "/prom/" + os.path.basename(tgt), "w").write(open(os.path.join(c, src)).read())
		need(os.path.exists(work + "/prom/" + os.path.basename(cfg_t)), "prometheus: config not mounted at " + cfg_t)
		pcfg = yaml.safe_load(open(c + "/prometheus.yml"))
		for job in pcfg["scrape_configs"]:
		    for sc in job.get("static_configs", []):
		        for t in sc["targets"]:
		            if not t.startswith("localhost:"):
		                points(t, "scrape job " + job["job_name"])
		for am in pcfg["alerting"]["alertmanagers"]:
		    for sc in am["static_configs"]:
		        for t in sc["targets"]:
		            points(t, "alertmanager target")
		need(any(t == "fogprobe:9477" for j in pcfg["scrape_configs"] for sc in j.get("static_configs", [])
		         for t in sc["targets"]), "prometheus does not scrape fogprobe")
		# Promtail: to Loki, from the volume the daemon writes its events into.
		pt = yaml.safe_load(open(c + "/promtail.yml"))
		for cl in pt["clients"]:
		    points(cl["url"], "promtail client")
		cmd = svcs["fogprobe"]["command"]
		ev = cmd[cmd.index("--events") + 1]
		fm = mounts["fogprobe"]
		evtgt = [t for t in fm if ev.startswith(t + "/")]
		need(len(evtgt) == 1 and fm[evtgt[0]] in vols, "fogprobe: --events %s is not in a named volume" % ev)
		paths = [sc["labels"]["__path__"] for j in pt["scrape_configs"] for sc in j["static_configs"]]
		if evtgt:
		    vol = fm[evtgt[0]]
		    ptm = {t: s for t, s in mounts["promtail"].items() if s == vol}
		    need(any(p == t + ev[len(evtgt[0]):] for p in paths for t in ptm),
		         "promtail reads %s, not the event log %s of volume %s" % (paths, ev, vol))
		pos = os.path.dirname(pt["positions"]["filename"])
		need(pos in mounts["promtail"], "promtail positions not on a volume")
		# The daemon's command line, with the container's paths made this machine's.
		args = []
		for a in cmd:
		    if a == "/etc/fogprobe/fogprobe.json":
		        need(fm.get(a) == "../fogprobe.json", "fogprobe: config mount")
		        a = os.path.normpath(os.path.join(c, "../fogprobe.json"))
		    elif a == ev:
		        a = work + "/events.jsonl"
		    args.append(a)
		open(work + "/args", "w").write("\n".join(args) + "\n")
		if errs:
		    sys.exit("\n".join("    " + e for e in errs))
		print("    %d services, %d mounts, %d datasources" % (len(svcs), sum(len(m) for m in mounts.values()), len(ds)))
	EOF
}
check "services, mounts, volumes, datasource URLs, provider path, Promtail's event log" structure
check "prometheus: promtool check config, with its rule file where the mounts put it" \
	quiet promtool check config "$WORK/prom/prometheus.yml"
check "alertmanager: amtool check-config" quiet amtool check-config "$C/alertmanager.yml"

echo "(b) the daemon with the stack's command line"
stack_daemon() {
	local args i
	mapfile -t args <"$WORK/args"
	"$FOGPROBE" "${args[@]}" --listen "127.0.0.1:$METRICS_PORT" >"$WORK/daemon.log" 2>&1 &
	DAEMON_PID=$!
	for i in $(seq 1 100); do
		curl -sf "http://127.0.0.1:$METRICS_PORT/readyz" >/dev/null 2>&1 && break
		kill -0 "$DAEMON_PID" 2>/dev/null || { echo "    exited"; return 1; }
		sleep 0.1
	done
	curl -sf -o /dev/null "http://127.0.0.1:$METRICS_PORT/readyz" || return 1
	grep -q '"level"' "$WORK/daemon.log" || { echo "    no JSON log lines"; return 1; }
	stop_daemon
}
check "ready on /readyz, JSON log, SIGTERM exit 0" stack_daemon
finish
