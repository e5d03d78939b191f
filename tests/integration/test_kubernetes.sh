#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# deploy/kubernetes: the kustomize base, its overlays and components rendered
# (kustomize.py, compared with `kubectl kustomize` where a kubectl is installed: Debian 12
# ships neither kustomize nor kubectl), every object validated against the Kubernetes
# OpenAPI schema and the prometheus-operator CRDs' (kubernetes-models from npm), the
# fields that matter checked, the daemon run on the manifests' config, and the
# least-privilege overlay's capability set proven here: the daemon run with exactly that
# set (setpriv), its effective set read back by capsh, every program attached as under
# root, and each capability beyond CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN and
# CAP_SYS_RESOURCE shown necessary by what is lost without it.
METRICS_PORT=${METRICS_PORT:-19560}
. "$(dirname "$0")/lib.sh"
K8S=$ROOT/deploy/kubernetes
PY=/usr/bin/python3 # Debian's python3-yaml loads here
NODE_DIR=$ROOT/tests/workloads
OLD_PORT=19561

quiet() { local out; out=$("$@" 2>&1) || { printf '%s\n' "$out" | sed 's/^/    | /'; return 1; }; }
for t in setpriv capsh node curl; do
	command -v $t >/dev/null || { check "$t installed (tests/deps.sh)" false; finish; }
done
[[ -d $NODE_DIR/node_modules/kubernetes-models ]] ||
	{ check "tests/workloads node_modules (npm ci, tests/deps.sh)" false; finish; }

