#!/usr/bin/env bash
# Master failover at scale, as Mesos's own failover benchmarks measure it: AGENTS simulated agents in
# one JVM (each a real AgentSession over mutual TLS with a pod-bound token, admitted as an Agent
# resource; their tasks are simulated: RUNNING at once, until killed) and TASKS tasks launched through
# a framework, on two controllers (real JVMs), a 3-replica kmesos log and a real kube-apiserver (built
# by scripts/kube-test-binaries.sh), all on 127.0.0.1. FAILOVERS times: kill -9 the leader and time
# until the standby holds the Lease (LEASE: duration/renew-deadline/retry-period), its master port
# serves, the framework is subscribed again, every agent has re-registered, and an explicit
# reconciliation of every task is answered TASK_RUNNING for all of them.
#
#   bench/failover-scale.sh                        # AGENTS=1000 TASKS=10000 LEASE=15s/10s/2s FAILOVERS=1
#   AGENTS=50 TASKS=500 FAILOVERS=2 bench/failover-scale.sh   # a smaller smoke run (a few minutes)
#   KEEP=1 ...                                               # keeps the work directory (the controllers' logs)
set -euo pipefail
cd "$(dirname "$0")/.."
AGENTS=${AGENTS:-1000}
TASKS=${TASKS:-10000}
LEASE=${LEASE:-15s/10s/2s}
FAILOVERS=${FAILOVERS:-1}
TIMEOUT=${TIMEOUT:-20m}
HEAP=${HEAP:-1g}
work=$(mktemp -d /tmp/kmesos-failover-scale.XXXXXX)
trap '[[ -n "${KEEP:-}" ]] || rm -rf "$work" 2>/dev/null || true' EXIT

scripts/kube-test-binaries.sh >/dev/null
if [[ -z "${SKIP_BUILD:-}" ]]; then ./mvnw -o -q -B -pl local -am package -DskipTests; fi
# The machine's load while it runs (other builds, CI jobs share it): /proc/loadavg every 5 s.
(while :; do echo "$(date -u +%H:%M:%S) $(cat /proc/loadavg)"; sleep 5; done) >"$work/load.txt" &
sampler=$!
trap 'kill $sampler 2>/dev/null || true; [[ -n "${KEEP:-}" ]] || rm -rf "$work" 2>/dev/null || true' EXIT
java "-Xmx$HEAP" -cp local/target/kmesos-local.jar io.kmesos.local.FailoverScaleBenchmark --agents "$AGENTS" \
  --tasks "$TASKS" --lease "$LEASE" --failovers "$FAILOVERS" --timeout "$TIMEOUT" --work-dir "$work/cluster" \
  2> >(grep -v 'WARN ' >&2) | tee "$work/results.txt"
kill $sampler 2>/dev/null || true
echo "$(date -u +%H:%M:%S) $(cat /proc/loadavg)" >>"$work/load.txt"

out="bench/results/$(date -u +%Y-%m-%d-%H%M)-failover-scale.md"
python3 - "$work/results.txt" "$out" "$work/load.txt" "AGENTS=$AGENTS TASKS=$TASKS LEASE=$LEASE FAILOVERS=$FAILOVERS" <<'PY'
import sys, statistics, re, platform, os
path, out, loadfile, settings = sys.argv[1:5]
loads = [float(l.split()[1]) for l in open(loadfile) if l.strip()]
lines = open(path).read().splitlines()
runs = [dict(re.findall(r'(\w+)=([^\s]+)', l)) for l in lines if l.startswith('failover=')]
setup = [l for l in lines if l.startswith('setup ')]
cols = [('lease_ms', 'Lease taken'), ('serving_ms', 'new master serving'), ('framework_ms', 'framework subscribed again'),
        ('agents_half_ms', '50 % of agents re-registered'), ('agents_90_ms', '90 %'), ('agents_ms', 'every agent re-registered'),
        ('reconciled_ms', f'reconciliation answered for every task')]
rows = ["| from the kill -9 of the leader to … | ms (median) | min–max | runs |", "|---|---|---|---|"]
for k, what in cols:
    v = [int(r[k]) for r in runs]
    if v:
        rows.append(f"| {what} | {statistics.median(v):.0f} | {min(v)}–{max(v)} | {len(v)} |")
cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), '?')
with open(out, "w") as fh:
    fh.write("# Master failover at scale: kill -9 of the leader with many agents and tasks\n\n")
    fh.write(f"Command: `{settings} bench/failover-scale.sh`  \n")
    fh.write(f"Machine: {os.cpu_count()} cores ({cpu}), {platform.platform()}; kube-apiserver + etcd, 3 replica JVMs, "
             "2 controller JVMs and the benchmark JVM (every simulated agent's session and the framework) on 127.0.0.1.  \n")
    for s in setup:
        fh.write(f"Setup: {s[len('setup '):]}  \n")
    if loads:
        fh.write(f"Load (1-minute load average every 5 s while it ran, {len(loads)} samples, on {os.cpu_count()} cores; "
                 f"other builds and CI jobs shared the machine): min {min(loads):.1f}, median {statistics.median(loads):.1f}, "
                 f"max {max(loads):.1f}\n\n")
    else:
        fh.write("\n")
    fh.write("Agents are simulated in one JVM but speak the real AgentSession protocol (mutual TLS, bearer token, "
             "Register/Reregister with their tasks, pings, status updates); the tasks they run are simulated "
             "(RUNNING at once). The tasks were launched through a framework (offers, Accept) before the failover. "
             "After the kill the framework reconciles explicitly (every task, with its agent) as soon as it is "
             "subscribed again; once a request is answered, it asks again after a second (at once when the last agent "
             "is back) for the tasks not yet answered TASK_RUNNING. `reconcile_calls` counts those calls, "
             "`other_answers` the answers that were not TASK_RUNNING (`other_states`: which), all for tasks of agents "
             "that had not re-registered yet.\n\n")
    fh.write("\n".join(rows) + "\n\nEvery run:\n\n```\n" + "\n".join(lines) + "\n```\n")
print(open(out).read())
PY
echo "bench: wrote $out" >&2
