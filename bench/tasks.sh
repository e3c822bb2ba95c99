#!/usr/bin/env bash
# Task launch throughput and latency, next to the machine's floor: one agent, one framework, TASKS
# tasks of `true`. kmesos: a real kube-apiserver (built by scripts/kube-test-binaries.sh), a
# REPLICAS-replica kmesos log, one controller process (the master, --allocation-interval
# ALLOCATION_INTERVAL), one agent process (pod-bound ServiceAccount token, agent certificate), and
# the framework in the benchmark's JVM (FrameworkClient, a ServiceAccount token allowed to `use` its
# role), all on 127.0.0.1. It launches as many tasks as each offer holds (TASK_RESOURCES each) and
# times Accept sent -> RUNNING received and -> FINISHED acknowledged. The floor: the same TASKS
# processes started and reaped by a plain Java loop (ProcessBuilder, start + waitFor) with
# FLOOR_IN_FLIGHT at once, both as the agent starts them (setsid /bin/sh -c true) and bare (true).
# WARMUP tasks first warm the JVMs up (not reported); then REPEATS rounds, each: the floor runs,
# then a kmesos run. MAX_PER_ACCEPT > 0 caps the tasks per
# Accept (0: as many as the offer holds).
#
#   bench/tasks.sh   # TASKS=2000 REPEATS=3 REPLICAS=1 ALLOCATION_INTERVAL=50ms FLOOR_IN_FLIGHT=1,200 MAX_PER_ACCEPT=0 WARMUP=2000
set -euo pipefail
cd "$(dirname "$0")/.."
TASKS=${TASKS:-2000}
REPEATS=${REPEATS:-3}
REPLICAS=${REPLICAS:-1}
ALLOCATION_INTERVAL=${ALLOCATION_INTERVAL:-50ms}
TASK_RESOURCES=${TASK_RESOURCES:-cpus:0.01;mem:1}
FLOOR_IN_FLIGHT=${FLOOR_IN_FLIGHT:-1,200}
MAX_PER_ACCEPT=${MAX_PER_ACCEPT:-0}
WARMUP=${WARMUP:-2000}
work=$(mktemp -d /tmp/kmesos-tasks.XXXXXX)
trap 'rm -rf "$work"' EXIT

scripts/kube-test-binaries.sh >/dev/null
if [[ -z "${SKIP_BUILD:-}" ]]; then ./mvnw -o -q -B -pl local -am package -DskipTests; fi
# The machine's load while it runs (other builds, CI jobs share it): /proc/loadavg every 5 s.
(while :; do echo "$(date -u +%H:%M:%S) $(cat /proc/loadavg)"; sleep 5; done) >"$work/load.txt" &
sampler=$!
trap 'kill $sampler 2>/dev/null || true; rm -rf "$work"' EXIT
java -cp local/target/kmesos-local.jar io.kmesos.local.TaskLaunchBenchmark --tasks "$TASKS" \
  --repeats "$REPEATS" --replicas "$REPLICAS" --allocation-interval "$ALLOCATION_INTERVAL" \
  --task-resources "$TASK_RESOURCES" --floor-in-flight "$FLOOR_IN_FLIGHT" --max-per-accept "$MAX_PER_ACCEPT" --warmup "$WARMUP" --work-dir "$work/cluster" \
  | tee "$work/results.txt"
kill $sampler 2>/dev/null || true
echo "$(date -u +%H:%M:%S) $(cat /proc/loadavg)" >>"$work/load.txt"

suffix=""
if [[ "$MAX_PER_ACCEPT" != 0 ]]; then suffix="-latency"; fi
out="bench/results/$(date -u +%Y-%m-%d-%H%M)-tasks$suffix.md"
python3 - "$work/results.txt" "$out" "$work/load.txt" "TASKS=$TASKS REPEATS=$REPEATS REPLICAS=$REPLICAS ALLOCATION_INTERVAL=$ALLOCATION_INTERVAL TASK_RESOURCES='$TASK_RESOURCES' FLOOR_IN_FLIGHT=$FLOOR_IN_FLIGHT MAX_PER_ACCEPT=$MAX_PER_ACCEPT WARMUP=$WARMUP" <<'PY'
import sys, statistics, re, platform, os, subprocess
path, out, loadfile, settings = sys.argv[1:5]
loads = [float(l.split()[1]) for l in open(loadfile) if l.strip()]
lines = open(path).read().splitlines()
# rep=0 and run=warmup: the warm-up, not reported.
runs = [r for r in (dict(re.findall(r'(\w+)=([^\s]+)', l)) for l in lines if l.startswith('run='))
        if r['rep'] != '0' and r['run'] != 'warmup']
