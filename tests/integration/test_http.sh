#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# HTTP/1.x read off the wire against ground truth we did not write: nginx (its `return`
# statuses and its access log), curl, hey and wrk (their own summaries), and
# tests/workloads/httpdelay.py for known delays, chunked answers and 100-continue.
#   1. a mix to nginx (keep-alive, HEAD, 302/404/500, large and chunked bodies, query
#      strings, numeric/uuid/hex path segments, a configured route, POST, a pipelined
#      batch, hey and wrk): http_requests_total per (status, method, path) exact against
#      nginx's access log; Next.js families per route class
#   2. httpdelay.py: 100-continue POST, chunked responses, a pipelined batch (exact)
#   3. latency at 40 ms and 300 ms server delays: mean within 10 % of the server's own
#      service time, and not below the delay (a floor: load only adds to it),
#      the median's bucket
#   4. max_paths: distinct paths past the cap go to path="other", overflow counter exact
#   5. the same from the client's socket alone (the server's end left out by a cgroup matcher)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/l7lib.sh"

for tool in nginx wrk hey curl; do
	command -v $tool >/dev/null || { echo "  $tool missing (make deps)"; exit 1; }
done

WEB=8080 CAPPED=8081 DELAY=8090
setup_netns
start_daemon '{"services": [
  {"name": "web", "protocol": "http", "ports": ['$WEB'], "framework": "nextjs",
   "routes": ["/api/betanet/nodes/[id]"]},
  {"name": "capped", "protocol": "http", "ports": ['$CAPPED'], "max_paths": 4},
  {"name": "delay", "protocol": "http", "ports": ['$DELAY']}]}' || exit 1
start_nginx "$NS_SRV" "$SRV_IP" $WEB $CAPPED || exit 1

# The route template the contract asks for (DESIGN.md "Metric contract"; the segment rules
# written out in user/model/proto/http.h): configured routes first, "[x]" -> ":x";
# otherwise numeric, UUID and long-hex segments -> ":id". Reads "count status method
# path" lines, prints "status method template count" lines, summed.
template() {
	/usr/bin/python3 -c '
import re, sys, collections
routes = [r for r in sys.argv[1:]]
UUID = re.compile(r"^(?:[A-Za-z0-9]*[-_])?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
def seg(s):
    if s.isdigit() or UUID.match(s) or re.fullmatch(r"[0-9a-fA-F]{16,}", s):
        return ":id"
    if re.fullmatch(r"[0-9a-fA-F]{8,15}", s) and re.search(r"[0-9]", s) and re.search(r"[a-fA-F]", s):
        return ":id"
    return s
def route(p):
    ps = p.split("/")
    for r in routes:
        rs = r.split("/")
        if len(rs) == len(ps) and all(a == b or (a.startswith("[") and b) for a, b in zip(rs, ps)):
            return "/".join(":" + a[1:-1] if a.startswith("[") else a for a in rs)
    return "/".join(seg(s) if s else s for s in ps)
n = collections.Counter()
for line in sys.stdin:
    c, st, m, p = line.split()
    n[(st, m, route(p))] += int(c)
for (st, m, p), c in sorted(n.items()):
    print(st, m, p, c)
' "$@"
}

# The daemon's http_requests_total{service=SVC} as "status method path count" lines.
probe_requests() { # SVC
	scrape | /usr/bin/python3 -c '
import re, sys
svc = sys.argv[1]
for line in sys.stdin:
    if not line.startswith("http_requests_total{"):
        continue
    lab, val = line.rsplit(" ", 1)
    l = dict(re.findall(r"(\w+)=\"((?:[^\"\\\\]|\\\\.)*)\"", lab))
    if l.get("service") == svc and float(val) > 0:
        print(l["status"], l["method"], l["path"], int(float(val)))
' "$1" | sort
}

# same_table EXPECTED_FILE ACTUAL_FILE: exact, with the differing rows shown
same_table() {
	local d
	d=$(diff <(sort "$1") <(sort "$2"))
	[[ -z "$d" ]] && return 0
	echo "$d" | sed 's/^/    (< expected, > probe) /' | head -n 30
	return 1
}

sum_of() { awk '{ s += $NF } END { print s + 0 }' "$@"; }
jf() { # FILE KEY: a key of the last JSON line of FILE
	/usr/bin/python3 -c 'import json, sys
print(json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])[sys.argv[2]])' "$1" "$2"
}
hey_avg_ms() { awk '/Average:/ { printf "%.3f\n", $2 * 1000; exit }' "$1"; }

