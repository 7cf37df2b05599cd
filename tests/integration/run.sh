#!/bin/sh
# run.sh [NAME...] — run the integration tests (tests/integration/t_*.sh),
# each bounded by a timeout, and print a TAP-like summary. Exit status 77
# from a test means "skipped here". Fails if any test fails.
set -u
dir=$(cd "$(dirname "$0")" && pwd)
limit=${TEST_TIMEOUT:-180}
if [ $# -gt 0 ]; then
	tests=""
	for n in "$@"; do tests="$tests $dir/t_$n.sh"; done
else
	tests=$(ls "$dir"/t_*.sh)
fi
pass=0 failed=0 skipped=0 n=0 failures=""
for t in $tests; do
	n=$((n + 1))
	name=$(basename "$t" .sh | sed 's/^t_//')
	start=$(date +%s%3N)
	out=$(timeout -k 5 "$limit" bash "$t" 2>&1)
	rc=$?
	ms=$(($(date +%s%3N) - start))
	secs="$((ms / 1000)).$(printf %03d $((ms % 1000)))"
	case $rc in
	0) pass=$((pass + 1)); echo "ok $n - $name (${secs}s)" ;;
	77) skipped=$((skipped + 1)); echo "ok $n - $name # SKIP $(echo "$out" | tail -n 1)" ;;
	*)
		failed=$((failed + 1)); failures="$failures $name"
		echo "not ok $n - $name (exit $rc$( [ $rc = 124 ] && echo ', timed out'))"
		echo "$out" | sed 's/^/    # /'
		;;
	esac
done
echo "1..$n"
echo "integration: $pass passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] || { echo "failed:$failures"; exit 1; }