# ---- render ---------------------------------------------------------------------------
echo "(a) render the base, the overlays and the overlays with each component"
# Each case is a kustomization in $WORK naming an overlay (and a component), so that both
# renderers read the same thing.
CASES="base privileged least-privilege least-privilege+servicemonitor privileged+podmonitor least-privilege+metadata"
REL=$(realpath --relative-to="$WORK/k" "$K8S" 2>/dev/null || $PY -c 'import os,sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' "$K8S" "$WORK/k")
mkcase() { # CASE -> $WORK/k/CASE/kustomization.yaml
	local c=$1 over=${1%%+*} comp=
	[[ $c == *+* ]] && comp=${c#*+}
	mkdir -p "$WORK/k/$c"
	{
		echo "apiVersion: kustomize.config.k8s.io/v1beta1"
		echo "kind: Kustomization"
		echo "resources:"
		if [[ $over == base ]]; then echo "  - ../$REL/base"; else echo "  - ../$REL/overlays/$over"; fi
		[[ -n $comp ]] && printf 'components:\n  - ../%s/components/%s\n' "$REL" "$comp"
	} >"$WORK/k/$c/kustomization.yaml"
}
render() {
	$PY "$(dirname "$0")/kustomize.py" "$WORK/k/$1" >"$WORK/$1.yaml" 2>"$WORK/$1.err" ||
		{ sed 's/^/    | /' "$WORK/$1.err"; return 1; }
}
for c in $CASES; do
	mkdir -p "$WORK/k"
	mkcase "$c"
	check "render $c" render "$c"
done
same_docs() { # A B: the same objects
	$PY - "$1" "$2" <<-'EOF'
		import json, sys, yaml
		def load(p):
		    return sorted((d for d in yaml.safe_load_all(open(p)) if d),
		                  key=lambda d: (d["kind"], d["metadata"]["name"]))
		a, b = load(sys.argv[1]), load(sys.argv[2])
		if a != b:
		    sys.exit("    differ:\n" + json.dumps(a, sort_keys=True)[:400] + "\n" + json.dumps(b, sort_keys=True)[:400])
	EOF
}
if command -v kubectl >/dev/null && kubectl kustomize --help >/dev/null 2>&1; then
	for c in $CASES; do
		kubectl kustomize "$WORK/k/$c" >"$WORK/$c.kubectl.yaml" 2>"$WORK/$c.kubectl.err"
		check "$c: kustomize.py renders what kubectl kustomize renders" same_docs "$WORK/$c.yaml" "$WORK/$c.kubectl.yaml"
	done
else
	echo "    (no kubectl here: kustomize.py's output not compared; it refuses any field outside its subset)"
fi

# ---- schema ---------------------------------------------------------------------------
echo "(b) every object against the Kubernetes OpenAPI schema (kubernetes-models)"
for c in $CASES; do
	check "$c: valid" quiet node "$NODE_DIR/validate_k8s.mjs" "$WORK/$c.yaml"
done
# The validator must be able to fail: a memory limit that is no quantity.
sed 's/memory: 128Mi/memory: lots/' "$WORK/privileged.yaml" >"$WORK/broken.yaml"
check "the validator refuses a memory limit that is no quantity" bash -c \
	"! node '$NODE_DIR/validate_k8s.mjs' '$WORK/broken.yaml' >/dev/null"

# ---- fields ---------------------------------------------------------------------------
echo "(c) the fields asked for"
fields() { # CASE
	$PY - "$WORK/$1.yaml" "$1" "$ROOT/deploy/fogprobe.json" <<-'EOF'
		import sys, yaml
		docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
		case = sys.argv[2]
		kinds = {}
		for d in docs:
		    kinds.setdefault(d["kind"], []).append(d)
		errs = []
		def need(cond, msg):
		    if not cond:
		        errs.append(msg)
		for k in ("Namespace", "ServiceAccount", "ConfigMap", "DaemonSet", "Service"):
		    need(k in kinds, "no " + k)
		if errs:
		    sys.exit("\n".join("    " + e for e in errs))
		ds = kinds["DaemonSet"][0]
		ns = ds["metadata"]["namespace"]
		need(all(d["metadata"].get("namespace", ns) == ns for d in docs if d["kind"] != "Namespace"),
		     "objects in different namespaces")
		pod = ds["spec"]["template"]
		spec = pod["spec"]
		need(ds["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items(),
		     "selector does not match the pod labels")
		c = spec["containers"][0]
		need(c["args"] == ["--config", "/etc/fogprobe/fogprobe.json", "--log-format", "json"],
		     "args: %r" % c["args"])
		sc = c.get("securityContext", {})
		over = case.split("+")[0]
		if over == "base":
		    need(not sc.get("privileged") and "capabilities" not in sc, "base grants privileges")
		elif over == "privileged":
		    need(sc.get("privileged") is True, "not privileged")
		else:
		    need(sc.get("privileged") is False and sc.get("allowPrivilegeEscalation") is False,
		         "least-privilege: privileged or escalation allowed")
		    need(sc.get("capabilities", {}).get("drop") == ["ALL"], "least-privilege: does not drop ALL")
		    add = sc.get("capabilities", {}).get("add", [])
		    need({"BPF", "PERFMON", "NET_ADMIN", "SYS_RESOURCE"} <= set(add), "least-privilege adds %s" % add)
		    need("SYS_ADMIN" not in add, "least-privilege adds SYS_ADMIN")
		need(sc.get("readOnlyRootFilesystem") is True, "root filesystem writable")
		need(not spec.get("hostPID") and not spec.get("hostNetwork"), "hostPID/hostNetwork set")
		need(spec.get("terminationGracePeriodSeconds") == 10, "terminationGracePeriodSeconds")
		need({"operator": "Exists"} in spec.get("tolerations", []), "does not tolerate every taint")
		need(c["resources"]["limits"]["memory"] == "128Mi", "memory limit")
		need(c["resources"]["requests"]["cpu"] == "50m" and c["resources"]["requests"]["memory"] == "64Mi",
		     "requests")
		ports = {p["name"]: p["containerPort"] for p in c["ports"]}
		def port(p):
		    return ports.get(p, p)
		lp, rp = c["livenessProbe"]["httpGet"], c["readinessProbe"]["httpGet"]
		need(lp["path"] == "/healthz" and port(lp["port"]) == 9477, "liveness probe")
		need(rp["path"] == "/readyz" and port(rp["port"]) == 9477, "readiness probe")
		ann = pod["metadata"].get("annotations", {})
		need(ann.get("prometheus.io/scrape") == "true" and ann.get("prometheus.io/port") == "9477"
		     and ann.get("prometheus.io/path") == "/metrics", "prometheus.io annotations")
		vols = {v["name"]: v for v in spec["volumes"]}
		mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
		for path in ("/sys/kernel/btf", "/sys/kernel/tracing", "/sys/fs/cgroup", "/sys/fs/bpf"):
		    v = vols.get(mounts.get(path), {})
		    need(v.get("hostPath", {}).get("path") == path, "hostPath mount of " + path)
		need(vols.get(mounts.get("/host/proc"), {}).get("hostPath", {}).get("path") == "/proc",
		     "host /proc at /host/proc")
		svc = kinds["Service"][0]
		need(svc["spec"].get("clusterIP") == "None", "Service is not headless")
		need(svc["spec"]["selector"].items() <= pod["metadata"]["labels"].items(),
		     "Service selector does not match the pods")
		need(not svc["metadata"].get("annotations"), "Service annotated: pods would be scraped twice")
		for sm in kinds.get("ServiceMonitor", []):
		    need(sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items(),
		         "ServiceMonitor does not select the Service")
		    need(all(e["port"] in [p["name"] for p in svc["spec"]["ports"]] for e in sm["spec"]["endpoints"]),
		         "ServiceMonitor port is no Service port name")
		    need(ns in sm["spec"]["namespaceSelector"]["matchNames"], "ServiceMonitor namespace")
		for pm in kinds.get("PodMonitor", []):
		    need(pm["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items(),
		         "PodMonitor does not select the pods")
		    need(all(e["port"] in ports for e in pm["spec"]["podMetricsEndpoints"]),
		         "PodMonitor port is no container port name")
		if "+" in case:
		    comp = case.split("+")[1]
		    need({"servicemonitor": "ServiceMonitor", "podmonitor": "PodMonitor",
		          "metadata": "PrometheusRule"}[comp] in kinds,
		         "component %s added nothing" % comp)
		cmname = vols.get(mounts.get("/etc/fogprobe"), {}).get("configMap", {}).get("name")
		cms = [d for d in kinds["ConfigMap"] if d["metadata"]["name"] == cmname]
		need(len(cms) == 1, "no ConfigMap %r mounted at /etc/fogprobe" % cmname)
		if cms:
		    need(cms[0]["data"]["fogprobe.json"] == open(sys.argv[3]).read(),
		         "ConfigMap fogprobe.json differs from deploy/fogprobe.json")
		if errs:
		    sys.exit("\n".join("    " + e for e in errs))
	EOF
}
for c in $CASES; do
	check "$c: DaemonSet, securityContext, probes, resources, mounts, Service, monitors, ConfigMap" fields "$c"
done

# ---- the metadata component's rules ----------------------------------------------------
echo "(d) the metadata component's recording rules (promtool)"
metadata_rules() {
	command -v promtool >/dev/null || { echo "    promtool missing (tests/deps.sh)"; return 1; }
	$PY - "$WORK/least-privilege+metadata.yaml" "$WORK/metadata-rules.yml" <<-'EOF' || return 1
		import sys, yaml
		for d in yaml.safe_load_all(open(sys.argv[1])):
		    if d and d["kind"] == "PrometheusRule":
		        yaml.safe_dump({"groups": d["spec"]["groups"]}, open(sys.argv[2], "w"), sort_keys=False)
	EOF
	cp "$K8S/components/metadata/rules.test.yml" "$WORK/"
	quiet promtool check rules "$WORK/metadata-rules.yml" &&
		quiet promtool test rules "$WORK/rules.test.yml"
}
check "container_* joined with kube_pod_info: promtool check rules and test rules" metadata_rules

# ---- the daemon -----------------------------------------------------------------------
# The least-privilege overlay's capabilities, as setpriv names them.
CAPS=$($PY -c '
import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d["kind"] == "DaemonSet":
        print(" ".join(c.lower() for c in d["spec"]["template"]["spec"]["containers"][0]
                       ["securityContext"]["capabilities"]["add"]))' "$WORK/least-privilege.yaml")
echo "(e) the daemon with exactly the least-privilege set: $CAPS"
# run_caps "CAP..." ARGS...: the daemon (or a command of it) with exactly these capabilities
# in its bounding set, hence permitted and effective set (uid 0), none inheritable or
# ambient, no new privileges.
bounding() { local set=-all c; for c in $1; do set+=",+$c"; done; echo "$set"; }
run_caps() {
	setpriv --bounding-set="$(bounding "$1")" --inh-caps=-all --no-new-privs -- "$FOGPROBE" "${@:2}"
}
# The manifests' config, its listen address and services replaced by the test's: one
# service whose listener (uid nobody) is older than the daemon.
$PY -c '
import json, sys
c = json.load(open(sys.argv[1]))
c["services"] = [{"name": "old", "protocol": "tcp", "ports": [int(sys.argv[2])]}]
json.dump(c, open(sys.argv[3], "w"))' "$ROOT/deploy/fogprobe.json" $OLD_PORT "$WORK/config.json"
setpriv --reuid=65534 --regid=65534 --clear-groups $PY -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", '$OLD_PORT')); s.listen(); time.sleep(600)' &
OLD=$!
on_exit "kill $OLD"
listening() { ss -ltnH "sport = :$OLD_PORT" | grep -q . && echo yes; }
settle yes listening || { check "the older listener (nobody) listens" false; finish; }

# daemon CAPS|all: start it, wait for /readyz (or its end), leave DAEMON_PID set
daemon() {
	local i
	rm -f "$WORK/daemon.log"
	if [[ $1 == all ]]; then
		"$FOGPROBE" --config "$WORK/config.json" --listen "127.0.0.1:$METRICS_PORT" >"$WORK/daemon.log" 2>&1 &
	else
		# not through run_caps: $! must be the daemon (setpriv execs it), not a subshell
		setpriv --bounding-set="$(bounding "$1")" --inh-caps=-all --no-new-privs -- "$FOGPROBE" \
			--config "$WORK/config.json" --listen "127.0.0.1:$METRICS_PORT" >"$WORK/daemon.log" 2>&1 &
	fi
	DAEMON_PID=$!
	for i in $(seq 1 100); do
		curl -sf "http://127.0.0.1:$METRICS_PORT/readyz" >/dev/null 2>&1 && return 0
		kill -0 "$DAEMON_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
attached() { scrape | grep '^fogprobe_probe_attached{' | sort; }

# Under root (every capability) first: what it attaches is the reference.
daemon all ||
	{ check "daemon ready with every capability" false; finish; }
attached >"$WORK/attached.root"
stop_daemon

check "fogprobe check with exactly the set: ok" quiet run_caps "$CAPS" check
check "the daemon becomes ready (/readyz) with exactly the set" daemon "$CAPS"
# capabilities of a status field of PID, one "cap_x" a line
caps_of() { capsh --decode=$(awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status") | sed 's/^.*=//' | tr ',' '\n' | sort; }
# A capability this machine's own bounding set lacks (a container may withhold some)
# cannot be given: the daemon runs without it, which is said.
caps_of $$ CapBnd >"$WORK/ours"
for c in $CAPS; do
	grep -qx "cap_$c" "$WORK/ours" || echo "    (cap_$c is not in this machine's bounding set: the daemon runs without it here)"
done
# Once attached, the daemon drops what it no longer needs (user/daemon.c): what is left
# is within the set it was given and is what its log says it kept.
capeff() {
	local given got kept
	got=$(caps_of "$DAEMON_PID" CapEff | tr '\n' ' ')
	given=$(for c in $CAPS; do echo "cap_$c"; done | sort | grep -xF -f "$WORK/ours")
	kept=$(sed -n 's/^.*capabilities: kept \([a-z_,]*\).*$/\1/p' "$WORK/daemon.log" | tail -n 1 |
		tr ',' '\n' | grep . | sort | tr '\n' ' ')
	echo "    given: $(echo $given); effective once ready: $got"
	[[ -n $got ]] || { echo "    no effective capability left"; return 1; }
	eq "$got" "$kept" || return 1
	local c
	for c in $got; do
		grep -qx "$c" <<<"$given" || { echo "    $c was not given"; return 1; }
	done
}
check "its effective capabilities: within the set, and what its log says it kept" capeff
check "/healthz" curl -sf -o /dev/null "http://127.0.0.1:$METRICS_PORT/healthz"
attached >"$WORK/attached.caps"
same_attached() {
	[[ -s $WORK/attached.root ]] || { echo "    nothing attached under root"; return 1; }
	grep -q ' 1$' "$WORK/attached.caps" || { echo "    no program attached"; return 1; }
	# but for the socket counters, and the sent bytes that come with them: sock_diag
	# enters network namespaces (CAP_SYS_ADMIN, which the overlay leaves out), so they
	# are counted per packet there
	local sd='feature="(socket_counters|throughput_tx)",program="account_diag"'
	local pp='feature="(socket_counters|throughput_tx)",program="count_egress"'
	if grep -Eq "$sd.* 1\$" "$WORK/attached.root"; then
		[[ $(grep -Ec "$pp.* 1\$" "$WORK/attached.caps") == 2 ]] ||
			{ echo "    socket counters: not per packet without CAP_SYS_ADMIN"; return 1; }
		grep -Ev "$sd|$pp" "$WORK/attached.root" >"$WORK/attached.root.cmp"
		grep -Ev "$sd|$pp" "$WORK/attached.caps" >"$WORK/attached.caps.cmp"
	else
		cp "$WORK/attached.root" "$WORK/attached.root.cmp"
		cp "$WORK/attached.caps" "$WORK/attached.caps.cmp"
	fi
	diff "$WORK/attached.root.cmp" "$WORK/attached.caps.cmp" | sed 's/^/    /'
	cmp -s "$WORK/attached.root.cmp" "$WORK/attached.caps.cmp"
}
check "fogprobe_probe_attached: every hook attached as under root ($(grep -c ' 1$' "$WORK/attached.root") of $(wc -l <"$WORK/attached.root"))" same_attached
check "an older listener of another user (nobody) found: fogprobe_service_up 1" \
	settle 1 metric fogprobe_service_up 'service="old"'
check "SIGTERM: exit 0" stop_daemon

# Each capability beyond the four: without it, something is lost.
for c in $CAPS; do
	case $c in bpf | perfmon | net_admin | sys_resource) continue ;; esac
	less=$(for x in $CAPS; do [[ $x == "$c" ]] || echo "$x"; done | tr '\n' ' ')
	lost() {
		daemon "$less" || { echo "    not ready without $c"; return 0; }
		sleep 1.5 # the start-up scan is done at ready; give the health check its ticks
		local up
		up=$(metric fogprobe_service_up 'service="old"')
		stop_daemon
		[[ $up == 0 ]] || { echo "    service_up $up without $c: not needed for it"; return 1; }
	}
	check "without $c the older listener of nobody stays unseen (service_up 0)" lost
done
finish