echo "1. a mix to nginx, checked against its access log"
U=http://$SRV_IP:$WEB
MIX=(/ /notfound /error /redirect /static/big.html /chunked/big.html /static/small.txt
	"/api/users/123?x=1&y=2" /api/users/77 /api/items/6f1c2a7e-94d3-4b8a-a1f0-3c5d9e2b7a10
	/blob/0123456789abcdef0123456789abcdef /api/betanet/nodes/node-abc
	"/api/betanet/nodes/17?full=1" /about /settings/profile /notfound/deeper)
urls=() # curl's -o applies to one URL: one per URL
for p in "${MIX[@]}"; do urls+=(-o /dev/null "$U$p"); done
# One curl for the whole list: keep-alive (num_connects 0 on a reused connection). nginx
# ends keep-alive after a 500 (ngx_http_special_response_handler), so curl opens a
# second connection after /error: 2 connections.
ns_cli curl --http1.1 -s -w '%{http_code} %{num_connects}\n' "${urls[@]}" >"$WORK/curl.mix"
echo "    curl: $(wc -l <"$WORK/curl.mix") requests, $(awk '$2 > 0' "$WORK/curl.mix" | wc -l) connection(s)," \
	"statuses $(awk '{ print $1 }' "$WORK/curl.mix" | sort | uniq -c | tr -s ' ' | tr '\n' ',')"
check "curl: ${#MIX[@]} requests on 2 keep-alive connections" eq \
	"$(awk '$2 > 0' "$WORK/curl.mix" | wc -l)" 2
# HEAD (headers only, including a chunked one whose body never comes) and POST bodies.
ns_cli curl --http1.1 -s -I -w '%{http_code}\n' -o /dev/null "$U/" -o /dev/null "$U/static/big.html" \
	-o /dev/null "$U/chunked/big.html" -o /dev/null "$U/api/users/5" >"$WORK/curl.head"
head -c 3000 /dev/urandom | base64 -w 0 >"$WORK/body"
ns_cli curl --http1.1 -s -w '%{http_code}\n' --data-binary @"$WORK/body" \
	-o /dev/null "$U/api/submit" -o /dev/null "$U/api/submit" >"$WORK/curl.post"
ns_cli curl --http1.1 -s -o /dev/null -w '%{http_code}\n' -X DELETE "$U/api/users/9" >>"$WORK/curl.post"
# Three requests in one send() on one connection, the large body in the middle.
pipe=$(ns_cli "$L7_PY" "$HTTPDELAY" pipeline "$SRV_IP" $WEB /pipe/1 /static/big.html /notfound)
echo "    pipelined: $pipe"
check "pipelined batch answered whole" grep -q '"complete": true' <<<"$pipe"
# hey: exactly -n requests, its own status distribution; wrk: a fixed second.
ns_cli hey -n 200 -c 4 "$U/api/hey/42" >"$WORK/hey.out" 2>&1
hey200=$(awk '/\[200\]/ { print $2 }' "$WORK/hey.out")
echo "    hey: ${hey200:-0} responses with status 200"
check "hey: 200 of 200 answered 200" eq "${hey200:-0}" 200
ns_cli wrk -t1 -c2 -d1s "$U/wrk/page" >"$WORK/wrk.out" 2>&1
wrkn=$(awk '/requests in/ { print $1 }' "$WORK/wrk.out")
echo "    wrk: ${wrkn:-0} requests in 1 s"
sleep 1.5
nginx_requests "$NGINX_LOG" $WEB >"$WORK/nginx.web"
# wrk stops at the end of its second with up to one request in flight per connection:
# nginx may have answered up to 2 more than wrk counted (and the probe sees those).
nw=$(awk '$4 == "/wrk/page" { print $1 }' "$WORK/nginx.web")
check "nginx served wrk's count, +0..2 in flight (wrk $wrkn, nginx $nw)" \
	awk -v a="${nw:-0}" -v b="${wrkn:-0}" 'BEGIN { exit !(b > 0 && a >= b && a <= b + 2) }'
