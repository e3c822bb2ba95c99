#!/usr/bin/env bash
# The registrar benchmark, side by side in one run: kmesos (one State variable per registry entry,
# snapshots + truncation) against the way Mesos stores its registry (the whole registry on every
# change, then a truncate), both on the kmesos replicated log (3 replica JVMs on 127.0.0.1, fsync on),
# on a fresh log per run, interleaved and repeated. For each registry size: admit the agents (500 in
# flight), time single operations one after another, count the bytes each appends, time a new
# registrar's recovery. Prints every run, then medians and ratios, and writes them to bench/results/.
#
#   bench/registry.sh                          # AGENTS=10000,50000 REPEATS=2
#   AGENTS=1000 REPEATS=1 OPS=200 bench/registry.sh
set -euo pipefail
cd "$(dirname "$0")/.."
AGENTS=${AGENTS:-10000,50000}
REPEATS=${REPEATS:-2}
OPS=${OPS:-1000}
BASELINE_OPS=${BASELINE_OPS:-100}
WARMUP=${WARMUP:-500}
work=$(mktemp -d /tmp/kmesos-registry-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "bench: building" >&2
./mvnw -q -B package -DskipTests -pl registry -am
results="$work/results.txt"
java -jar registry/target/kmesos-registry.jar benchmark --agents "$AGENTS" --repeats "$REPEATS" --ops "$OPS" \
  --baseline-ops "$BASELINE_OPS" --warmup-ops "$WARMUP" --work-dir "$work/data" 2> "$work/bench.log" | tee "$results" \
  || { echo "bench: the benchmark failed; the end of its log:" >&2; tail -40 "$work/bench.log" >&2; exit 1; }

out="bench/results/$(date -u +%Y-%m-%d-%H%M)-registry.md"
python3 - "$results" "$out" "$AGENTS" "$REPEATS" "$OPS" "$BASELINE_OPS" "$WARMUP" <<'PY'
import sys, statistics, re, platform, os
path, out, agents, repeats, ops, baseline_ops, warmup = sys.argv[1:8]
runs = [dict(re.findall(r'(\w+)=([\w.-]+)', line)) for line in open(path) if line.startswith('mode=')]
cols = [("op_p50_ms", "op p50 ms"), ("op_p99_ms", "op p99 ms"), ("bytes_per_op", "bytes/op"),
        ("recovery_ms", "recovery ms"), ("read_ms", "of which reading ms"), ("fill_s", "admitting all s")]
rows = ["| agents | storage | " + " | ".join(c[1] for c in cols) + " | runs |", "|---" * (len(cols) + 3) + "|"]
ratios = ["| agents | op p50 whole/kmesos | bytes/op whole/kmesos | recovery whole/kmesos |", "|---|---|---|---|"]
for size in sorted({int(r['agents']) for r in runs}):
    med = {}
    for mode in ("kmesos", "whole-registry"):
        rs = [r for r in runs if r['mode'] == mode and int(r['agents']) == size]
        if not rs:
            continue
        med[mode] = {k: statistics.median(float(r[k]) for r in rs) for k, _ in cols}
        rows.append(f"| {size} | {mode} | " + " | ".join(
            f"{med[mode][k]:.3f}" if k.endswith("_ms") and k.startswith("op") else f"{med[mode][k]:.0f}" if k != "fill_s" else f"{med[mode][k]:.1f}"
            for k, _ in cols) + f" | {len(rs)} |")
    if len(med) == 2:
        k, w = med["kmesos"], med["whole-registry"]
        ratios.append(f"| {size} | {w['op_p50_ms']/k['op_p50_ms']:.1f} | {w['bytes_per_op']/k['bytes_per_op']:.0f} | "
                      f"{w['recovery_ms']/max(k['recovery_ms'],1):.1f} |")
with open(out, "w") as f:
    f.write("# Registrar: kmesos vs whole registry per change (Mesos's way), side by side\n\n")
    f.write(f"Command: `AGENTS={agents} REPEATS={repeats} OPS={ops} BASELINE_OPS={baseline_ops} WARMUP={warmup} bench/registry.sh`  \n")
    f.write(f"Machine: {os.cpu_count()} cores, {platform.platform()}; each run on a fresh 3-replica kmesos log "
            "(separate JVMs, RocksDB, fsync) on 127.0.0.1. Single operations: a closed loop of mark-unreachable, "
            f"mark-reachable, update-agent and update-quota, timed after {warmup} untimed ones (a tenth as many for the "
            "baseline) so that fresh replica JVMs are compiled; bytes/op counts every byte appended while they ran "
            "(a snapshot is included only if one fell due in that window: none does at these sizes, and by design "
            "snapshots at most double the bytes per change, docs/registry.md); recovery is a new master's whole start "
            "as the process sees it, the same for both (election, reading the log, decoding, recording itself); "
            "'of which reading' is the part each storage reports for reading and decoding the log.\n\n")
    f.write("\n".join(rows) + "\n\n" + "\n".join(ratios) + "\n\nEvery run:\n\n```\n" + open(path).read() + "```\n")
print(open(out).read())
PY
echo "bench: wrote $out" >&2