med = lambda rs, k: statistics.median(float(r[k]) for r in rs)
rng = lambda rs, k: f"{min(float(r[k]) for r in rs):g}–{max(float(r[k]) for r in rs):g}"
km = [r for r in runs if r['run'] == 'kmesos']
floors = {}
for r in runs:
    if r['run'] == 'floor':
        floors.setdefault((r['shape'], r['in_flight']), []).append(r)
# The agent sends no TASK_STARTING (since #12): the benchmark counts RUNNING for it, so no column.
rows = ["| what | tasks/s (median, min–max) | Accept→RUNNING p50 / p99, ms (median) | Accept→FINISHED acked p50 / p99, ms (median) | runs |",
        "|---|---|---|---|---|"]
if km:
    rows.append(f"| kmesos: 1 agent, 1 framework | {med(km,'tasks_per_s'):.1f} ({rng(km,'tasks_per_s')}) | "
                f"{med(km,'running_p50_ms'):.1f} / {med(km,'running_p99_ms'):.1f} | "
                f"{med(km,'acked_p50_ms'):.1f} / {med(km,'acked_p99_ms'):.1f} | {len(km)} |")
for (shape, k), rs in floors.items():
    cmd = 'setsid /bin/sh -c true' if shape == 'setsid-sh' else 'true'
    rows.append(f"| floor: `{cmd}`, {k} in flight | {med(rs,'tasks_per_s'):.1f} ({rng(rs,'tasks_per_s')}) | "
                f"start() {med(rs,'start_p50_ms'):.2f} / {med(rs,'start_p99_ms'):.2f} | – | {len(rs)} |")
ratios = []
if km:
    k = med(km, 'tasks_per_s')
    for (shape, f), rs in floors.items():
        cmd = 'setsid /bin/sh -c true' if shape == 'setsid-sh' else 'true'
        ratios.append(f"- kmesos / floor (`{cmd}`, {f} in flight): {100 * k / med(rs, 'tasks_per_s'):.1f} %")
        pairs = [float(r['tasks_per_s']) / float(f['tasks_per_s']) for r in km for f in rs if f['rep'] == r['rep']]
        if pairs:
            ratios[-1] += f" (same-round ratios: {', '.join(f'{100 * x:.0f} %' for x in pairs)})"
    p50 = med(km, 'running_p50_ms')
    ratios.append(f"- Accept→RUNNING p50: {p50:.1f} ms (target ≤ 20 ms: {'met' if p50 <= 20 else 'not met'})")
setup = next((l for l in lines if l.startswith('setup ')), '')
cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), '?')
with open(out, "w") as fh:
    fh.write("# Task launch: tasks of `true` through kmesos, next to a plain Java process loop\n\n")
    fh.write(f"Command: `{settings} bench/tasks.sh`  \n")
    fh.write(f"Machine: {os.cpu_count()} cores ({cpu}), {platform.platform()}; kube-apiserver + etcd, "
             "the log's replica JVMs, 1 controller JVM, 1 agent JVM and the benchmark JVM (framework and floor) "
             "on 127.0.0.1.  \n")
    fh.write(f"Setup: {setup}  \n")
    if loads:
        fh.write(f"Load (1-minute load average every 5 s while it ran, {len(loads)} samples, on {os.cpu_count()} cores; "
                 f"other builds and CI jobs shared the machine): min {min(loads):.1f}, median {statistics.median(loads):.1f}, "
                 f"max {max(loads):.1f}\n\n")
    else:
        fh.write("\n")
    if 'MAX_PER_ACCEPT=0 ' not in settings + ' ':
        fh.write("Latency shape: at most MAX_PER_ACCEPT tasks per Accept, so that a task waits behind few others "
                 "of its batch at the agent; its tasks/s is bounded by the Accepts per offer cycle and is not a "
                 "throughput figure (see the runs without MAX_PER_ACCEPT for that).\n\n")
    fh.write("tasks/s: kmesos from the first Accept sent to the last FINISHED acknowledged (the ack's answer "
             "received); floor from the first start() to the last waitFor().\n\n")
    fh.write("\n".join(rows) + "\n\n" + "\n".join(ratios) + "\n\nEvery run:\n\n```\n" + "\n".join(lines) + "\n```\n")
print(open(out).read())
PY
echo "bench: wrote $out" >&2
