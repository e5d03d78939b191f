#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The deployment files under deploy/ checked with the tools that consume them: promtool
# (config, rules, rule unit tests), systemd-analyze for the unit, the Dockerfile against
# the build's packages and libraries (Kubernetes: test_kubernetes.sh; Grafana:
# test_dashboards.sh; the compose stack: test_compose.sh). No network namespaces and no
# daemon.
. "$(dirname "$0")/lib.sh"
DEPLOY=$ROOT/deploy
PY=/usr/bin/python3 # Debian's python3-yaml loads here, not under another python3 on PATH

# Run a command; show its output only when it fails.
quiet() {
	local out rc
	out=$("$@" 2>&1)
	rc=$?
	[[ $rc -eq 0 ]] || printf '%s\n' "$out" | sed 's/^/    | /'
	return $rc
}

# ---- Prometheus ---------------------------------------------------------------------
echo "(a) Prometheus config, rules and rule unit tests (promtool)"
if ! command -v promtool >/dev/null; then
	check "promtool installed (Debian package prometheus)" false
else
	# Debian builds Prometheus without Kubernetes discovery ("field kubernetes_sd_configs
	# not found"). Then check a copy whose kubernetes_sd_configs are replaced by an empty
	# static_configs, so the relabel rules are still validated, and check the discovery
	# block itself against the upstream schema's shape.
	promtool_config() {
		local out
		out=$(promtool check config "$DEPLOY/prometheus/prometheus.yml" 2>&1) && return 0
		if ! grep -q 'field kubernetes_sd_configs not found' <<<"$out"; then
			printf '%s\n' "$out" | sed 's/^/    | /'
			return 1
		fi
		echo "    (this promtool has no Kubernetes discovery: checking with it stubbed)"
		mkdir -p "$WORK/prom"
		cp "$DEPLOY/prometheus/fogprobe-rules.yml" "$WORK/prom/"
		$PY - "$DEPLOY/prometheus/prometheus.yml" "$WORK/prom/prometheus.yml" <<-'EOF' || return 1
			import sys, yaml
			cfg = yaml.safe_load(open(sys.argv[1]))
			n = 0
			for job in cfg["scrape_configs"]:
			    sd = job.pop("kubernetes_sd_configs", None)
			    if sd is None:
			        continue
			    n += 1
			    for c in sd:
			        assert c.get("role") in ("node", "pod", "service", "endpoints",
			                                 "endpointslice", "ingress"), c
			        assert set(c) <= {"role", "namespaces", "selectors", "api_server",
			                          "kubeconfig_file", "attach_metadata"}, c
			    keeps = [r for r in job.get("relabel_configs", []) if r.get("action") == "keep"]
			    assert any("__meta_kubernetes_pod_annotation_prometheus_io_scrape"
			               in r.get("source_labels", []) for r in keeps), "no scrape-annotation keep"
			    job["static_configs"] = []
			assert n >= 1, "no kubernetes_sd_configs job"
			yaml.safe_dump(cfg, open(sys.argv[2], "w"), sort_keys=False)
		EOF
		quiet promtool check config "$WORK/prom/prometheus.yml"
	}
	check "promtool check config deploy/prometheus/prometheus.yml" promtool_config
	check "promtool check rules deploy/prometheus/fogprobe-rules.yml" \
		quiet promtool check rules "$DEPLOY/prometheus/fogprobe-rules.yml"
	check "promtool test rules deploy/prometheus/fogprobe-rules.test.yml" \
		quiet promtool test rules "$DEPLOY/prometheus/fogprobe-rules.test.yml"
	alerts_present() {
		local a missing=0
		for a in BetanetHighPacketLoss BetanetLowPeerCount BetanetMixnodeFailure \
			SlowBetanetThroughput FogprobeEventsLost FogprobeHookMissing BetanetNodeDown \
			BitChatServiceDown ControlPanelDown LowServiceAvailability ServiceFlapping \
			HighMemoryUsage HighCPUUsage DiskSpaceLow; do
			grep -q "alert: $a\$" "$DEPLOY/prometheus/fogprobe-rules.yml" ||
				{ echo "    missing alert $a"; missing=1; }
		done
		[[ $(grep -c 'alert: BetanetHighPacketLoss$' "$DEPLOY/prometheus/fogprobe-rules.yml") -eq 2 ]] ||
			{ echo "    BetanetHighPacketLoss: want the rate and the ratio form"; missing=1; }
		return $missing
	}
	check "rules file has every alert asked for (BetanetHighPacketLoss twice)" alerts_present
