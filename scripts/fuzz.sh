#!/bin/sh
# fuzz.sh runs every fuzz target of the module, one after the other, for a given time each.
#
#   scripts/fuzz.sh [TIME] [PACKAGE...]      TIME: a Go duration or Nx (default 30s);
#                                            PACKAGE: go package patterns (default ./...)
#
# It lists the targets with `go test -list '^Fuzz'`, runs each with -fuzztime=TIME and
# -fuzzminimizetime=2s, and stops at the first failure, printing the failing input's path
# (under the package's testdata/fuzz/FuzzX/, to be kept as a seed once the bug is fixed).
# A package that does not build is reported and skipped; FUZZ_SKIP (an extended regular
# expression) skips the targets whose "package target" it matches. Exit status: 0 all
# passed, 1 a target failed, 2 usage.
set -u

fuzztime=${1:-30s}
[ $# -gt 0 ] && shift
case $fuzztime in
-h | --help | help)
	sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
*[0-9]s | *[0-9]m | *[0-9]h | *[0-9]x | *[0-9]ms) ;;
*)
	echo "fuzz.sh: TIME must be a duration such as 30s, or a count such as 1000x" >&2
	exit 2
	;;
esac
cd "$(dirname "$0")/.." || exit 1
[ $# -eq 0 ] && set -- ./...

log=$(mktemp)
trap 'rm -f "$log" "$log.list"' EXIT

# `go test -list` prints the matching names, then "ok  <package>  <time>" per package.
go test -list '^Fuzz' "$@" >"$log.list" 2>&1
targets=$(awk '
	/^Fuzz/ { names = names " " $1; next }
	/^ok/ { n = split(names, a, " "); for (i = 1; i <= n; i++) print $2, a[i]; names = ""; next }
	/^(FAIL|#)/ { names = "" }
' "$log.list")
grep -E '^(FAIL|# )' "$log.list" | sed 's/^/fuzz.sh: skipped (does not build): /' >&2
if [ -n "${FUZZ_SKIP:-}" ]; then
	printf '%s\n' "$targets" | grep -E -- "$FUZZ_SKIP" | sed 's/^/fuzz.sh: skipped (FUZZ_SKIP): /' >&2
	targets=$(printf '%s\n' "$targets" | grep -v -E -- "$FUZZ_SKIP")
fi

count=$(printf '%s\n' "$targets" | grep -c . || true)
echo "fuzz.sh: $count fuzz targets, $fuzztime each"
i=0
printf '%s\n' "$targets" | while read -r pkg target; do
	[ -n "$pkg" ] || continue
	i=$((i + 1))
	printf 'fuzz.sh: [%d/%d] %s %s ... ' "$i" "$count" "$pkg" "$target"
	if go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" -fuzzminimizetime=2s "$pkg" >"$log" 2>&1; then
		execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
		echo "ok (${execs:-?} execs)"
		continue
	fi
	echo "FAILED"
	cat "$log"
	input=$(sed -n 's/.*Failing input written to \(.*\)$/\1/p' "$log" | tail -1)
	if [ -n "$input" ]; then
		dir=$(go list -f '{{.Dir}}' "$pkg")
		echo "fuzz.sh: failing input: $dir/$input"
		echo "fuzz.sh: re-run with: go test -run='^${target}\$/$(basename "$input")\$' $pkg"
	fi
	exit 1
done
