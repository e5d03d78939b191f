#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Self-check of tests/workloads/betanet.py on 127.0.0.1: runs a server and a client per
# case and checks the two JSON count lines against each other. No root needed.
#   test_betanet_workload.sh [PORT]     (default 19301; uses PORT only)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
W="/usr/bin/python3 $HERE/betanet.py"
PORT=${1:-19301}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fails=0

# case NAME "SERVER ARGS" "CLIENT ARGS" PYTHON-CONDITION (c: client counts, s: server
# counts, t: client wall time in seconds)
case_() {
    local name=$1 sargs=$2 cargs=$3 cond=$4
    $W server "$PORT" --bind 127.0.0.1 --duration 60 $sargs >"$TMP/s" 2>"$TMP/serr" &
    local spid=$!
    for _ in $(seq 100); do grep -q listening "$TMP/serr" && break; sleep 0.05; done
    local t0=$(date +%s.%N)
    $W client 127.0.0.1 "$PORT" $cargs >"$TMP/c" 2>"$TMP/cerr"
    local t1=$(date +%s.%N)
    wait "$spid"
    if /usr/bin/python3 - "$TMP/c" "$TMP/s" "$t0" "$t1" "$cond" <<'EOF'
import json, sys
c = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
s = json.loads(open(sys.argv[2]).read().strip().splitlines()[-1])
t = float(sys.argv[4]) - float(sys.argv[3])
# always: the server accounts for every data/control request, both ends agree on bytes
# and frames
inv = (s["requests_data"] + s["requests_control"]
       == s["responses_sent"] + s["responses_dropped"] + s["responses_unsent"]
       and c["responses_received"] + c["responses_missing"] == c["data"] + c["control"])
ok = inv and eval(sys.argv[5])
if not ok:
    print("client", c, "\nserver", s, "\ntime %.2f" % t)
sys.exit(0 if ok else 1)
EOF
    then
        echo "ok   $name"
    else
        echo "FAIL $name"; cat "$TMP/cerr" "$TMP/serr"; fails=$((fails + 1))
    fi
}

SAME='c["data"] == s["requests_data"] and c["control"] == s["requests_control"] and c["cover"] == s["requests_cover"] and c["bytes_sent"] == s["bytes_received"] and c["bytes_received"] == s["bytes_sent"]'

case_ normal "--count 3" "--connections 3" \
    "$SAME and c['data'] == 30 and c['control'] == 6 and c['cover'] == 6 and c['responses_received'] == 36 and c['responses_missing'] == 0 and s['handshakes_ok'] == 3 and c['handshakes'] == 3 and c['resets'] == 0 and c['errors'] == 0"
case_ drop-0.2 "--count 5 --drop-prob 0.2 --seed 7" "--connections 5 --data 20 --response-timeout 0.3" \
    "$SAME and c['responses_received'] == s['responses_sent'] and c['responses_missing'] == s['responses_dropped'] > 0 and s['responses_unsent'] == 0"
case_ drop-0.2-pipelined "--count 4 --drop-prob 0.2" "--connections 4 --data 30 --mode pipelined --response-timeout 0.5" \
    "$SAME and c['responses_received'] == s['responses_sent'] and c['responses_missing'] == s['responses_dropped'] > 0"
case_ split "--count 2" "--connections 2 --data 3 --control 1 --cover 1 --write-mode split" \
    "$SAME and c['responses_received'] == 8 and c['responses_missing'] == 0"
case_ coalesce-pipelined "--count 2" "--connections 2 --data 50 --mode pipelined --write-mode coalesce --batch 0" \
    "$SAME and c['responses_received'] == 104 and c['responses_missing'] == 0"
case_ coalesce-sync "--count 1" "--data 20 --write-mode coalesce --batch 4" \
    "$SAME and c['responses_received'] == 22 and c['responses_missing'] == 0"
case_ delay-pipelined "--count 1 --response-delay-ms 50" "--data 10 --mode pipelined" \
    "$SAME and c['responses_received'] == 12 and 0.05 <= t < 2"
case_ delay-sync "--count 1 --response-delay-ms 50" "--data 10" \
    "$SAME and c['responses_received'] == 12 and 0.6 <= t < 3"
case_ late-responses "--count 1 --response-delay-ms 300" "--data 4 --control 0 --response-timeout 0.1" \
    "$SAME and c['responses_received'] == 4 and c['responses_missing'] == 0"
case_ parallel "--count 20" "--connections 20 --parallel" \
    "$SAME and c['responses_received'] == 240 and s['handshakes_ok'] == 20 and t < 5"
case_ handshake-delay "--count 2 --handshake-delay-ms 500" "--connections 2" \
    "$SAME and c['handshakes'] == 2 and 1.0 <= t < 3"