check "nginx served hey's 200" eq "$(awk '$4 == "/api/hey/42" { print $1 }' "$WORK/nginx.web")" 200
/usr/bin/python3 -c 'import json, sys; print(*json.loads(sys.argv[1])["statuses"], sep="\n")' \
	"$pipe" >"$WORK/pipe.statuses"
check "curl's and the pipeline's statuses = nginx's" eq \
	"$(awk '{ print $1 }' "$WORK/curl.mix" "$WORK/curl.head" "$WORK/curl.post" "$WORK/pipe.statuses" |
		sort | uniq -c | awk '{ print $1, $2 }' | tr '\n' ' ')" \
	"$(awk '$4 !~ /^\/(wrk|api\/hey)\// { n[$2] += $1 } END { for (s in n) print n[s], s }' \
		"$WORK/nginx.web" | sort -k2 | tr '\n' ' ')"
template "/api/betanet/nodes/[id]" <"$WORK/nginx.web" >"$WORK/want.web"
probe_requests web >"$WORK/got.web"
echo "    nginx: $(sum_of "$WORK/want.web") requests, $(wc -l <"$WORK/want.web") (status, method, path);" \
	"probe: $(sum_of "$WORK/got.web") requests, $(wc -l <"$WORK/got.web")"
check "http_requests_total{service=web} per (status, method, path) = nginx's log" \
	same_table "$WORK/want.web" "$WORK/got.web"
