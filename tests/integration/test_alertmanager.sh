#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# deploy/alertmanager/alertmanager.yml against Alertmanager's own tools: amtool
# check-config; `amtool config routes test` sends every alert of
# deploy/prometheus/fogprobe-rules.yml (with its labels) and every rule of the daemon's
# engine to the receivers of Fog Compute's policy (critical: PagerDuty and Slack;
# warning: the component's Slack channel; else email); and a real Alertmanager with this
# file applies the inhibitions (critical over warning of the same alertname and service;
# a Betanet node down over that node's other Betanet alerts; FogprobeDown over its node).
METRICS_PORT=19363
. "$(dirname "$0")/lib.sh"
AMTOOL=/usr/bin/amtool
AM=/usr/bin/prometheus-alertmanager
CFG=$ROOT/deploy/alertmanager/alertmanager.yml
AM_PORT=19362
[[ -x $AMTOOL && -x $AM ]] || skip "prometheus-alertmanager is not installed (tests/deps.sh)"

check "amtool check-config passes" $AMTOOL check-config "$CFG"

# The policy, written out: alertname -> receivers (a new alert must be placed here).
declare -A WANT=(
	[BetanetNodeDown]=pagerduty,slack-critical
	[BitChatServiceDown]=pagerduty,slack-critical
	[ControlPanelDown]=pagerduty,slack-critical
	[ControlPanelHighErrorRate]=pagerduty,slack-critical
	[BetanetMixnodeFailure]=pagerduty,slack-critical
	[FogprobeDown]=pagerduty,slack-critical
	[FogprobeHookMissing]=pagerduty,slack-critical
	[BetanetHighPacketLoss]=slack-betanet
	[BetanetLowPeerCount]=slack-betanet
	[SlowBetanetThroughput]=slack-betanet
	[BetanetHighLatency]=slack-betanet
	[BetanetRoutingFailure]=slack-betanet
	[BitChatHighConnectionDrops]=slack-bitchat
	[BitChatMessageQueueBacklog]=slack-bitchat
	[HighBitChatMessageLatency]=slack-bitchat
	[BitChatRoomOverload]=slack-bitchat
	[SlowControlPanelResponse]=slack-control-panel
	[HighMemoryUsage]=slack-infra
	[HighCPUUsage]=slack-infra
	[DiskSpaceLow]=slack-infra
	[FogprobeEventsLost]=slack-infra
	[LowServiceAvailability]=slack
	[ServiceFlapping]=slack
	[ServiceSLOBudgetExhausted]=slack
	[ServiceProcessCrashed]=slack
	[ServiceOOMKilled]=slack
)

# every alert of the rules file, and of the engine, as: name label=value...
{
	/usr/bin/python3 -c '
import sys, yaml
for g in yaml.safe_load(open(sys.argv[1]))["groups"]:
    for r in g["rules"]:
        if "alert" in r:
            print(" ".join([r["alert"]] + ["%s=%s" % kv for kv in sorted(r.get("labels", {}).items())]))' \
		"$ROOT/deploy/prometheus/fogprobe-rules.yml"
	"$FOGPROBE" rules | /usr/bin/python3 -c '
import json, sys
for r in json.load(sys.stdin):
    print(" ".join([r["alert"]] + ["%s=%s" % kv for kv in sorted(r["labels"].items())]))'
} | sort -u >"$WORK/alerts"
echo "$(wc -l <"$WORK/alerts") distinct alerts (rules file and engine)"
while read -r name labels; do
	want=${WANT[$name]:-}
	check "$name is placed by the policy" [ -n "$want" ]
	[[ -n "$want" ]] || continue
	# shellcheck disable=SC2086
	got=$($AMTOOL config routes test --config.file="$CFG" alertname="$name" $labels \
		service=betanet instance=node-1 2>/dev/null)
	check "$name ($labels) -> $want" eq "$got" "$want"
done <"$WORK/alerts"
check "an alert without severity goes to email" eq "$($AMTOOL config routes test --config.file="$CFG" alertname=Other 2>/dev/null)" email

echo "inhibitions in a running Alertmanager"
mkdir -p "$WORK/am"
$AM --config.file="$CFG" --storage.path="$WORK/am" --web.listen-address="127.0.0.1:$AM_PORT" \
	--cluster.listen-address= >"$WORK/am.log" 2>&1 &
AMP=$!
on_exit "kill $AMP"
am_ready() { curl -sf -o /dev/null "http://127.0.0.1:$AM_PORT/-/ready" && echo ready; }
# Alertmanager reads its config and storage first: slow on a loaded machine
settle_long() { local i; for i in $(seq 1 300); do [[ "$("${@:2}")" == "$1" ]] && return 0; sleep 0.1; done; return 1; }
check "Alertmanager ready" settle_long ready am_ready || { sed 's/^/    | /' "$WORK/am.log"; finish; }
add() { $AMTOOL --alertmanager.url="http://127.0.0.1:$AM_PORT" alert add "$@" >/dev/null || echo "    amtool alert add $* failed"; }
add alertname=ControlPanelHighErrorRate severity=critical service=control-panel instance=n1
add alertname=ControlPanelHighErrorRate severity=warning service=control-panel instance=n1
add alertname=ControlPanelHighErrorRate severity=warning service=backend instance=n1
add alertname=BetanetNodeDown severity=critical service=betanet instance=n2
add alertname=BetanetLowPeerCount severity=warning instance=n2
add alertname=BetanetLowPeerCount severity=warning instance=n3
add alertname=ServiceProcessCrashed severity=warning service=control-panel instance=n2
add alertname=FogprobeDown severity=critical instance=n4
add alertname=DiskSpaceLow severity=warning instance=n4 mountpoint=/
# state NAME LABEL=VALUE...: active or suppressed, as Alertmanager reports it
state() {
	curl -sf "http://127.0.0.1:$AM_PORT/api/v2/alerts" | /usr/bin/python3 -c '
import json, sys
want = dict(a.split("=", 1) for a in sys.argv[1:])
s = [a["status"]["state"] for a in json.load(sys.stdin) if all(a["labels"].get(k) == v for k, v in want.items())]
print(",".join(s) or "none")' "$@"
}
settle suppressed state alertname=ControlPanelHighErrorRate severity=warning service=control-panel >/dev/null
check "critical inhibits the warning of the same alertname and service" eq "$(state alertname=ControlPanelHighErrorRate severity=warning service=control-panel)" suppressed
check "... not that of another service" eq "$(state alertname=ControlPanelHighErrorRate severity=warning service=backend)" active
check "the critical itself stays active" eq "$(state alertname=ControlPanelHighErrorRate severity=critical)" active
check "BetanetNodeDown inhibits that node's BetanetLowPeerCount" eq "$(state alertname=BetanetLowPeerCount instance=n2)" suppressed
check "... not another node's" eq "$(state alertname=BetanetLowPeerCount instance=n3)" active
check "... nor that node's non-Betanet alerts" eq "$(state alertname=ServiceProcessCrashed instance=n2)" active
check "BetanetNodeDown itself stays active" eq "$(state alertname=BetanetNodeDown)" active
check "FogprobeDown inhibits its node's other alerts" eq "$(state alertname=DiskSpaceLow instance=n4)" suppressed
finish
