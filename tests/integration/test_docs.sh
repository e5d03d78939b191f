#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The READMEs against the binary they document: README.md's metric table against the
# families the daemon registers (`fogprobe metrics`: name, type, labels, help per line,
# tab-separated), the block between <!-- fogprobe --help --> and <!-- end --help -->
# against `fogprobe --help`, and every relative link of the READMEs against the tree.
# Starts no daemon and loads no BPF program.
. "$(dirname "$0")/lib.sh"
export LC_ALL=C # one collation for sort, comm and join

DOCS=(README.md bpf/README.md tests/README.md tests/bench/README.md deploy/README.md)
README=$ROOT/README.md

# sorted_labels "a, b,c" -> "a,b,c" sorted; "", "-" and "—" (no labels) -> ""
sorted_labels() {
	local l=${1//[[:space:]]/}
	[[ "$l" == "-" || "$l" == "—" ]] && l=
	tr ',' '\n' <<<"$l" | sed '/^$/d' | sort | paste -sd, -
}

# name TAB type TAB labels lines on stdin -> the same with the labels sorted
normalize() {
	local name type labels
	while IFS=$'\t' read -r name type labels; do
		[[ -n "$name" ]] || continue
		printf '%s\t%s\t%s\n' "$name" "$type" "$(sorted_labels "$labels")"
	done
}

# The rows of README.md's "## Metrics" table whose first cell is a name in backticks.
readme_families() {
	awk -F'|' '
		/^## / { in_metrics = ($0 ~ /^## Metrics[[:space:]]*$/); next }
		in_metrics && /^\|[[:space:]]*`[A-Za-z_:][A-Za-z0-9_:]*`[[:space:]]*\|/ {
			name = $2; gsub(/[[:space:]`]/, "", name)
			type = $3; gsub(/[[:space:]]/, "", type)
			print name "\t" type "\t" $4
		}' "$README" | normalize
}

dups() { # FILE: names listed more than once
	local d
	d=$(uniq -d "$1")
	[[ -z "$d" ]] || { echo "    listed more than once:"; sed 's/^/      /' <<<"$d"; return 1; }
}

same_names() {
	local missing extra
	missing=$(comm -13 <(sort -u "$WORK/readme.names") <(sort -u "$WORK/binary.names"))
	extra=$(comm -23 <(sort -u "$WORK/readme.names") <(sort -u "$WORK/binary.names"))
	[[ -z "$missing" ]] || { echo "    registered, missing from README.md:"; sed 's/^/      /' <<<"$missing"; }
	[[ -z "$extra" ]] || { echo "    in README.md, not registered:"; sed 's/^/      /' <<<"$extra"; }
	[[ -z "$missing" && -z "$extra" ]]
}

# same_column COL: for the names on both sides, README.md's column COL (2 type,
# 3 labels) against the binary's
same_column() {
	local diffs
	diffs=$(join -t $'\t' \
		<(cut -f1,"$1" "$WORK/readme.fam" | sort -t $'\t' -k1,1) \
		<(cut -f1,"$1" "$WORK/binary.fam" | sort -t $'\t' -k1,1) |
		awk -F'\t' '$2 != $3 { printf "      %s: README.md \"%s\", fogprobe metrics \"%s\"\n", $1, $2, $3 }')
	[[ -z "$diffs" ]] || { echo "    differ:"; echo "$diffs"; return 1; }
}

same_help() {
	diff -u --label "README.md" --label "fogprobe --help" "$WORK/help.readme" \
		"$WORK/help.binary" >"$WORK/help.diff" && return 0
	sed 's/^/    /' "$WORK/help.diff"
	return 1
}

# links DOC: the targets of DOC's inline links, images and reference definitions,
# outside code blocks and code spans
links() {
	awk '
		/^[[:space:]]*(```|~~~)/ { fence = !fence; next }
		fence { next }
		{
			line = $0
			gsub(/`[^`]*`/, "", line)
			if (match(line, /^ ? ? ?\[[^]]+\]:[[:space:]]*[^[:space:]]+/)) {
				t = substr(line, RSTART, RLENGTH)
				sub(/^[^]]*\]:[[:space:]]*/, "", t)
				print t
			}
			while (match(line, /\]\([^)]*\)/)) {
				t = substr(line, RSTART + 2, RLENGTH - 3)
				line = substr(line, RSTART + RLENGTH)
				sub(/^[[:space:]]+/, "", t)
				sub(/[[:space:]].*$/, "", t)
				print t
			}
		}' "$1"
}

links_resolve() { # DOC (relative to the repository)
	local doc=$1 dir t path bad=
	[[ -f "$ROOT/$doc" ]] || { echo "    $doc does not exist"; return 1; }
	dir=$(dirname "$ROOT/$doc")
	while read -r t; do
		t=${t#<}
		t=${t%>}
		# URLs (scheme:...), anchors in the same file, protocol-relative URLs
		[[ "$t" =~ ^[A-Za-z][A-Za-z0-9+.-]*: || "$t" == "#"* || "$t" == //* ]] && continue
		path=${t%%#*}
		path=${path%%\?*}
		path=${path//%20/ }
		[[ -n "$path" ]] || continue
		if [[ "$path" == /* ]]; then
			path=$ROOT$path # GitHub resolves /x from the repository's root
		else
			path=$dir/$path
		fi
		[[ -e "$path" ]] || bad+="      $t"$'\n'
	done < <(links "$ROOT/$doc")
	[[ -z "$bad" ]] || { echo "    $doc: no such file:"; printf '%s' "$bad"; return 1; }
}

echo "metric table: README.md against fogprobe metrics"
readme_families >"$WORK/readme.fam"
"$FOGPROBE" metrics >"$WORK/metrics.out" 2>"$WORK/metrics.err"
rc=$?
cut -f1-3 "$WORK/metrics.out" | normalize >"$WORK/binary.fam"
cut -f1 "$WORK/readme.fam" | sort >"$WORK/readme.names"
cut -f1 "$WORK/binary.fam" | sort >"$WORK/binary.names"
echo "    README.md: $(wc -l <"$WORK/readme.fam") families; fogprobe metrics: exit $rc, $(wc -l <"$WORK/binary.fam") families"
[[ $rc -eq 0 ]] || sed 's/^/    | /' "$WORK/metrics.err" | head -n 3
check "README.md has a metric table under \"## Metrics\"" [ -s "$WORK/readme.fam" ]
check "README.md lists each family once" dups "$WORK/readme.names"
check "fogprobe metrics exits 0 and lists families" [ "$rc" -eq 0 -a -s "$WORK/binary.fam" ]
# Without the registered families the comparisons would only list every row.
if [[ $rc -eq 0 && -s "$WORK/binary.fam" ]]; then
	check "fogprobe metrics lists each family once" dups "$WORK/binary.names"
	check "README.md's families = the registered families" same_names
	check "README.md's type column agrees" same_column 2
	check "README.md's labels column agrees" same_column 3
fi

echo "--help: README.md's block against fogprobe --help"
# The lines between the markers, without the code fence around them.
awk '
	/^<!-- end --help -->[[:space:]]*$/ { inside = 0 }
	inside { print }
	/^<!-- fogprobe --help -->[[:space:]]*$/ { inside = 1 }' "$README" |
	sed -e '1{/^\(```\|~~~\)/d}' -e '${/^\(```\|~~~\)/d}' >"$WORK/help.readme"
"$FOGPROBE" --help >"$WORK/help.binary"
rc=$?
check "README.md has the --help block" [ -s "$WORK/help.readme" ]
check "fogprobe --help exits 0" eq "$rc" 0
check "README.md's --help block = fogprobe --help" same_help

echo "relative links"
for doc in "${DOCS[@]}"; do
	check "$doc: every relative link points at a file" links_resolve "$doc"
done
finish
