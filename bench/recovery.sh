#!/usr/bin/env bash
# Agent recovery at scale: a work directory holding TASKS checkpointed tasks of one framework (half
# still running, as PROCESSES real processes they share; a quarter ended while the agent was away;
# a quarter with their terminal update unacknowledged) recovered REPEATS times from a fresh copy,
# timing AgentRecovery.recover alone (read, re-adopt, terminal updates checkpointed, updates queued,
# orphans scanned) and its steps, beside reading every byte of the same files in the same run. Each
# repeat's copy is synced (untimed) before it is recovered.
#
#   bench/recovery.sh                                  # TASKS=10000 PROCESSES=100 REPEATS=5
set -euo pipefail
cd "$(dirname "$0")/.."
TASKS=${TASKS:-10000}
PROCESSES=${PROCESSES:-100}
REPEATS=${REPEATS:-5}
work=$(mktemp -d /tmp/kmesos-recovery-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "bench: building" >&2
./mvnw -q -B package dependency:build-classpath -DskipTests -pl agent -am -Dmdep.outputFile="$work/cp.txt" >/dev/null
load_before=$(cut -d' ' -f1 /proc/loadavg)
java -Xmx2g -cp "agent/target/classes:$(cat "$work/cp.txt")" io.kmesos.agent.bench.RecoveryBenchmark \
  "$TASKS" "$PROCESSES" "$REPEATS" | tee "$work/results.txt"
load_after=$(cut -d' ' -f1 /proc/loadavg)

out="bench/results/$(date -u +%Y-%m-%d-%H%M)-recovery.md"
python3 - "$work/results.txt" "$out" "$TASKS" "$PROCESSES" "$REPEATS" "$load_before" "$load_after" <<'PY'
import sys, statistics, re, platform, os
path, out, tasks, processes, repeats, lb, la = sys.argv[1:8]
runs = [dict(re.findall(r'(\w+)=([\w.-]+)', l)) for l in open(path) if l.startswith('tasks=')]
rec = [float(r['recover_ms']) for r in runs]
read = [float(r['read_ms']) for r in runs]
r0 = runs[0]
def phase_table(runs):
    keys = [k for k in runs[0] if k.startswith('phase_')]
    if not keys:
        return "(none recorded)\n"
    head = "| " + " | ".join(k[len('phase_'):-len('_ms')] for k in keys) + " |\n"
    sep = "|" + "---|" * len(keys) + "\n"
    row = "| " + " | ".join(f"{statistics.median(float(r[k]) for r in runs):.0f}" for k in keys) + " |\n"
    return head + sep + row
with open(out, 'w') as f:
    f.write(f"""# Agent recovery: {tasks} checkpointed tasks on one agent

Command: `TASKS={tasks} PROCESSES={processes} REPEATS={repeats} bench/recovery.sh`
(`io.kmesos.agent.bench.RecoveryBenchmark`). Machine: {os.cpu_count()} cores, {platform.platform()};
load average {lb} before, {la} after.

Per repeat, a fresh copy of the same work directory: {r0['adopted']} tasks re-adopted (sharing
{processes} live processes), {r0['ended']} ended while the agent was away (exit status left: a
terminal update checkpointed and queued each), {r0['resent']} tasks with updates to deliver, {r0['bytes']}
bytes of checkpoints. Timed: `AgentRecovery.recover` alone (not the JVM's start, not the session
with the master). Floor: reading every byte of the same files, same run, same page cache.

| | median ms | min ms | max ms |
|---|---|---|---|
| recover (read, reconcile, checkpoint, queue) | {statistics.median(rec):.0f} | {min(rec):.0f} | {max(rec):.0f} |
| floor: read every file | {statistics.median(read):.0f} | {min(read):.0f} | {max(read):.0f} |

Ratio recover / floor (medians): {statistics.median(rec)/statistics.median(read):.1f}.

Steps of recover, median ms (`AgentRecovery.phases()`; `orphans` runs on its own thread during `read`):
{phase_table(runs)}
Target (issue #14): reading and reconciling the checkpoints of 10,000 tasks in at most 1 s.

Every repeat:

```
""")
    for l in open(path):
        if l.startswith('tasks='):
            f.write(l)
    f.write("```\n")
print("bench: wrote", out)
PY
