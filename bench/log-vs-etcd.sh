#!/usr/bin/env bash
# Side by side, in one run on this machine: a 3-replica kmesos log and a 3-member etcd, both on
# 127.0.0.1 with fsync on, driven by the same closed-loop workload (256-byte values; 1, 16 and 64
# clients; OPS appends per point after a warm-up), interleaved and repeated REPEATS times. The etcd
# side uses etcd's own Go client (bench/etcd-client), put to the leader, one goroutine per client.
# kmesos runs twice per point: "kmesos" with asynchronous clients (the next append leaves from the
# completion of the previous one: the JVM's counterpart of a goroutine, and how a registrar uses the
# log) and "kmesos-blocking" with one thread per client. Prints every run, then the medians and the
# kmesos/etcd ratios, and writes them to bench/results/.
# Both sides speak mutual TLS, as deployed: kmesos always does (client and replica-to-replica), and
# etcd gets client and peer TLS with certificates of the same CA (ECDSA P-256, made by kmesos-certs);
# ETCD_TLS=0 runs etcd in plaintext instead, to see what TLS costs etcd. etcd serves its HTTP
# endpoints on a port of their own (--listen-client-http-urls, as etcd recommends and kubeadm and k3s
# do): sharing the client port, etcd would serve gRPC over TLS through Go's HTTP server, at well
# under half its throughput here.
#
#   bench/log-vs-etcd.sh                       # REPEATS=2 OPS=20000 CLIENTS="1 16 64"
#   REPEATS=3 OPS=50000 bench/log-vs-etcd.sh
#   REPEATS=1 OPS=500 WARMUP=100 CLIENTS=4 bench/log-vs-etcd.sh   # a check that it runs
set -euo pipefail
cd "$(dirname "$0")/.."
REPEATS=${REPEATS:-2}
OPS=${OPS:-20000}
CLIENTS=${CLIENTS:-"1 16 64"}
WARMUP=${WARMUP:-3000}
WARMUP_ROUNDS=${WARMUP_ROUNDS:-1}
ETCD_TLS=${ETCD_TLS:-1}
work=$(mktemp -d /tmp/kmesos-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "bench: building (kmesos, etcd from Go modules, etcd's Go client)" >&2
scripts/kube-test-binaries.sh >/dev/null
etcd="$(scripts/kube-test-binaries.sh --print-dir)/etcd.bin"
./mvnw -q -B package -DskipTests -pl replica,controller -am
(cd bench/etcd-client && GOTOOLCHAIN=local GOFLAGS=-mod=mod go build -o "$work/etcd-client" .)

# One CA for both systems: the replicas' certificate (also etcd's, server and peer: it carries
# 127.0.0.1) and the admin certificate for every client.
java -cp controller/target/kmesos-controller.jar io.kmesos.controller.certs.CertsTool files --dir "$work/tls" \
  --component replica,admin --host replica=127.0.0.1 --host replica=localhost >/dev/null
server="$work/tls/replica"; client="$work/tls/admin"
export KMESOS_TLS_DIR="$client"

scheme=http; etcd_tls=(); client_tls=()
if [[ $ETCD_TLS == 1 ]]; then
  scheme=https
  etcd_tls=(--client-cert-auth --trusted-ca-file "$server/ca.crt" --cert-file "$server/tls.crt" --key-file "$server/tls.key"
    --peer-client-cert-auth --peer-trusted-ca-file "$server/ca.crt" --peer-cert-file "$server/tls.crt"
    --peer-key-file "$server/tls.key")
  client_tls=(-cacert "$client/ca.crt" -cert "$client/tls.crt" -key "$client/tls.key")
fi
cluster=""; endpoints=""
for i in 0 1 2; do
  cluster+="${cluster:+,}e$i=$scheme://127.0.0.1:$((23800 + i))"
  endpoints+="${endpoints:+,}$scheme://127.0.0.1:$((23790 + i))"
done
for i in 0 1 2; do
  "$etcd" --name "e$i" --data-dir "$work/etcd-$i" \
    --listen-client-urls "$scheme://127.0.0.1:$((23790 + i))" --advertise-client-urls "$scheme://127.0.0.1:$((23790 + i))" \
    --listen-client-http-urls "$scheme://127.0.0.1:$((23810 + i))" \
    --listen-peer-urls "$scheme://127.0.0.1:$((23800 + i))" --initial-advertise-peer-urls "$scheme://127.0.0.1:$((23800 + i))" \
    --initial-cluster "$cluster" --initial-cluster-state new --log-level error "${etcd_tls[@]}" > "$work/etcd-$i.log" 2>&1 &
  pids+=($!)
done
peers="127.0.0.1:27001,127.0.0.1:27002,127.0.0.1:27003"
for i in 0 1 2; do
  java -Xmx512m -jar replica/target/kmesos-replica.jar replica --id "$i" --peers "$peers" --data-dir "$work/kmesos-$i" \
    --tls-dir "$server" > "$work/kmesos-$i.log" 2>&1 &
  pids+=($!)
done
for _ in $(seq 100); do
  java -jar replica/target/kmesos-replica.jar initialize --peers "$peers" --cluster-id bench >/dev/null 2>&1 && break
  sleep 0.5
done
for _ in $(seq 50); do
  "$work/etcd-client" -endpoints "$endpoints" "${client_tls[@]}" -ops 1 -warmup 0 >/dev/null 2>&1 && break; sleep 0.2
done

results="$work/results.txt"
# One discarded round of each system at every point first: the replicas are JVMs whose hot paths
# are compiled only after tens of thousands of appends (a client's own WARMUP cannot do that for
# them), and etcd gets the same round so that neither starts cold.
if (( WARMUP_ROUNDS > 0 )); then
  echo "bench: warm-up round (not measured)" >&2
  for c in $CLIENTS; do
    "$work/etcd-client" -endpoints "$endpoints" "${client_tls[@]}" -clients "$c" -ops "$OPS" -warmup 0 >/dev/null
    java -jar replica/target/kmesos-replica.jar benchmark --peers "$peers" --clients "$c" --appends "$OPS" --warmup 0 >/dev/null
  done
fi
for rep in $(seq "$REPEATS"); do
  for c in $CLIENTS; do
    # Alternate which system goes first, so neither always runs on a warmer machine.
    if (( (rep + c) % 2 )); then order="etcd kmesos kmesos-blocking"; else order="kmesos-blocking kmesos etcd"; fi
    for sys in $order; do
      if [[ $sys == etcd ]]; then
        "$work/etcd-client" -endpoints "$endpoints" "${client_tls[@]}" -clients "$c" -ops "$OPS" -warmup "$WARMUP" \
          | tee -a "$results"
      else
        mode=(); [[ $sys == kmesos-blocking ]] && mode=(--blocking-clients)
        java -jar replica/target/kmesos-replica.jar benchmark --peers "$peers" --clients "$c" --appends "$OPS" --warmup "$WARMUP" \
          "${mode[@]}" | tee -a "$results"
      fi
    done
  done
done

out="bench/results/$(date -u +%Y-%m-%d-%H%M)-log-vs-etcd.md"
mkdir -p bench/results
python3 - "$results" "$out" "$REPEATS" "$OPS" "$CLIENTS" "$ETCD_TLS" "$WARMUP_ROUNDS" <<'PY'
import sys, statistics, re, platform, os
path, out, repeats, ops, clients, etcd_tls, warmup_rounds = sys.argv[1:8]
runs = []
for line in open(path):
    f = dict(re.findall(r'(\w+)=([\d.]+)', line))
    runs.append((line.split()[0], int(f['clients']), float(f['ops_per_s']), float(f['p50_ms']), float(f['p99_ms']), float(f['client_cpu_us_per_op'])))
rows = ["| clients | system | ops/s (median) | p50 ms | p99 ms | client CPU µs/op | runs |", "|---|---|---|---|---|---|---|"]
ratios = ["| clients | kmesos clients | throughput kmesos/etcd | p50 kmesos/etcd | p99 kmesos/etcd |", "|---|---|---|---|---|"]
systems = [s for s in ("kmesos", "kmesos-blocking", "etcd") if any(r[0] == s for r in runs)]
for c in sorted({r[1] for r in runs}):
    med = {}
    for sys_ in systems:
        rs = [r for r in runs if r[0] == sys_ and r[1] == c]
        m = [statistics.median(x[i] for x in rs) for i in (2, 3, 4, 5)]
        med[sys_] = m
        rows.append(f"| {c} | {sys_} | {m[0]:.0f} | {m[1]:.3f} | {m[2]:.3f} | {m[3]:.1f} | {len(rs)} |")
    e = med["etcd"]
    for sys_ in systems[:-1]:
        k = med[sys_]
        kind = "async" if sys_ == "kmesos" else "thread each"
        ratios.append(f"| {c} | {kind} | {k[0]/e[0]:.2f} | {k[1]/e[1]:.2f} | {k[2]/e[2]:.2f} |")
with open(out, "w") as f:
    f.write(f"# kmesos log vs etcd, side by side\n\n")
    f.write(f"Command: `REPEATS={repeats} OPS={ops} CLIENTS=\"{clients}\" ETCD_TLS={etcd_tls} WARMUP_ROUNDS={warmup_rounds} bench/log-vs-etcd.sh`  \n")
    f.write(f"Machine: {os.cpu_count()} cores, {platform.platform()}; 3 kmesos replicas and 3 etcd members "
            "(3.5.21, built from Go modules) on 127.0.0.1, one disk, fsync on both; 256-byte values; closed-loop clients; "
            + ("mutual TLS on both (client and peer; etcd's gRPC on a port of its own)" if etcd_tls == "1" else "mutual TLS on kmesos, etcd in plaintext") + ".\n\n")
    f.write("\n".join(rows) + "\n\n" + "\n".join(ratios) + "\n\nEvery run:\n\n```\n" + open(path).read() + "```\n")
print(open(out).read())
PY
echo "bench: wrote $out" >&2