# misbehaving clients
case_ c-bad-handshake "--count 1" "--misbehave bad-handshake" \
    "c['handshake_failures'] == 1 and s['handshake_failures'] == 1 and s['handshakes_ok'] == 0 and c['bytes_sent'] == s['bytes_received'] and t < 2"
case_ c-oversized-advert "--count 1" "--misbehave oversized-advert" \
    "c['handshake_failures'] == 1 and s['handshake_failures'] == 1 and s['bytes_received'] == c['bytes_sent'] > 8192 and t < 2"
case_ c-version-mismatch "--count 1" "--misbehave version-mismatch" \
    "c['handshake_failures'] == 1 and s['handshake_failures'] == 1 and s['handshakes_ok'] == 0 and t < 2"
case_ c-rst-mid-stream "--count 1" "--misbehave rst-mid-stream --rst-after 3" \
    "c['rst_sent'] == 1 and c['data'] + c['control'] + c['cover'] == 3 and s['requests'] == 3 and s['resets'] == 1"
case_ c-rst-pipelined "--count 1 --response-delay-ms 200" "--misbehave rst-mid-stream --rst-after 5 --mode pipelined --response-timeout 0.05" \
    "c['rst_sent'] == 1 and s['requests'] == 5 and s['resets'] == 1 and c['responses_missing'] > 0"
case_ c-idle-server-timeout "--count 1 --idle-timeout 1" "--misbehave idle --idle-seconds 5" \
    "c['handshakes'] == 1 and s['idle_timeouts'] == 1 and c['closed_by_peer'] == 1 and 0.9 < t < 3"
case_ c-idle-client-closes "--count 1" "--misbehave idle --idle-seconds 1" \
    "c['handshakes'] == 1 and s['idle_timeouts'] == 0 and c['closed_by_peer'] == 0 and 0.9 < t < 3"
case_ c-misbehave-every-2 "--count 4" "--connections 4 --misbehave bad-handshake --misbehave-every 2" \
    "c['handshakes'] == 2 and c['handshake_failures'] == 2 and s['handshakes_ok'] == 2 and c['responses_received'] == 24"

# misbehaving servers
case_ s-bad-handshake "--count 1 --misbehave bad-handshake" "" \
    "c['handshake_failures'] == 1 and s['handshake_failures'] == 1 and c['bytes_sent'] == 0 and t < 2"
case_ s-oversized-advert "--count 1 --misbehave oversized-advert" "" \
    "c['handshake_failures'] == 1 and s['handshake_failures'] == 1 and c['bytes_received'] == 8196 and c['bytes_sent'] == 0 and t < 2"
case_ s-version-mismatch "--count 1 --misbehave version-mismatch" "" \
    "c['handshake_failures'] == 1 and s['handshake_failures'] == 1 and c['handshakes'] == 0 and t < 2"
case_ s-rst-mid-stream "--count 1 --misbehave rst-mid-stream --rst-after 3" "--data 10" \
    "s['rst_sent'] == 1 and s['requests'] == 3 and c['resets'] + c['closed_by_peer'] == 1 and c['responses_received'] == 3 and c['responses_missing'] >= 0"
case_ s-idle "--count 1 --misbehave idle --idle-seconds 2" "--data 2 --control 0 --cover 0 --response-timeout 0.5" \
    "$SAME and s['handshakes_ok'] == 1 and c['responses_received'] == 0 and c['responses_missing'] == 2 and s['responses_unsent'] == 2 and t < 3"

# the server's own bounds
$W server "$PORT" --bind 127.0.0.1 --duration 1.5 >"$TMP/s" 2>/dev/null &
spid=$!; sleep 0.3
$W client 127.0.0.1 "$PORT" --misbehave idle --idle-seconds 10 >"$TMP/c" &
cpid=$!
t0=$(date +%s); wait "$spid"; wait "$cpid"; t1=$(date +%s)
if grep -q '"connections": 1' "$TMP/s" && grep -q '"closed_by_peer": 1' "$TMP/c" && [ $((t1 - t0)) -le 3 ]; then
    echo "ok   duration"; else echo "FAIL duration"; cat "$TMP/s" "$TMP/c"; fails=$((fails + 1)); fi
$W server "$PORT" --bind 127.0.0.1 >"$TMP/s" 2>/dev/null &
spid=$!; sleep 0.3; kill -TERM "$spid"; wait "$spid"
if grep -q '"connections": 0' "$TMP/s"; then echo "ok   sigterm"; else echo "FAIL sigterm"; fails=$((fails + 1)); fi

[ "$fails" -eq 0 ] && echo "all ok" || echo "$fails failed"
[ "$fails" -eq 0 ]