# Next.js: /api/* routes time API latency; other routes that are pages (no file
# extension, not /_next/) time page renders; each request once.
api=$(awk '$3 ~ /^\/api(\/|$)/ { s += $4 } END { print s + 0 }' "$WORK/want.web")
page=$(awk '$3 !~ /^\/api(\/|$)/ && $3 !~ /^\/_next\// { n = split($3, a, "/"); if (a[n] !~ /\./) s += $4 }
	END { print s + 0 }' "$WORK/want.web")
check "nextjs_api_latency_seconds count = /api/* requests ($api)" eq \
	"$(metric nextjs_api_latency_seconds_count 'service="web"')" "$api"
check "nextjs_page_render_duration_seconds count = page requests ($page)" eq \
	"$(metric nextjs_page_render_duration_seconds_count 'service="web"')" "$page"
check "http_request_duration_seconds count = requests" eq \
	"$(metric http_request_duration_seconds_count 'service="web"')" "$(sum_of "$WORK/want.web")"

echo "2. httpdelay.py: 100-continue, chunked answers, pipelining"
start_httpdelay "$NS_SRV" $DELAY --bind "$SRV_IP" || exit 1
D=http://$SRV_IP:$DELAY
: >"$WORK/delay.truth" # "count status method path", from the clients' own results
head -c 4000 /dev/urandom | base64 -w 0 >"$WORK/body2"
ns_cli curl --http1.1 -s -w '%{http_code}\n' -H 'Expect: 100-continue' \
	--data-binary @"$WORK/body2" -o /dev/null "$D/upload" -o /dev/null "$D/upload" >"$WORK/curl.expect"
awk '{ print 1, $1, "POST", "/upload" }' "$WORK/curl.expect" >>"$WORK/delay.truth"
ns_cli curl --http1.1 -s -w '%{http_code}\n' -o /dev/null "$D/chunked/40" -o /dev/null "$D/chunked/3" \
	-o /dev/null "$D/chunked/1" >"$WORK/curl.chunked"
awk -v p="/chunked/40 /chunked/3 /chunked/1" 'BEGIN { split(p, P, " ") }
	{ print 1, $1, "GET", P[NR] }' "$WORK/curl.chunked" >>"$WORK/delay.truth"
ns_cli curl --http1.1 -s -o /dev/null -I -w '%{http_code}\n' "$D/chunked/5" |
	awk '{ print 1, $1, "HEAD", "/chunked/5" }' >>"$WORK/delay.truth"
pipe=$(ns_cli "$L7_PY" "$HTTPDELAY" pipeline "$SRV_IP" $DELAY /chunked/4 /a/b /status/404 /status/503)
echo "    pipelined: $pipe"
/usr/bin/python3 -c 'import json, sys
r = json.loads(sys.argv[1])
for p, s in zip(["/chunked/4", "/a/b", "/status/404", "/status/503"], r["statuses"]):
    print(1, s, "GET", p)' "$pipe" >>"$WORK/delay.truth"
sleep 1
template <"$WORK/delay.truth" >"$WORK/want.delay"
probe_requests delay >"$WORK/got.delay"
check "100-continue answered (curl saw 200 twice)" eq "$(grep -c '^200$' "$WORK/curl.expect")" 2
check "http_requests_total{service=delay} per (status, method, path) = the clients'" \
	same_table "$WORK/want.delay" "$WORK/got.delay"
stop_pid "$HTTPDELAY_PID"

echo "3. request duration at known server delays"
mark() { M_S=$(metricf "${1}_sum" "$2"); M_C=$(metric "${1}_count" "$2"); }
mean_ms() { # FAMILY LABELS: mean of the samples since mark
	awk -v s="$(metricf "${1}_sum" "$2")" -v c="$(metric "${1}_count" "$2")" -v s0="$M_S" -v c0="$M_C" \
		'BEGIN { if (c > c0) printf "%.2f", (s - s0) * 1000 / (c - c0); else print "none" }'
}
bmark() { scrape | grep "^${1}_bucket{.*$2" >"$WORK/buckets.0"; }
# the bucket (lo hi, in ms) that holds the median of the samples since bmark
median_bucket_ms() {
	scrape | grep "^${1}_bucket{.*$2" | paste -d' ' - "$WORK/buckets.0" | awk '
		{ match($1, /le="[^"]*"/); le = substr($1, RSTART + 4, RLENGTH - 5); n++
		  L[n] = (le == "+Inf") ? 1e9 : le * 1000; C[n] = $2 - $4 }
		END { half = C[n] / 2; lo = 0
		      for (i = 1; i <= n; i++) { if (C[i] >= half) { print lo, L[i]; exit } lo = L[i] } }'
}
for delay in 40 300; do
	start_httpdelay "$NS_SRV" $DELAY --bind "$SRV_IP" --delay-ms $delay || exit 1
	sel='service="delay"'
	mark http_request_duration_seconds "$sel"
	bmark http_request_duration_seconds 'service="delay"'
	c0=$(metric http_requests_total "$sel")
	ns_cli hey -n 20 -c 2 "$D/slow/$delay" >"$WORK/hey.delay" 2>&1
	sleep 0.5
	stop_pid "$HTTPDELAY_PID"
	ok=$(awk '/\[200\]/ { print $2 }' "$WORK/hey.delay")
	mean=$(mean_ms http_request_duration_seconds "$sel")
	smean=$(jf "$HTTPDELAY_OUT.json" service_ms_mean)
	echo "    delay $delay ms: hey ${ok:-0} x 200, probe +$(($(metric http_requests_total "$sel") - c0)) requests," \
		"mean $mean ms; the server's own service time $smean ms"
	check "delay $delay: 20 requests counted" eq $(($(metric http_requests_total "$sel") - c0)) 20
	# The probe's request starts at the read of its first byte, before the server has
	# parsed the head (where the server's own clock starts) and ends at the same write.
	check "delay $delay: mean at least the server's own service time" between "$mean" "$smean" 1e9
	check_timed "delay $delay: mean within 10% of the server's own service time" \
		within "$mean" "$smean" 10
	# The delay is a floor: the server sleeps it before answering, and a loaded machine
	# only adds to it (the server oversleeps), in its own clock and the probe's alike.
	check "delay $delay: mean not below the $delay ms delay" between "$mean" "$delay" 1e9
	# The contract's buckets are coarse (.025 .05 .1 .25 .5): interpolating inside one
	# cannot be within 10 %. The server sleeps the delay before answering, so a request
	# takes [delay, delay + a little]: the median must fall in a bucket that overlaps
	# [delay, 1.1 * delay] (40 ms -> (25, 50], 300 ms -> (250, 500]), or 1.1 times the
	# server's own mean when that is longer.
	read -r lo hi < <(median_bucket_ms http_request_duration_seconds 'service="delay"')
	echo "    median in the bucket ($lo, $hi] ms"
	check "delay $delay: the median's bucket holds [$delay, 1.1 x max($delay, $smean)] ms" \
		awk -v lo="${lo:-0}" -v hi="${hi:-0}" -v d="$delay" -v s="$smean" \
		'BEGIN { top = (s > d ? s : d) * 1.1; exit !(hi > 0 && lo < top && hi >= d) }'
done

echo "4. max_paths 4: later distinct paths go to \"other\""
C=http://$SRV_IP:$CAPPED
curls=()
for p in alpha beta gamma delta epsilon zeta eta; do curls+=(-o /dev/null "$C/c/$p" -o /dev/null "$C/c/$p"); done
o0=$(metric fogprobe_http_path_overflow_total 'service="capped"')
ns_cli curl --http1.1 -s -w '%{http_code}\n' "${curls[@]}" >"$WORK/curl.capped"
sleep 1
probe_requests capped >"$WORK/got.capped"
cat "$WORK/got.capped" | sed 's/^/    probe: /'
printf '%s\n' "200 GET /c/alpha 2" "200 GET /c/beta 2" "200 GET /c/delta 2" "200 GET /c/gamma 2" \
	"200 GET other 6" >"$WORK/want.capped"
check "nginx answered 14 x 200" eq "$(grep -c '^200$' "$WORK/curl.capped")" 14
check "the first 4 paths keep their label, the 6 later requests are \"other\"" \
	same_table "$WORK/want.capped" "$WORK/got.capped"
check "fogprobe_http_path_overflow_total{service=capped} = 6" eq \
	$(($(metric fogprobe_http_path_overflow_total 'service="capped"') - o0)) 6

check "the daemon survived all of it" kill -0 "$DAEMON_PID"

echo "5. only the client end on this host: a cgroup matcher selects the clients' sockets"
# The servers stay in the test's cgroup, the clients run in a sub-cgroup that the services
# name: the probe then sees these requests from the client's socket alone.
mkdir -p "$CG_ROOT$TEST_CG/cli"
on_exit "rmdir $CG_ROOT$TEST_CG/cli"
in_cli_cg() { # CMD...: run CMD in the client namespace inside the sub-cgroup
	# join the cgroup first: `ip netns exec` remounts /sys, hiding the cgroup tree
	sh -c 'echo $$ >"$0/cgroup.procs" && exec ip netns exec "$@"' "$CG_ROOT$TEST_CG/cli" "$NS_CLI" "$@"
}
stop_daemon
# -v: each L7 record and connection event in the daemon's log, for a failure's analysis
FOGPROBE_ARGS="${FOGPROBE_ARGS:-} -v" start_daemon '{"services": [
  {"name": "web", "protocol": "http", "ports": ['$WEB'], "cgroup": "'"$TEST_CG/cli"'"},
  {"name": "delay", "protocol": "http", "ports": ['$DELAY'], "cgroup": "'"$TEST_CG/cli"'"}]}' || exit 1