fi

# ---- systemd ------------------------------------------------------------------------
echo "(b) systemd unit"
UNIT=$DEPLOY/systemd/fogprobe.service
unit_fields() {
	local f bad=0
	for f in 'Type=simple' \
		'ExecStart=/usr/local/bin/fogprobe --config /etc/fogprobe/fogprobe.json' \
		'Restart=on-failure' 'KillSignal=SIGTERM' 'TimeoutStopSec=5' 'LimitMEMLOCK=infinity' \
		'ProtectSystem=strict'; do
		grep -qxF "$f" "$UNIT" || { echo "    missing $f"; bad=1; }
	done
	for f in PrivateNetwork ProtectKernelTunables; do
		grep -q "^$f=yes" "$UNIT" && { echo "    $f=yes breaks the probe"; bad=1; }
	done
	return $bad
}
check "unit has the directives asked for" unit_fields
if command -v systemd-analyze >/dev/null; then
	# verify wants ExecStart to exist: point it at a copy of the binary. Warnings
	# (unknown keys, bad values) do not change its exit status, so any output fails.
	unit_verify() {
		local out rc
		mkdir -p "$WORK/unit"
		cp "$FOGPROBE" "$WORK/unit/fogprobe"
		sed "s#/usr/local/bin/fogprobe#$WORK/unit/fogprobe#" "$UNIT" >"$WORK/unit/fogprobe.service"
		out=$(cd "$WORK/unit" && systemd-analyze verify ./fogprobe.service 2>&1)
		rc=$?
		[[ -n "$out" ]] && printf '%s\n' "$out" | sed 's/^/    | /'
		[[ $rc -eq 0 && -z "$out" ]]
	}
	check "systemd-analyze verify deploy/systemd/fogprobe.service" unit_verify
else
	check "systemd-analyze installed (Debian package systemd)" false
fi

# ---- Docker -------------------------------------------------------------------------
echo "(c) Dockerfile (no Docker engine here: contents only)"
DF=$DEPLOY/docker/Dockerfile
docker_build_deps() {
	# The "# build" group of tests/deps.sh, every package of it.
	local pkgs p bad=0
	pkgs=$(awk '/# build/{f=1; next} /#/{f=0} f' "$ROOT/tests/deps.sh")
	[[ -n "$pkgs" ]] || { echo "    no build group in tests/deps.sh"; return 1; }
	for p in $pkgs; do
		grep -qw -- "$p" "$DF" || { echo "    build stage lacks $p"; bad=1; }
	done
	return $bad
}
check "build stage installs every build package of tests/deps.sh" docker_build_deps
docker_runtime_libs() {
	# Each shared library build/fogprobe needs comes from a package the runtime stage
	# installs (libc6 is in the base image).
	local runtime lib path pkg bad=0
	runtime=$(awk '/^FROM/{n++} n==2' "$DF")
	for lib in $(readelf -d "$FOGPROBE" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
		path=$(ldconfig -p | awk -v l="$lib" '$1 == l { print $NF; exit }')
		pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -1 | cut -d: -f1)
		[[ -n "$pkg" ]] || pkg=$(dpkg -S "$path" 2>/dev/null | head -1 | cut -d: -f1)
		[[ "$pkg" == libc6 ]] && continue
		grep -qw -- "$pkg" <<<"$runtime" || { echo "    $lib ($pkg) not installed in the runtime stage"; bad=1; }
	done
	grep -q 'COPY --from=.*build/fogprobe' <<<"$runtime" || { echo "    binary not copied"; bad=1; }
	grep -q 'COPY deploy/fogprobe.json' <<<"$runtime" || { echo "    config not copied"; bad=1; }
	return $bad
}
check "runtime stage provides every library build/fogprobe links" docker_runtime_libs

finish
