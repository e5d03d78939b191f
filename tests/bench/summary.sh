# SPDX-License-Identifier: GPL-2.0-only
# Sourced by the bench scripts: the rows of the summary (build/bench/report.json and
# report.md, written by summary.py at the end of make bench), one line each in
# $OUT/summary.tsv:
#   summary_row ID MEASURE VALUE UNIT OP TARGET [NOTE]
# VALUE is a number or empty (not measured: NOTE says why); OP is >=, <= or empty (no
# target). The bench reports; it never fails on a value.
summary_row() {
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "${7:-}" >>"$OUT/summary.tsv"
}
