#!/usr/bin/env bash
# Master failover, as a user sees it: two controllers on a real kube-apiserver (built by
# scripts/kube-test-binaries.sh) and a 3-replica kmesos log, all on 127.0.0.1. For each Lease setting,
# REPEATS times: kill -9 the controller holding the Lease, create a Weight at once, and time how long
# until the other controller has reconciled it into the registry (and when the Lease changed hands).
#
#   bench/failover.sh                                  # LEASES=15s/10s/2s,4s/3s/500ms REPEATS=3
set -euo pipefail
cd "$(dirname "$0")/.."
LEASES=${LEASES:-15s/10s/2s,4s/3s/500ms}
REPEATS=${REPEATS:-3}
work=$(mktemp -d /tmp/kmesos-failover.XXXXXX)
trap 'rm -rf "$work"' EXIT

scripts/kube-test-binaries.sh >/dev/null
./mvnw -q -B package -DskipTests
java -cp local/target/kmesos-local.jar io.kmesos.local.FailoverBenchmark --leases "$LEASES" --repeats "$REPEATS" \
  | tee "$work/results.txt"

out="bench/results/$(date -u +%Y-%m-%d-%H%M)-failover.md"
python3 - "$work/results.txt" "$out" "$LEASES" "$REPEATS" <<'PY'
import sys, statistics, re, platform, os
path, out, leases, repeats = sys.argv[1:5]
runs = [dict(re.findall(r'(\w+)=([\w.]+)', l)) for l in open(path) if l.startswith('lease=')]
rows = ["| lease / renew deadline / retry | Lease taken over, ms (median) | first change reconciled, ms (median, min–max) | runs |",
        "|---|---|---|---|"]
for key in dict.fromkeys((r['lease'], r['renew'], r['retry']) for r in runs):
    rs = [r for r in runs if (r['lease'], r['renew'], r['retry']) == key]
    f = [int(r['failover_ms']) for r in rs]
    t = [int(r['lease_taken_ms']) for r in rs]
    rows.append(f"| {' / '.join(key)} | {statistics.median(t):.0f} | {statistics.median(f):.0f} ({min(f)}–{max(f)}) | {len(rs)} |")
with open(out, "w") as fh:
    fh.write("# Master failover: kill -9 of the leader to the first change reconciled by the new one\n\n")
    fh.write(f"Command: `LEASES={leases} REPEATS={repeats} bench/failover.sh`  \n")
    fh.write(f"Machine: {os.cpu_count()} cores, {platform.platform()}; kube-apiserver + etcd, 3 replica JVMs and 2 "
             "controller JVMs on 127.0.0.1.\n\n" + "\n".join(rows) + "\n\nEvery run:\n\n```\n" + open(path).read() + "```\n")
print(open(out).read())
PY
echo "bench: wrote $out" >&2
