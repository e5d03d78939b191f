#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Build every tests/fuzz/fuzz_*.c as a libFuzzer target (ASan + UBSan, leaks checked)
# and run each for SECONDS (default 60). A crash, leak, timeout or RSS over 512 MiB
# fails the target. Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
SECONDS_EACH=${1:-60}
OUT=build/fuzz
mkdir -p "$OUT"
SRCS=$(find user -name '*.c' ! -name main.c | sort)
CLANG=${CLANG:-clang}
pass=0 fail=0
for f in tests/fuzz/fuzz_*.c; do
	name=$(basename "$f" .c)
	if ! $CLANG -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-std=gnu11 -Iinclude -Iuser -Ibuild -DFOGPROBE_VERSION='"fuzz"' \
		"$f" $SRCS -o "$OUT/$name" -lbpf -lelf -lz -lmicrohttpd -ljansson -lcurl -lm -pthread \
		2>"$OUT/$name.build.log"; then
		echo "FAIL $name: does not build"
		cat "$OUT/$name.build.log"
		fail=$((fail + 1))
		continue
	fi
	corpus="$OUT/corpus-$name"
	mkdir -p "$corpus"
	[[ -d tests/fuzz/corpus/$name ]] && cp -n tests/fuzz/corpus/"$name"/* "$corpus"/ 2>/dev/null
	if "$OUT/$name" -max_total_time="$SECONDS_EACH" -rss_limit_mb=512 -timeout=10 \
		-print_final_stats=1 "$corpus" >"$OUT/$name.log" 2>&1; then
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/$name.log")
		echo "ok   $name ($execs runs in ${SECONDS_EACH}s)"
		pass=$((pass + 1))
	else
		echo "FAIL $name"
		grep -E 'ERROR|SUMMARY|crash-|leak-|timeout-|oom-' "$OUT/$name.log" | head -20
		fail=$((fail + 1))
	fi
done
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
