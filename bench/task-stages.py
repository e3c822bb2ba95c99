#!/usr/bin/env python3
# Where a task's time goes between Accept and its acknowledged FINISHED: joins a TaskLaunchBenchmark
# --timeline file (the framework's times) with the agent's log (when each process started and when
# its FINISHED went out). Both clocks are this machine's wall clock; the agent logs milliseconds.
#
#   java -cp local/target/kmesos-local.jar io.kmesos.local.TaskLaunchBenchmark --tasks 300 --repeats 1 \
#     --warmup 300 --floor-in-flight 1 --work-dir W/cluster --timeline W/timeline
#   bench/task-stages.py W [kmesos-1]
#
# "process started" is the agent's "runs as process" line; a negative "RUNNING at framework ->
# FINISHED emitted" means the task ended before the framework heard that it ran.
import sys, re, statistics, datetime
w = sys.argv[1]; kind = sys.argv[2] if len(sys.argv) > 2 else 'kmesos-1'
tl = {}
for l in open(f'{w}/timeline/{kind}.txt').read().splitlines()[1:]:
    f = l.split(); tl[f[0]] = [float(x) for x in f[1:]]
day = datetime.datetime.utcfromtimestamp(next(iter(tl.values()))[0] / 1000).date()
def ms(hms):
    t = datetime.datetime.strptime(f'{day} {hms}', '%Y-%m-%d %H:%M:%S.%f').replace(tzinfo=datetime.timezone.utc)
    return t.timestamp() * 1000
ag = {}
for l in open(f'{w}/cluster/agent.log'):
    m = re.match(r'(\d\d:\d\d:\d\d\.\d\d\d) .*task (\S+) of framework \S+(:? (TASK_\w+)| runs as process)', l)
    if not m: continue
    t, task = ms(m.group(1)), m.group(2)
    what = m.group(4) or 'process'
    ag.setdefault(task, {})[what] = t
stages = {'accept->agent launch begins (without STARTING: process started)': [], 'launch (mkdir+fork; 0 without TASK_STARTING)': [], 'process started->RUNNING at framework': [],
          'RUNNING at fw->FINISHED emitted (run+reap+scan)': [], 'FINISHED emitted->at framework': [], 'FINISHED->ack answered': [],
          'accept->RUNNING': [], 'accept->acked': []}
for task, (A, S, R, F, K) in tl.items():
    a = ag.get(task)
    if not a or 'process' not in a: continue
    begin = a.get('TASK_STARTING', a.get('LAUNCH', a['process']))
    stages['accept->agent launch begins (without STARTING: process started)'].append(begin - A)
    stages['launch (mkdir+fork; 0 without TASK_STARTING)'].append(a['process'] - begin)
    stages['process started->RUNNING at framework'].append(R - a['process'])
    stages['RUNNING at fw->FINISHED emitted (run+reap+scan)'].append(a['TASK_FINISHED'] - R)
    stages['FINISHED emitted->at framework'].append(F - a['TASK_FINISHED'])
    stages['FINISHED->ack answered'].append(K - F)
    stages['accept->RUNNING'].append(R - A)
    stages['accept->acked'].append(K - A)
def pct(v, p):
    v = sorted(v); return v[max(0, min(len(v) - 1, int(-(-p * len(v) // 100)) - 1))]
print(f'{kind}: {len(stages["accept->RUNNING"])} tasks')
for k, v in stages.items():
    print(f'  {k:62s} p50 {pct(v,50):8.1f}  p99 {pct(v,99):8.1f}  mean {statistics.mean(v):8.1f} ms')