n0=$(wc -l <"$NGINX_LOG")
urls=()
for p in / /notfound /error /redirect /static/big.html /chunked/big.html "/api/users/5?q=1" /about; do
	urls+=(-o /dev/null "$U$p")
done
in_cli_cg curl --http1.1 -s -w '%{http_code}\n' "${urls[@]}" >/dev/null
in_cli_cg curl --http1.1 -s -I -o /dev/null "$U/static/big.html" -o /dev/null "$U/chunked/big.html"
in_cli_cg curl --http1.1 -s -o /dev/null --data-binary @"$WORK/body" "$U/api/submit"
in_cli_cg "$L7_PY" "$HTTPDELAY" pipeline "$SRV_IP" $WEB /pipe/2 /static/big.html /error >/dev/null
in_cli_cg hey -n 50 -c 2 "$U/api/hey/7" >/dev/null 2>&1
sleep 1
tail -n +$((n0 + 1)) "$NGINX_LOG" >"$WORK/nginx.cli.log"
nginx_requests "$WORK/nginx.cli.log" $WEB | template >"$WORK/want.cli"
probe_requests web >"$WORK/got.cli"
echo "    nginx: $(sum_of "$WORK/want.cli") requests; probe (client end): $(sum_of "$WORK/got.cli")"
check "client end only: per (status, method, path) = nginx's log" same_table "$WORK/want.cli" "$WORK/got.cli"
check "client end only: no server socket classified" eq \
	"$(metric fogprobe_tcp_connections_opened_total 'service="web",role="server"')" 0
