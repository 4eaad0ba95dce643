#!/bin/sh
# compare.sh: GemmNT (this package, asm tiers) against OpenBLAS cblas_sgemm on the layer shapes,
# alternating the two programs for several rounds on the same machine. Each round times reps
# single calls per shape and program; the table gives the median over rounds of the per-round
# median, the spread of those medians, the best single call, and ours/OpenBLAS for the
# medians and for the best calls.
#
#   sh tensor/bench/compare.sh [rounds] [reps] [threads]      (from the repository root)
#
# TIERS (default avx512|avx2) picks the tiers of ours to time. Needs gcc and libopenblas-dev
# (pthreads). On a shared machine the medians measure the machine as much as the code; the
# best calls are the closest to an idle machine.
set -eu
rounds=${1:-5}
reps=${2:-5}
threads=${3:-2}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gcc -O2 -o "$tmp/openblas_sgemm" tensor/bench/openblas_sgemm.c -lopenblas
go test -c -o "$tmp/tensor.test" ./tensor
i=0
while [ "$i" -lt "$rounds" ]; do
	echo "round $i" >>"$tmp/openblas.txt"
	echo "round $i" >>"$tmp/ours.txt"
	OPENBLAS_NUM_THREADS=$threads "$tmp/openblas_sgemm" "$reps" >>"$tmp/openblas.txt"
	GOMAXPROCS=$threads "$tmp/tensor.test" -test.run '^$' -test.bench "GemmNT/(${TIERS:-avx512|avx2})/[0-9]" \
		-test.benchtime 1x -test.count "$reps" >>"$tmp/ours.txt"
	i=$((i + 1))
done
python3 - "$tmp/openblas.txt" "$tmp/ours.txt" <<'PY'
import re, statistics, sys
med = statistics.median
ob, ours = {}, {}  # shape -> list of (round median, round best)
for line in open(sys.argv[1]):
    m = re.search(r"M=(\d+) N=(\d+) K=(\d+) .*median ([\d.]+) GFLOP/s \(min [\d.]+ max ([\d.]+)\)", line)
    if m:
        ob.setdefault(m.group(1, 2, 3), []).append((float(m.group(4)), float(m.group(5))))
rnd = None
per = {}  # (round, tier, shape) -> [GFLOP/s of single calls]
for line in open(sys.argv[2]):
    if line.startswith("round"):
        rnd = line.split()[1]
    m = re.search(r"GemmNT/(\w+)/(\d+)x(\d+)x(\d+)\S*\s+\d+\s+\d+ ns/op.*?([\d.]+) GFLOP/s", line)
    if m:
        per.setdefault((rnd, m.group(1)) + m.group(2, 3, 4), []).append(float(m.group(5)))
for key, v in per.items():
    ours.setdefault(key[1:], []).append((med(v), max(v)))
print("%-7s %-15s %-24s %-24s %6s %6s %6s" % ("tier", "MxNxK", "ours med (spread)", "openblas med (spread)",
      "ratio", "best", "ratio"))
for key, v in sorted(ours.items()):
    o = ob.get(key[1:])
    if not o: continue
    mo, mb = med(x[0] for x in v), med(x[0] for x in o)
    bo, bb = max(x[1] for x in v), max(x[1] for x in o)
    print("%-7s %-15s %6.1f (%5.1f..%5.1f)    %6.1f (%5.1f..%5.1f)    %6.2f %6.0f/%-4.0f %4.2f" % (key[0], "x".join(key[1:]),
          mo, min(x[0] for x in v), max(x[0] for x in v), mb, min(x[0] for x in o), max(x[0] for x in o), mo / mb, bo, bb, bo / bb))
PY
