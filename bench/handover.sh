#!/usr/bin/env bash
# The master's handover when its controller is stopped (SIGTERM, as a rolling update does: it
# releases the Lease), next to kill -9 (the Lease must expire), under the same Lease settings in the
# same run: two controllers (real JVMs) on a real kube-apiserver (built by scripts/kube-test-binaries.sh)
# and a 3-replica kmesos log, with an agent (a real AgentSession, simulated tasks) and a framework
# connected to the leader, one task running, all on 127.0.0.1. For each Lease setting (LEASES:
# duration/renew-deadline/retry-period), REPEATS times each MODE: stop the leader and time, from the
# signal, the standby holding the Lease, its master port serving (the Operator API answers; a standby
# refuses UNAVAILABLE), the agent re-registered and the framework subscribed again with it.
#
#   bench/handover.sh                  # LEASES=15s/10s/2s,4s/3s/500ms,2s/1500ms/250ms MODES=sigterm,kill REPEATS=3
#   KEEP=1 bench/handover.sh           # keeps the work directory (the controllers' logs, to see where time goes)
set -euo pipefail
cd "$(dirname "$0")/.."
LEASES=${LEASES:-15s/10s/2s,4s/3s/500ms,2s/1500ms/250ms}
MODES=${MODES:-sigterm,kill}
REPEATS=${REPEATS:-3}
work=$(mktemp -d /tmp/kmesos-handover.XXXXXX)
trap '[[ -n "${KEEP:-}" ]] || rm -rf "$work" 2>/dev/null || true' EXIT

scripts/kube-test-binaries.sh >/dev/null
if [[ -z "${SKIP_BUILD:-}" ]]; then ./mvnw -o -q -B -pl local -am package -DskipTests; fi
# The machine's load while it runs (other builds, CI jobs share it): /proc/loadavg every 5 s.
(while :; do echo "$(date -u +%H:%M:%S) $(cat /proc/loadavg)"; sleep 5; done) >"$work/load.txt" &
sampler=$!
trap 'kill $sampler 2>/dev/null || true; [[ -n "${KEEP:-}" ]] || rm -rf "$work" 2>/dev/null || true' EXIT
java -cp local/target/kmesos-local.jar io.kmesos.local.HandoverBenchmark --leases "$LEASES" --modes "$MODES" \
  --repeats "$REPEATS" --work-dir "$work/cluster" 2> >(grep -v 'WARN ' >&2) | tee "$work/results.txt"
kill $sampler 2>/dev/null || true
echo "$(date -u +%H:%M:%S) $(cat /proc/loadavg)" >>"$work/load.txt"

out="bench/results/$(date -u +%Y-%m-%d-%H%M)-handover.md"
python3 - "$work/results.txt" "$out" "$work/load.txt" "LEASES=$LEASES MODES=$MODES REPEATS=$REPEATS" <<'PY'
import sys, statistics, re, platform, os
path, out, loadfile, settings = sys.argv[1:5]
loads = [float(l.split()[1]) for l in open(loadfile) if l.strip()]
lines = open(path).read().splitlines()
runs = [dict(re.findall(r'(\w+)=([^\s]+)', l)) for l in lines if l.startswith('mode=')]
def cell(rs, k):
    v = [int(r[k]) for r in rs]
    return f"{statistics.median(v):.0f} ({min(v)}–{max(v)})"
rows = ["| lease / renew deadline / retry | stop | old process exited | Lease taken | new master serving | agent re-registered | framework subscribed again | runs |",
        "|---|---|---|---|---|---|---|---|"]
verdicts = []
for key in dict.fromkeys((r['lease'], r['renew'], r['retry']) for r in runs):
    for mode in dict.fromkeys(r['mode'] for r in runs):
        rs = [r for r in runs if (r['lease'], r['renew'], r['retry']) == key and r['mode'] == mode]
        if not rs:
            continue
        name = 'SIGTERM' if mode == 'sigterm' else 'kill -9'
        rows.append(f"| {' / '.join(key)} | {name} | {cell(rs, 'exited_ms')} | {cell(rs, 'lease_ms')} | {cell(rs, 'serving_ms')} | "
                    f"{cell(rs, 'agent_ms')} | {cell(rs, 'framework_ms')} | {len(rs)} |")
        if mode == 'sigterm':
            m = statistics.median(int(r['serving_ms']) for r in rs)
            verdicts.append(f"- {' / '.join(key)}, SIGTERM: new master serving after {m:.0f} ms (median; target ≤ 500 ms: "
                            f"{'met' if m <= 500 else 'not met'})")
cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), '?')
with open(out, "w") as fh:
    fh.write("# Master handover: SIGTERM of the leader (the Lease released) next to kill -9 (the Lease expires)\n\n")
    fh.write(f"Command: `{settings} bench/handover.sh`  \n")
    fh.write(f"Machine: {os.cpu_count()} cores ({cpu}), {platform.platform()}; kube-apiserver + etcd, 3 replica JVMs, "
             "2 controller JVMs and the benchmark JVM (the agent's session and the framework) on 127.0.0.1.  \n")
    if loads:
        fh.write(f"Load (1-minute load average every 5 s while it ran, {len(loads)} samples, on {os.cpu_count()} cores; "
                 f"other builds and CI jobs shared the machine): min {min(loads):.1f}, median {statistics.median(loads):.1f}, "
                 f"max {max(loads):.1f}\n\n")
    else:
        fh.write("\n")
    fh.write("Milliseconds from the signal, median (min–max). Lease taken: the standby is the Lease's holder. "
             "New master serving: its master port answers the Operator API (a standby, or a master still recovering "
             "the registry, answers UNAVAILABLE). Agent and framework: connected to the old leader before, "
             "re-registered / subscribed again with the new one (their clients back off 100 ms doubling to 5 s "
             "while no master serves).\n\n")
    fh.write("\n".join(rows) + "\n\n" + "\n".join(verdicts) + "\n\nEvery run:\n\n```\n" + "\n".join(lines) + "\n```\n")
print(open(out).read())
PY
echo "bench: wrote $out" >&2