start_httpdelay "$NS_SRV" $DELAY --bind "$SRV_IP" --delay-ms 40 || exit 1
sel='service="delay"'
mark http_request_duration_seconds "$sel"
in_cli_cg hey -n 20 -c 2 "$D/slow/40" >"$WORK/hey.cli" 2>&1
sleep 0.5
stop_pid "$HTTPDELAY_PID"
mean=$(mean_ms http_request_duration_seconds "$sel")
havg=$(hey_avg_ms "$WORK/hey.cli")
echo "    client end only, delay 40 ms: mean $mean ms over $(metric http_request_duration_seconds_count "$sel")" \
	"requests; hey's own average $havg ms"
check "client end only: 20 requests" eq "$(metric http_request_duration_seconds_count "$sel")" 20
# From the client's socket a request lasts from its write to the read of the answer's
# last byte: what hey itself measures.
check_timed "client end only: mean within 10% of hey's average" within "$mean" "$havg" 10
check "client end only: mean between the 40 ms delay and hey's average" between "$mean" 40 "$havg"
# The server answers and resets the connection; the client reads the answer 100 ms later,
# from a socket the reset has already closed (its last bytes are still in the receive
# queue): the read still counts, on the flow of the closed socket.
start_httpdelay "$NS_SRV" $DELAY --bind "$SRV_IP" || exit 1
r0=$(metric http_requests_total "$sel"',path="/reset/now"')
in_cli_cg "$L7_PY" "$HTTPDELAY" pipeline "$SRV_IP" $DELAY /reset/now --read-after-ms 100 \
	>"$WORK/reset.json"
stop_pid "$HTTPDELAY_PID"
reset_delta() { echo $(($(metric http_requests_total "$sel"',path="/reset/now"') - r0)); }
settle 1 reset_delta
check "the client read the answer after the reset" grep -q '"complete": true' "$WORK/reset.json"
check "client end only: a response read after the peer's reset is counted" \
	eq "$(reset_delta)" 1
check "the daemon survived the client-end run" kill -0 "$DAEMON_PID"

finish
