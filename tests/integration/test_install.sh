#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The bare-metal install of deploy/README.md, followed literally: the commands between
# <!-- install --> and <!-- end install --> (then the uninstall block) run with DESTDIR
# set to a work directory. `sudo` is the identity here (we are root, and sudo would drop
# DESTDIR); systemctl is recorded, not run: no systemd is started. Then the installed
# tree: modes, the unit's ExecStart at the installed binary and config, systemd-analyze
# verify and security; the installed binary under what of the unit's sandbox applies
# without systemd (its capability bounding set), traced with strace against the rest
# (SystemCallFilter=, RestrictAddressFamilies=, PrivateDevices=, ProtectSystem=); a
# reinstall that keeps an edited config, an uninstall that removes the rest.
. "$(dirname "$0")/lib.sh"
DOC=$ROOT/deploy/README.md
DEST=$WORK/root
PY=/usr/bin/python3

# doc_block NAME: the shell lines between <!-- NAME --> and <!-- end NAME --> (indented
# or fenced code), without the fences
doc_block() {
	awk -v first="<!-- $1 -->" -v last="<!-- end $1 -->" '
		$0 == last { inside = 0 }
		inside && !/^[[:space:]]*(```|~~~)/ && NF { sub(/^[[:space:]]+/, ""); print }
		$0 == first { inside = 1 }' "$DOC"
}

# run_block NAME: run it as a reader would, from the repository, in a clean environment
# but for DESTDIR. Every command (make, systemctl) is logged to $WORK/commands in order.
run_block() {
	doc_block "$1" >"$WORK/$1.sh"
	[[ -s "$WORK/$1.sh" ]] || { echo "    no <!-- $1 --> block in deploy/README.md"; return 1; }
	(
		unset MAKEFLAGS MFLAGS MAKELEVEL PREFIX BINDIR UNITDIR SYSCONFDIR
		export DESTDIR=$DEST
		sudo() { "$@"; }
		systemctl() { echo "systemctl $*" >>"$WORK/commands"; }
		make() { echo "make $*" >>"$WORK/commands"; command make "$@"; }
		cd "$ROOT" && set -e && . "$WORK/$1.sh"
	) >"$WORK/$1.log" 2>&1
	local rc=$?
	sed 's/^/    | /' "$WORK/$1.log"
	return $rc
}

echo "deploy/README.md install block"
doc_block install | sed 's/^/    $ /'
check "the block exists and runs make install" grep -qE '(^|[;&| ])make install' <(doc_block install)
: >"$WORK/commands"
check "the install block runs, exit 0" run_block install

# The unit the block installed, wherever PREFIX put it; its ExecStart names the rest.
UNIT_FILE=$(find "$DEST" -name fogprobe.service -type f 2>/dev/null)
UNIT=${UNIT_FILE#"$DEST"}
read -r BIN _ CONFIG _ < <(sed -n 's/^ExecStart=//p' "$UNIT_FILE" 2>/dev/null)
echo "    unit $UNIT: ExecStart=$BIN --config $CONFIG"
check "installed: /usr/local/lib/systemd/system/fogprobe.service" eq "$UNIT" /usr/local/lib/systemd/system/fogprobe.service
check "the unit's directory is on systemd's unit search path" \
	grep -qxF "$(dirname "$UNIT")" <(systemd-analyze unit-paths 2>/dev/null)
check "ExecStart runs the installed binary: /usr/local/bin/fogprobe" eq "$BIN" /usr/local/bin/fogprobe
check "ExecStart's --config is the installed config: /etc/fogprobe/fogprobe.json" \
	eq "$CONFIG" /etc/fogprobe/fogprobe.json
# installed FILE MODE SOURCE: FILE has MODE and SOURCE's content
installed() {
	eq "$(stat -c %a "$1" 2>/dev/null)" "$2" || return 1
	cmp -s "$1" "$3" || { echo "    $1 differs from $3"; return 1; }
}
check "binary mode 0755, build/fogprobe" installed "$DEST$BIN" 755 "$ROOT/build/fogprobe"
check "unit mode 0644" eq "$(stat -c %a "$UNIT_FILE" 2>/dev/null)" 644
check "config mode 0644, deploy/fogprobe.json" installed "$DEST$CONFIG" 644 "$ROOT/deploy/fogprobe.json"

# line_of REGEX: the line of $WORK/commands that first matches (0 if none)
line_of() { grep -n -m1 -E "$1" "$WORK/commands" | cut -d: -f1 | grep . || echo 0; }
# systemctl_units VERB: the units systemctl VERB was given, with .service added
systemctl_units() {
	sed -n "s/^systemctl $1 //p" "$WORK/commands" | tr ' ' '\n' | grep -v '^-' | grep . |
		sed '/\./!s/$/.service/' | sort -u | paste -sd' ' -
}
sed 's/^/    > /' "$WORK/commands"
check "systemctl daemon-reload after make install" \
	[ "$(line_of '^systemctl daemon-reload')" -gt "$(line_of '^make .*install')" -a "$(line_of '^make .*install')" -gt 0 ]
check "systemctl enable --now names the installed unit" eq "$(systemctl_units 'enable --now')" "$(basename "$UNIT")"

echo "the installed binary"
check "--version prints a version" grep -q '^fogprobe ' <("$DEST$BIN" --version 2>&1)
"$DEST$BIN" check >"$WORK/check.out" 2>&1
check "check exits 0" eq $? 0

# What systemd would apply and this machine can: the unit's CapabilityBoundingSet= and
# NoNewPrivileges= (setpriv), for a process running as root.
unit_caps() { # -> setpriv's -all,+bpf,+perfmon,...
	local caps
	caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT_FILE" | tr 'A-Z ' 'a-z\n' |
		sed -n 's/^cap_/+/p' | paste -sd, -)
	[[ -n "$caps" ]] && echo "-all,$caps"
}
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# The installed config, served by the installed binary with the unit's capabilities, under
# strace (which exits with the daemon's status): /readyz, /healthz, a scrape, then SIGTERM
# -> exit 0. The trace is every system call the daemon made, for the checks below.
serve_installed() {
	local port spid pid='' i ready=0 rc
	port=$(free_port)
	setpriv --no-new-privs --bounding-set="$(unit_caps)" -- strace -f -qq -o "$WORK/strace.log" -- \
		"$DEST$BIN" --config "$DEST$CONFIG" --listen "127.0.0.1:$port" >"$WORK/daemon.log" 2>&1 &
	spid=$!
	for i in $(seq 1 300); do
		[[ -n "$pid" ]] || pid=$(pgrep -P "$spid" -x fogprobe)
		DAEMON_PID=$pid # the EXIT trap stops it if we do not get that far; strace follows
		if [[ -n "$pid" ]] && curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then
			ready=1
			break
		fi
		kill -0 "$spid" 2>/dev/null || break
		sleep 0.1
	done
	[[ $ready -eq 1 ]] || { echo "    daemon did not become ready (log below)"; return 1; }
	curl -sf "http://127.0.0.1:$port/healthz" >/dev/null || { echo "    /healthz failed"; return 1; }
	curl -sf --compressed "http://127.0.0.1:$port/metrics" | grep -q '^fogprobe_build_info' ||
		{ echo "    /metrics has no fogprobe_build_info"; return 1; }
	curl -sf "http://127.0.0.1:$port/api/events" >/dev/null || { echo "    /api/events failed"; return 1; }
	kill -TERM "$pid"
	wait "$spid"
	rc=$?
	DAEMON_PID=
	[[ $rc -eq 0 ]] || { echo "    exit status $rc after SIGTERM"; return 1; }
	rm -f "$WORK/daemon.log" # finish shows the log only when this check failed
}
check "unit's capabilities, --config <installed config>: /readyz, /healthz, SIGTERM -> 0" serve_installed

# The start-up scan of /proc/<pid>/fd finds a service of another user that listened before
# the probe, with no more than the unit's capabilities: fogprobe_service_up is 1.
scan_other_user() {
	local port lpid i rc=0
	port=$(free_port)
	setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
time.sleep(60)' "$port" &
	lpid=$!
	on_exit "kill $lpid"
	for i in $(seq 1 50); do
		ss -ltnH "sport = :$port" | grep -q . && break
		sleep 0.1
	done
	printf '#!/bin/sh\nexec setpriv --no-new-privs --bounding-set=%s -- %s "$@"\n' \
		"$(unit_caps)" "$DEST$BIN" >"$WORK/fogprobe-as-unit"
	chmod +x "$WORK/fogprobe-as-unit"
	FOGPROBE=$WORK/fogprobe-as-unit start_daemon "{\"services\": [{\"name\": \"x\", \"protocol\": \"tcp\",
		\"ports\": [$port]}], \"host\": {\"enabled\": false}}" || return 1
	await_metric fogprobe_service_up 'service="x"' 1
	eq "$(metric fogprobe_service_up 'service="x"')" 1 || rc=1
	stop_daemon || { echo "    exit status $? after SIGTERM"; rc=1; }
	kill "$lpid"
	[[ $rc -eq 0 ]] && rm -f "$WORK/daemon.log"
	return $rc
}
check "unit's capabilities: another user's older listener found (service_up 1)" scan_other_user

echo "the installed unit"
# verify --root resolves the unit and its ExecStart inside the root; the root also needs
# the distribution's units (sysinit.target, ...). Warnings (unknown keys, bad values) do
# not change the exit status, so any output fails.
unit_verify() {
	local out rc
	mkdir -p "$WORK/verify/usr/lib/systemd" &&
		cp -a "$DEST/." "$WORK/verify/" &&
		cp -a /usr/lib/systemd/system "$WORK/verify/usr/lib/systemd/" &&
		ln -sfn usr/lib "$WORK/verify/lib" || return 1
	out=$(systemd-analyze verify --root="$WORK/verify" fogprobe.service 2>&1)
	rc=$?
	[[ -n "$out" ]] && printf '%s\n' "$out" | sed 's/^/    | /'
	[[ $rc -eq 0 && -z "$out" ]]
}
check "systemd-analyze verify --root=DESTDIR fogprobe.service" unit_verify

# The exposure figure deploy/README.md states is the installed unit's.
exposure_documented() {
	local got want
	got=$(systemd-analyze security --offline=true "$UNIT_FILE" 2>&1 |
		sed -n 's/.*Overall exposure level for fogprobe.service: \([0-9.]*\).*/\1/p')
	want=$(sed -n 's/.*Overall exposure level for fogprobe.service: \([0-9.]*\).*/\1/p' "$DOC")
	echo "    systemd-analyze security --offline=true: ${got:-?}; deploy/README.md: ${want:-?}"
	[[ -n "$got" && "$got" == "$want" ]]
}
check "systemd-analyze security exposure = the figure in deploy/README.md" exposure_documented

# The trace of the served run against the rest of the sandbox:
#   calls  SystemCallFilter= (an allow list; later ~ lines remove, later plain lines add
#          back) expanded by systemd-analyze syscall-filter; socket families against
#          RestrictAddressFamilies=; no namespace created, and none entered but of the
#          types RestrictNamespaces= allows
#   files  only the devices a PrivateDevices= /dev holds; writes only where
#          ProtectSystem=strict leaves them possible (API file systems, ReadWritePaths=,
#          RuntimeDirectory=, PrivateTmp=)
unit_trace() {
	$PY - "$1" "$UNIT_FILE" "$WORK/strace.log" <<-'EOF'
		import re, subprocess, sys
		what, unit, log = sys.argv[1:]
		def expand(item):
		    if not item.startswith("@"):
		        return {item}
		    out = subprocess.run(["systemd-analyze", "syscall-filter", item],
		                         capture_output=True, text=True, check=True).stdout
		    calls = set()
		    for line in out.splitlines()[1:]:
		        w = line.strip()
		        if w and not w.startswith("#"):
		            calls |= expand(w)
		    return calls
		keys = {}
		for line in open(unit):
		    m = re.match(r"(\w+)=(.*)", line.strip())
		    if m:
		        keys.setdefault(m.group(1), []).append(m.group(2))
		calls = [l for l in open(log) if re.match(r"\d+ +(<\.\.\. )?[a-z0-9_]+[( ]", l)]
		if not calls:
		    sys.exit("    no trace")
		bad = []
		if what == "calls":
		    allowed = None
		    for v in keys.get("SystemCallFilter", []):
		        deny, items = v.startswith("~"), v.lstrip("~").split()
		        s = set().union(*(expand(i) for i in items))
		        if allowed is None:
		            if deny:
		                sys.exit("    SystemCallFilter= is not an allow list")
		            allowed = s
		        else:
		            allowed = allowed - s if deny else allowed | s
		    if allowed is None:
		        sys.exit("    no SystemCallFilter=")
		    # systemd always lets the service exec and exit
		    allowed |= {"execve", "exit", "exit_group", "rt_sigreturn"}
		    families = set(" ".join(keys.get("RestrictAddressFamilies", [])).split())
		    used, fams = {}, set()
		    # RestrictNamespaces=: yes (none), or the types allowed
		    ns_ok = set()
		    for v in keys.get("RestrictNamespaces", []):
		        ns_ok = set() if v.strip() in ("yes", "true") else set(v.split())
		    for l in calls:
		        name = re.match(r"\d+ +(?:<\.\.\. )?([a-z0-9_]+)", l).group(1)
		        used[name] = used.get(name, 0) + 1
		        if name in ("unshare", "setns") or "CLONE_NEW" in l:
		            kinds = {k.lower() for k in re.findall(r"CLONE_NEW(\w+)", l)}
		            if name == "unshare" or not kinds or not kinds <= ns_ok:
		                bad.append("namespace: " + l.strip())
		        f = re.match(r"\d+ +socket(?:pair)?\((\w+)", l)
		        if f:
		            fams.add(f.group(1))
		    bad += ["not in SystemCallFilter=: %s (%d times)" % (c, used[c])
		            for c in sorted(set(used) - allowed)]
		    if any(f.startswith("~") for f in families):
		        bad.append("RestrictAddressFamilies= is not an allow list")
		    bad += ["socket family not in RestrictAddressFamilies=: " + f
		            for f in sorted(fams - families)]
		    print("    %d distinct calls, %d in all; socket families: %s"
		          % (len(used), sum(used.values()), " ".join(sorted(fams)) or "none"))
		else:
		    devices = re.compile(r"/dev/(null|zero|full|random|urandom|tty|ptmx|pts/.*|shm/.*|"
		                         r"mqueue/.*|hugepages/.*|log|stdin|stdout|stderr|fd/.*|core)$")
		    writable = ["/proc/", "/sys/", "/dev/", "/tmp/", "/var/tmp/"]
		    writable += [p.lstrip("-").rstrip("/") + "/" for v in keys.get("ReadWritePaths", [])
		                 for p in v.split()]
		    writable += ["/run/%s/" % d for v in keys.get("RuntimeDirectory", []) for d in v.split()]
		    opened = set()
		    for l in calls:
		        m = re.match(r"\d+ +(openat|open|mkdirat|mkdir|unlinkat|unlink|renameat2?|rename|"
		                     r"mount|symlinkat|linkat|creat|truncate)\((?:AT_FDCWD, |(\d+), )?"
		                     r"(?:\"[^\"]*\", )?\"([^\"]*)\"(.*)", l)
		        if not m:
		            continue
		        call, dirfd, path, rest = m.groups()
		        if dirfd is not None:
		            continue  # relative to a directory it opened: checked when that was opened
		        if not path.startswith("/"):
		            path = "/" + path  # a unit's working directory is /
		        opened.add(path)
		        if path.startswith("/dev/") and not devices.match(path):
		            bad.append("device outside PrivateDevices=: " + path)
		        writes = call not in ("openat", "open") or re.search(r"O_(WRONLY|RDWR|CREAT|TRUNC)", rest)
		        if writes and not any((path + "/").startswith(w) for w in writable):
		            bad.append("write under ProtectSystem=strict: %s %s" % (call, path))
		    print("    %d paths opened or written" % len(opened))
		for b in sorted(set(bad))[:20]:
		    print("    " + b)
		sys.exit(1 if bad else 0)
	EOF
}
check "its calls: in SystemCallFilter= and RestrictAddressFamilies=, no namespaces" unit_trace calls
check "its files: PrivateDevices= devices only, writes where ProtectSystem= allows" unit_trace files

echo "reinstall with an edited config, then the uninstall block"
$PY - "$DEST$CONFIG" <<-'EOF'
	import json, sys
	cfg = json.load(open(sys.argv[1]))
	cfg["listen"] = "127.0.0.1:9478"
	json.dump(cfg, open(sys.argv[1], "w"), indent=1)
EOF
cp "$DEST$CONFIG" "$WORK/edited.json"
check "the install block runs again, exit 0" run_block install
check "the edited config is kept" cmp -s "$DEST$CONFIG" "$WORK/edited.json"
check "binary and unit still installed" [ -x "$DEST$BIN" -a -f "$UNIT_FILE" ]

doc_block uninstall | sed 's/^/    $ /'
check "the block exists and runs make uninstall" grep -qE '(^|[;&| ])make uninstall' <(doc_block uninstall)
: >"$WORK/commands"
check "the uninstall block runs, exit 0" run_block uninstall
sed 's/^/    > /' "$WORK/commands"
check "systemctl disable --now before make uninstall" \
	[ "$(line_of '^systemctl disable --now')" -gt 0 -a "$(line_of '^systemctl disable --now')" -lt "$(line_of '^make .*uninstall')" ]
check "systemctl disable --now names the installed unit" eq "$(systemctl_units 'disable --now')" "$(basename "$UNIT")"
check "binary removed" [ ! -e "$DEST$BIN" ]
check "unit removed" [ ! -e "$UNIT_FILE" ]
check "the edited config is kept" cmp -s "$DEST$CONFIG" "$WORK/edited.json"

# An unedited config is the shipped default: uninstall takes it too.
untouched_config_goes() {
	local d=$WORK/plain left
	(unset MAKEFLAGS MFLAGS MAKELEVEL && cd "$ROOT" && make -s install uninstall DESTDIR="$d") >/dev/null 2>&1 ||
		{ echo "    make install uninstall failed"; return 1; }
	left=$(find "$d" ! -type d)
	[[ -z "$left" ]] || { echo "    left: $left"; return 1; }
}
check "install + uninstall with the default config leaves no file" untouched_config_goes

finish
