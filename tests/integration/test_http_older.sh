#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Keep-alive connections older than the probe, both ends on this host (a local proxy's
# upstream connections across a probe restart): each request counted once, from the
# server's end. Ground truth: nginx's access log, and Python's http.client, which opens
# the connections and sends on them before the daemon starts and after it is ready.
#   requests on connections opened before the daemon: http_requests_total equals the
#   lines nginx logged after the daemon was ready (the client end of each connection is
#   the local peer's: not parsed, whichever end the probe sees first)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/l7lib.sh"

command -v nginx >/dev/null || { echo "  nginx missing (make deps)"; exit 1; }
WEB=8080 CONNS=4 AFTER=150
setup_netns
start_nginx "$NS_SRV" "$SRV_IP" $WEB || exit 1

# The client: CONNS keep-alive connections, 3 requests on each, then "ready"; on "go",
# AFTER requests on each, round robin, then "done" with the 200s it got; it keeps the
# connections open until "end" (their close is not what is tested).
dir=$(mktemp -d)
on_exit "rm -rf $dir"
ip netns exec "$NS_CLI" /usr/bin/python3 -c '
import http.client, os, sys, time
host, port, conns, after, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
cs = [http.client.HTTPConnection(host, port, timeout=10) for _ in range(conns)]
def get(c, i):
    c.request("GET", "/api/older/%d" % i)
    r = c.getresponse()
    r.read()
    return r.status == 200
for c in cs:
    for i in range(3):
        get(c, i)
open(d + "/ready", "w").close()
def wait(name):
    while not os.path.exists(d + "/" + name):
        time.sleep(0.02)
wait("go")
ok = sum(get(c, i) for i in range(after) for c in cs)
with open(d + "/done.tmp", "w") as f:
    f.write("%d\n" % ok)
os.rename(d + "/done.tmp", d + "/done")
wait("end")
' "$SRV_IP" $WEB $CONNS $AFTER "$dir" &
CLIENT_PID=$!
on_exit "stop_pid $CLIENT_PID"
for _ in $(seq 1 200); do [[ -e $dir/ready ]] && break; sleep 0.05; done
check "the client's connections are open before the daemon" [ -e "$dir/ready" ]

start_daemon '{"services": [{"name": "web", "protocol": "http", "ports": ['$WEB']}]}' || exit 1
logged() { grep -c ' GET /api/older/' "$NGINX_LOG" 2>/dev/null || echo 0; }
before=$(logged)
check "nginx logged the requests made before the daemon ($before)" [ "$before" -eq $((CONNS * 3)) ]
touch "$dir/go"
for _ in $(seq 1 600); do [[ -e $dir/done ]] && break; sleep 0.05; done
check "the client got $((CONNS * AFTER)) answers" eq "$(cat "$dir/done" 2>/dev/null)" $((CONNS * AFTER))
want=$(($(logged) - before))
check "nginx logged $((CONNS * AFTER)) requests after the daemon was ready" eq "$want" $((CONNS * AFTER))
got() { metric http_requests_total 'service="web"'; }
settle "$want" got
check "http_requests_total == nginx's $want (each request once, from the server's end)" \
	eq "$(got)" "$want"
touch "$dir/end"
wait "$CLIENT_PID"
finish
