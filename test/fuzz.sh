#!/usr/bin/env bash
# Runs each fuzz target for a bounded time: test/fuzz.sh <fuzztime> <logdir> <pkg:Name>...
#
# A run that ends in a bare "context deadline exceeded" with no failing
# input written is Go's fuzzing coordinator racing its own -fuzztime
# deadline (golang/go#51484), not a finding. Such a run is accepted only
# after the target's seeds and testdata corpus replay clean; any other
# failure, a failed check or a written input fails the run.
set -uo pipefail
fuzztime=$1 logdir=$2
shift 2
go=${GO:-go}
mkdir -p "$logdir"
for t in "$@"; do
	pkg=${t%%:*} name=${t##*:}
	log=$logdir/fuzz-$name.log
	"$go" test -run '^$' -fuzz "^$name\$" -fuzztime "$fuzztime" -fuzzminimizetime 100x "$pkg" >"$log" 2>&1
	rc=$?
	execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1)
	if [ $rc -ne 0 ] && grep -q 'context deadline exceeded' "$log" &&
		! grep -q -E 'Failing input written|panic:|^ +[A-Za-z0-9_]+\.go:[0-9]+: ' "$log"; then
		if "$go" test -run "^$name\$" "$pkg" >>"$log" 2>&1; then
			echo "$name: $execs in $fuzztime, fuzzing deadline race; corpus replays clean"
			continue
		fi
		rc=1
	fi
	echo "$name: $execs in $fuzztime, exit $rc"
	if [ $rc -ne 0 ]; then
		cat "$log"
		exit 1
	fi
done
