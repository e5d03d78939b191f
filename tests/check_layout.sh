#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The arrows of the design (collect -> model -> telemetry -> export, lib below all), as
# #include lines: each stage includes only itself and the stages it may use. Only
# collect/ includes a kernel record header of include/ or a BPF skeleton; the daemon's
# wiring (user/*.c) may include anything. One check per source file.
set -u
cd "$(dirname "$0")/.."
pass=0 fail=0
records=$(cd include && ls *.h)

allowed() { # STAGE -> the stages it may include
	case $1 in
	lib) echo "lib" ;;
	model) echo "model lib" ;;
	telemetry) echo "telemetry model lib" ;;
	export) echo "export telemetry model lib" ;;
	collect) echo "collect model lib" ;;
	esac
}

for f in $(find user -mindepth 2 -name '*.[ch]' | sort); do
	stage=$(cut -d/ -f2 <<<"$f")
	ok=" $(allowed "$stage") "
	bad=""
	while read -r inc; do
		[[ -z "$inc" ]] && continue
		case $inc in
		*.skel.h)
			[[ $stage == collect ]] || bad+=" $inc (a BPF skeleton)" ;;
		*/*)
			dir=${inc%%/*}
			[[ "$ok" == *" $dir "* ]] || bad+=" $inc ($stage may not use $dir)" ;;
		*)
			# a bare name: a kernel record header of include/ (system headers use <...>
			# and are not listed there)
			if grep -qx "$inc" <<<"$records" && [[ $stage != collect ]]; then
				bad+=" $inc (a kernel record header)"
			fi ;;
		esac
	done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]\([^>"]*\)[>"].*/\1/p' "$f" |
		grep -v '^\(bpf\|linux\|sys\|arpa\|netinet\|curl\)/')
	if [[ -n "$bad" ]]; then
		fail=$((fail + 1))
		echo "FAIL $f:$bad"
	else
		pass=$((pass + 1))
	fi
done
echo "layout: $pass files keep the arrows, $fail do not"
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
