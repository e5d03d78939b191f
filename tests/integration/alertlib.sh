#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Alert tests' helpers: a real Alertmanager on loopback whose only receiver is a webhook
# that records what Alertmanager itself notifies (firing, then resolved), and readers of
# its v2 API. Sourced after lib.sh.
AM=/usr/bin/prometheus-alertmanager
AM_PORT=${AM_PORT:-19360}
REC_PORT=${REC_PORT:-19361}
AM_PID=

# The recorder: one JSON line per notification Alertmanager posts.
start_recorder() {
	/usr/bin/python3 - "$REC_PORT" "$WORK/notified.jsonl" >"$WORK/recorder.log" 2>&1 <<'PY' &
import http.server, sys
port, path = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with open(path, "ab") as f:
            f.write(body.replace(b"\n", b" ") + b"\n")
        self.send_response(200)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
PY
	REC_PID=$!
	on_exit "kill $REC_PID"
	touch "$WORK/notified.jsonl"
	local i
	for i in $(seq 1 50); do
		ss -ltnH "sport = :$REC_PORT" | grep -q . && return 0
		sleep 0.1
	done
	return 1
}

write_am_config() {
	cat >"$WORK/am.yml" <<YML
route:
  receiver: record
  group_by: ['alertname', 'instance', 'service', 'mountpoint', 'form', 'signal']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: record
    webhook_configs:
      - url: http://127.0.0.1:$REC_PORT/
        send_resolved: true
YML
}

start_am() {
	[[ -f "$WORK/am.yml" ]] || write_am_config
	mkdir -p "$WORK/am-data"
	"$AM" --config.file="$WORK/am.yml" --storage.path="$WORK/am-data" \
		--web.listen-address="127.0.0.1:$AM_PORT" --cluster.listen-address= \
		>>"$WORK/am.log" 2>&1 &
	AM_PID=$!
	on_exit "kill $AM_PID"
	local i
	for i in $(seq 1 100); do
		curl -sf "http://127.0.0.1:$AM_PORT/-/ready" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "  alertmanager did not start"
	tail "$WORK/am.log"
	return 1
}

stop_am() {
	kill "$AM_PID" && wait "$AM_PID" 2>/dev/null
	AM_PID=
}

# am_alerts ALERTNAME: the active alerts of that name in Alertmanager, one sorted label set
# (JSON) per line
am_alerts() {
	curl -sf "http://127.0.0.1:$AM_PORT/api/v2/alerts?active=true&silenced=true&inhibited=true" |
		/usr/bin/python3 -c '
import json, sys
for a in json.load(sys.stdin):
    if a["labels"].get("alertname") == sys.argv[1]:
        print(json.dumps(a["labels"], sort_keys=True))' "$1"
}

# mark_notified: notified() looks only at what Alertmanager posts from now on
NOTE_FROM=0
mark_notified() { NOTE_FROM=$(wc -l <"$WORK/notified.jsonl"); }
# notified STATUS LABELS_JSON: did Alertmanager post, since the mark, a notification with
# that status (firing or resolved) holding an alert whose labels include LABELS_JSON?
notified() {
	/usr/bin/python3 -c '
import json, sys
want, status = json.loads(sys.argv[2]), sys.argv[1]
for line in open(sys.argv[3]).readlines()[int(sys.argv[4]):]:
    n = json.loads(line)
    for a in n["alerts"]:
        if a["status"] == status and all(a["labels"].get(k) == v for k, v in want.items()):
            sys.exit(0)
sys.exit(1)' "$1" "$2" "$WORK/notified.jsonl" "$NOTE_FROM"
}

# wait_for SECONDS CMD...: poll every 0.25 s; prints the seconds it took or "timeout"
wait_for() {
	local limit=$1 t0
	shift
	t0=$(date +%s.%N)
	until "$@" >/dev/null 2>&1; do
		if awk -v a="$t0" -v b="$(date +%s.%N)" -v m="$limit" 'BEGIN { exit !(b - a > m) }'; then
			echo timeout
			return 1
		fi
		sleep 0.25
	done
	awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f\n", b - a }'
}

# am_has ALERTNAME LABELS_JSON: Alertmanager holds an active alert with these exact labels
am_has() {
	am_alerts "$1" | /usr/bin/python3 -c '
import json, sys
want = json.loads(sys.argv[1])
sys.exit(0 if any(json.loads(l) == want for l in sys.stdin) else 1)' "$2"
}
