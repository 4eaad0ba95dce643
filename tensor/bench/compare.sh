#!/bin/sh
# compare.sh: GemmNT (this package, best tier) against OpenBLAS cblas_sgemm on the layer shapes,
# alternating the two programs for several rounds on the same machine, then the median per
# shape over rounds, the spread (min..max of the round medians) and ours/OpenBLAS.
#
#   sh tensor/bench/compare.sh [rounds] [reps] [threads]      (from the repository root)
#
# Needs gcc and libopenblas-dev (pthreads). Wall GFLOP/s is what a caller sees; GFLOP/cpu-s
# (flop per CPU-second of the process) is steadier on a shared machine.
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
	OPENBLAS_NUM_THREADS=$threads "$tmp/openblas_sgemm" "$reps" >>"$tmp/openblas.txt"
	GOMAXPROCS=$threads "$tmp/tensor.test" -test.run '^$' -test.bench 'GemmNT/(avx512|avx2|generic)/[0-9]' \
		-test.benchtime "${reps}x" >>"$tmp/ours.txt"
	i=$((i + 1))
done
python3 - "$tmp/openblas.txt" "$tmp/ours.txt" <<'PY'
import re, statistics, sys
ob, ours = {}, {}
for line in open(sys.argv[1]):
    m = re.search(r"M=(\d+) N=(\d+) K=(\d+) .*median ([\d.]+) GFLOP/s.* ([\d.]+) GFLOP/cpu-s", line)
    if m:
        ob.setdefault(m.group(1, 2, 3), []).append((float(m.group(4)), float(m.group(5))))
for line in open(sys.argv[2]):
    m = re.search(r"GemmNT/(\w+)/(\d+)x(\d+)x(\d+)\S*\s+\d+\s+\d+ ns/op\s+([\d.]+) GFLOP/cpu-s\s+([\d.]+) GFLOP/s", line)
    if m:
        ours.setdefault((m.group(1),) + m.group(2, 3, 4), []).append((float(m.group(6)), float(m.group(5))))
def med(v, i): return statistics.median(x[i] for x in v)
def rng(v, i): return "%.0f..%.0f" % (min(x[i] for x in v), max(x[i] for x in v))
print("%-8s %-16s %22s %22s %7s %9s" % ("tier", "MxNxK", "ours wall (spread)", "openblas wall (spread)", "ratio", "cpu ratio"))
for key, v in sorted(ours.items()):
    o = ob.get(key[1:])
    if not o: continue
    print("%-8s %-16s %8.1f (%11s) %8.1f (%11s) %6.2f %9.2f" % (key[0], "x".join(key[1:]), med(v, 0), rng(v, 0),
          med(o, 0), rng(o, 0), med(v, 0) / med(o, 0), med(v, 1) / med(o, 1)))
PY
