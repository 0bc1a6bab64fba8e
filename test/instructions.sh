#!/bin/bash
# Instructions per line of the core benchmarks, counted by valgrind's
# cachegrind: unlike ns/op, the count does not move with the load of a
# shared machine, so two builds compare within a fraction of a percent.
# Each benchmark runs twice (N1 and N2 lines, the collector off, one
# thread); the difference divided by N2-N1 leaves out the setup.
# Usage: test/instructions.sh [test binary] (default: built from ./test).
set -euo pipefail
if ! command -v valgrind >/dev/null; then
	echo "bench-instructions: skipped: valgrind is not installed (apt-get install valgrind)"
	exit 0
fi
bin=${1:-}
if [ -z "$bin" ]; then
	bin=$(mktemp /tmp/sshenrich-core.XXXXXX)
	trap 'rm -f "$bin"' EXIT
	go test -c -o "$bin" ./test/
fi
N1=100000 N2=300000
refs() { # benchmark regexp, lines
	(cd test && GOGC=off GOMAXPROCS=1 valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
		"$bin" -test.run '^$' -test.bench "$1" -test.benchtime "$2x" -test.cpu 1 2>&1 >/dev/null |
		awk '/I +refs/ { gsub(",", "", $NF); print $NF }')
}
for b in 'BenchmarkCore$' 'BenchmarkCoreCorrelate$' 'BenchmarkCoreCorrelateSessions/sources=1000$' 'BenchmarkCoreCorrelateSessions/sources=100000$'; do
	a=$(refs "$b" $N1)
	z=$(refs "$b" $N2)
	printf '%-48s %6d instructions/line\n' "${b%\$}" $(((z - a) / (N2 - N1)))
done
