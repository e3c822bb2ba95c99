#!/usr/bin/env bash
# A real single-node Kubernetes inside a network namespace of its own (a prototype of issue #13's
# fixture): etcd, kube-apiserver, kube-controller-manager, kube-scheduler, containerd + runc, the
# kubelet, kube-proxy (iptables), the CNI bridge plugin, kube-router's network-policy controller
# (NetworkPolicy as iptables rules and ipsets) and CoreDNS, from the binaries of
# scripts/kube-test-binaries.sh and scripts/kube-node-binaries.sh (run that first).
#
#   scripts/kube-node.sh up <dir> [--owner-pid PID]
#                                               start it; returns once the node is Ready. With an
#                                               owner, the node goes down by itself when PID ends
#                                               (a test JVM killed with SIGKILL leaves nothing)
#   scripts/kube-node.sh down <dir>             stop it and remove everything it made (keeps <dir>/logs)
#   scripts/kube-node.sh kubectl <dir> ARGS...  kubectl (admin) inside the node's namespace
#   scripts/kube-node.sh import <dir> TAR...    import Docker/OCI image archives into its containerd
#   scripts/kube-node.sh deploy <dir> [--timeout S] [TAR...]
#                                               kmesos on the node: imports TAR (image/target/kmesos-image.tar),
#                                               applies manifests/overlays/real-node, waits until every Pod is
#                                               Ready, then applies the examples and waits until each is
#                                               Ready: InRegistry (at most S seconds each, 900; root)
#   scripts/kube-node.sh smoke <dir>            a Pod from a local image, logs, exec, a Service, DNS, a limit,
#                                               a NetworkPolicy denying, then one allowing, Pod-to-Pod traffic
#   scripts/kube-node.sh leftovers <dir>        prints what of this node is still on the machine
#   scripts/kube-node.sh selftest <dir>         up, smoke, crash, up, smoke, down, owner killed: no leftovers
#   scripts/kube-node.sh forward <dir> IP:PORT  forwards a free port of the host's 127.0.0.1 to IP:PORT
#                                               inside the node (prints the port; down stops it)
#   scripts/kube-node.sh base-image <out.tar>   a Java 17 base image (jlink + glibc + busybox) for Jib's tar://
#
# Containment (why `down` leaves nothing): every process runs in the network namespace
# kmesos-node-<id> and in one private mount namespace (held by a `sleep` process), so every address,
# iptables rule, ip_forward, container and volume mount lives and dies with those namespaces; every
# process (daemons, shims, containers) is in the cgroup /kmesos-node-<id> of every hierarchy, which
# `down` empties with SIGKILL and removes. Paths the kubelet, containerd and the CNI plugins hard-code
# (/var/lib/kubelet, /var/lib/cni, /run/containerd, /run/netns) are mounted over inside the private
# mount namespace, so two nodes never share them. Needs root.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$("$HERE/scripts/kube-node-binaries.sh" --print-dir)"
IMAGES="${KMESOS_CACHE:-$HOME/.cache/kmesos}/node-images"
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

NODE_NAME=kmesos-node
NODE_IP=10.213.0.2            # the node's address, on the bridge node0 (the kubelet refuses loopback)
POD_CIDR=10.244.0.0/24        # host-local range of the CNI bridge cni0 (= the node's podCIDR)
CLUSTER_CIDR=10.244.0.0/16
SERVICE_CIDR=10.96.0.0/16     # 10.96.0.1 is the API server's ClusterIP
PAUSE_IMAGE=kmesos.local/pause:1
BUSYBOX_IMAGE=kmesos.local/busybox:1
COREDNS_IMAGE=kmesos.local/coredns:1
CLUSTER_DNS=10.96.0.10

T0=$(date +%s.%N)
log()  { printf '[kube-node %6.1fs] %s\n' "$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')" "$*" >&2; }
fail() { printf '[kube-node] ERROR: %s\n' "$*" >&2; exit 1; }

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit "${1:-0}"; }

[[ $# -ge 1 ]] || usage 2
CMD="$1"; shift
case "$CMD" in -h|--help|help) usage 0 ;; esac
[[ $# -ge 1 ]] || fail "$CMD needs the node's directory (e.g. scripts/kube-node.sh $CMD /tmp/kmesos-node)"
D="$(realpath -m "$1")"; shift
[[ "$D" != / ]] || fail "the node's directory must not be /"
ID="$(printf '%s' "$D" | sha256sum | cut -c1-8)"
NS="kmesos-node-$ID"
CG="kmesos-node-$ID"
KUBECONFIG_ADMIN="$D/pki/admin.conf"

# Every mounted cgroup hierarchy (v1 controllers, name=systemd, and the v2 'unified' one).
hierarchies() { local h; for h in /sys/fs/cgroup/*; do [[ -f "$h/cgroup.procs" ]] && echo "$h"; done; return 0; }
holder_pid() { [[ -f "$D/run/holder.pid" ]] && cat "$D/run/holder.pid"; }

in_node() { # command... : runs inside the node's network and mount namespaces
  local h; h="$(holder_pid)" || fail "no node is running in $D"
  nsenter -t "$h" -m -n -- "$@"
}

kc() { in_node "$BIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }

wait_for() { # description, timeout seconds, command...
  local what="$1" timeout="$2"; shift 2
  local end=$(( $(date +%s) + timeout ))
  until "$@" >/dev/null 2>&1; do
    (( $(date +%s) < end )) || fail "timed out after ${timeout}s waiting for $what (logs: $D/logs)"
    sleep 1
  done
}

# ---------------------------------------------------------------------------------------------
# Certificates: one CA; ECDSA keys (fast on a busy machine); client certificates name the
# identities the API server's RBAC bootstrap policy knows (system:node:*, system:kube-*).
# ---------------------------------------------------------------------------------------------
make_pki() {
  local p="$D/pki"; mkdir -p "$p"
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -keyout "$p/ca.key" \
    -subj "/CN=kmesos-node-ca" -days 30 -out "$p/ca.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$p/sa.key" 2>/dev/null
  openssl pkey -in "$p/sa.key" -pubout -out "$p/sa.pub"
  cert apiserver kube-apiserver "" \
    "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:$NODE_IP,IP:10.96.0.1,IP:127.0.0.1"
  cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
  cert admin kmesos-node-admin system:masters
  cert kubelet "system:node:$NODE_NAME" system:nodes
  cert controller-manager system:kube-controller-manager ""
  cert scheduler system:kube-scheduler ""
  cert proxy system:kube-proxy ""
  cert netpol kmesos-node:network-policy ""
  kubeconfig admin; kubeconfig kubelet; kubeconfig controller-manager; kubeconfig scheduler; kubeconfig proxy
  kubeconfig netpol
}

cert() { # name, CN, O (may be empty), subjectAltName (optional)
  local p="$D/pki" name="$1" subj="/CN=$2"
  [[ -z "$3" ]] || subj="/O=$3/CN=$2"
  openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -keyout "$p/$name.key" \
    -subj "$subj" -out "$p/$name.csr" 2>/dev/null
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=serverAuth,clientAuth"
    [[ -z "${4:-}" ]] || echo "subjectAltName=$4"
  } > "$p/$name.ext"
  openssl x509 -req -in "$p/$name.csr" -CA "$p/ca.crt" -CAkey "$p/ca.key" -CAcreateserial -days 30 \
    -extfile "$p/$name.ext" -out "$p/$name.crt" 2>/dev/null
  rm -f "$p/$name.csr" "$p/$name.ext"
}

kubeconfig() { # name
  local p="$D/pki"
  cat > "$p/$1.conf" <<YAML
apiVersion: v1
kind: Config
clusters: [{name: node, cluster: {server: 'https://$NODE_IP:6443', certificate-authority: '$p/ca.crt'}}]
users: [{name: $1, user: {client-certificate: '$p/$1.crt', client-key: '$p/$1.key'}}]
contexts: [{name: $1, context: {cluster: node, user: $1}}]
current-context: $1
YAML
  chmod 600 "$p/$1.conf"
}

# ---------------------------------------------------------------------------------------------
# Images, made without any registry or Docker engine: a Docker-format archive (manifest.json,
# config, one layer) that `ctr images import` takes.
# ---------------------------------------------------------------------------------------------
docker_archive() { # out.tar, name:tag, rootfs dir, entrypoint JSON array, cmd JSON array[, PATH]
  local out="$1" ref="$2" rootfs="$3" entry="$4" cmd="$5" path="${6:-/bin}" t
  t="$(mktemp -d)"
  chmod 755 "$rootfs"   # the image's / (mktemp made it 700: a non-root user could not enter it)
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$rootfs" -cf "$t/layer.tar" .
  local diff; diff="$(sha256sum "$t/layer.tar" | cut -d' ' -f1)"
  mkdir "$t/$diff"; mv "$t/layer.tar" "$t/$diff/layer.tar"
  printf '{"architecture":"amd64","os":"linux","created":"1970-01-01T00:00:00Z","config":{"Env":["PATH=%s"],"Entrypoint":%s,"Cmd":%s},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$path" "$entry" "$cmd" "$diff" > "$t/config.json"
  local cfg; cfg="$(sha256sum "$t/config.json" | cut -d' ' -f1)"
  mv "$t/config.json" "$t/$cfg.json"
  printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]' "$cfg" "$ref" "$diff" > "$t/manifest.json"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$t" -cf "$out.tmp.$$" manifest.json "$cfg.json" "$diff"
  mv -f "$out.tmp.$$" "$out"; rm -rf "$t"
}

make_images() {
  mkdir -p "$IMAGES"
  # Debian's dynamically linked `busybox` package has the same path; the images need the static one.
  ! ldd /bin/busybox >/dev/null 2>&1 || fail "/bin/busybox is not statically linked: apt-get install busybox-static"
  if [[ ! -f "$IMAGES/pause-1.tar" ]]; then
    local r; r="$(mktemp -d)"; cp "$BIN/pause" "$r/pause"
    docker_archive "$IMAGES/pause-1.tar" "$PAUSE_IMAGE" "$r" '["/pause"]' 'null'; rm -rf "$r"
  fi
  if [[ ! -f "$IMAGES/coredns-1.tar" || "$BIN/coredns" -nt "$IMAGES/coredns-1.tar" ]]; then
    local r; r="$(mktemp -d)"; cp "$BIN/coredns" "$r/coredns"; mkdir -p "$r/etc/coredns" "$r/tmp"
    docker_archive "$IMAGES/coredns-1.tar" "$COREDNS_IMAGE" "$r" '["/coredns"]' '["-conf","/etc/coredns/Corefile"]'; rm -rf "$r"
  fi
  if [[ ! -f "$IMAGES/busybox-1.tar" ]]; then
    local r a; r="$(mktemp -d)"; mkdir -p "$r/bin" "$r/tmp" "$r/etc"; chmod 1777 "$r/tmp"
    cp /bin/busybox "$r/bin/busybox"
    for a in $(/bin/busybox --list); do [[ "$a" == busybox ]] || ln -s busybox "$r/bin/$a"; done
    echo 'root:x:0:0:root:/:/bin/sh' > "$r/etc/passwd"; echo 'root:x:0:' > "$r/etc/group"
    docker_archive "$IMAGES/busybox-1.tar" "$BUSYBOX_IMAGE" "$r" 'null' '["sh"]'; rm -rf "$r"
  fi
}

# A Java 17 base image for Jib's `tar://` base (kmesos' own images): a jlink'ed runtime of this
# machine's JDK, the glibc libraries it links plus the C++ runtime RocksDB's JNI library needs, and
# the static busybox at its usual paths (the agent runs /usr/bin/setsid and /bin/kill), a user
# kmesos (10001) as the Dockerfile's. No registry, no Docker engine, no Debian rootfs; about 70 MB.
base_image() { # out.tar
  local out="$1" r jdk mods
  jdk="$(dirname "$(dirname "$(readlink -f "$(command -v javac || command -v java)")")")"
  [[ -x "$jdk/bin/jlink" ]] || fail "no jlink in $jdk (a JDK 17 is needed)"
  mkdir -p "$(dirname "$out")"   # the cache's directory, on a machine that never ran `up`
  r="$(mktemp -d)"
  mkdir -p "$r/bin" "$r/etc" "$r/tmp" "$r/opt" "$r/lib/x86_64-linux-gnu" "$r/lib64"; chmod 1777 "$r/tmp"
  # The modules the kmesos components (gRPC/Netty, fabric8, Jackson, java-operator-sdk) need.
  mods="java.se,jdk.unsupported,jdk.crypto.ec,jdk.crypto.cryptoki,jdk.management,jdk.naming.dns,jdk.zipfs,jdk.jfr,jdk.httpserver"
  "$jdk/bin/jlink" --add-modules "$mods" --strip-debug --no-man-pages --no-header-files --compress=2 \
    --output "$r/opt/java" || fail "jlink failed"
  local lib
  # What the runtime links, and what librocksdbjni (replica, registry) links beyond it.
  for lib in $( (ldd "$r/opt/java/bin/java"; find "$r/opt/java" -name '*.so' -exec ldd {} \; ) 2>/dev/null \
      | awk '/=> \//{print $3} /^\s*\/lib64\//{print $1}' | sort -u) \
      /lib/x86_64-linux-gnu/{libstdc++.so.6,libgcc_s.so.1,librt.so.1,libdl.so.2,libpthread.so.0,libm.so.6}; do
    case "$lib" in
      /lib64/*) cp -L "$lib" "$r/lib64/" ;;
      *) cp -L "$lib" "$r/lib/x86_64-linux-gnu/" ;;
    esac
  done
  [[ -f "$r/lib64/ld-linux-x86-64.so.2" ]] || cp -L /lib64/ld-linux-x86-64.so.2 "$r/lib64/"
  cp /bin/busybox "$r/bin/busybox"
  mkdir -p "$r/usr/bin" "$r/usr/sbin" "$r/sbin" "$r/usr/local/bin"
  local a; for a in $(/bin/busybox --list-full); do [[ "$a" == bin/busybox ]] || ln -s /bin/busybox "$r/$a"; done
  # The agent's kill(1) and setsid(1) are procps' and util-linux' (as in the Dockerfile's Ubuntu
  # base): busybox kill rejects "--" (`kill -s KILL -- -PGID`) and exits 1. Both link only libc.
  local tool
  for tool in /bin/kill /usr/bin/setsid; do
    [[ -x "$tool" ]] || fail "$tool is missing on this machine (Debian packages procps, util-linux)"
    rm -f "$r$tool"; cp "$tool" "$r$tool"
  done
  printf 'root:x:0:0:root:/:/bin/sh\nkmesos:x:10001:10001:kmesos:/tmp:/sbin/nologin\n' > "$r/etc/passwd"
  printf 'root:x:0:\nkmesos:x:10001:\n' > "$r/etc/group"
  echo 'hosts: files dns' > "$r/etc/nsswitch.conf"
  echo '/lib/x86_64-linux-gnu' > "$r/etc/ld.so.conf"; ldconfig -r "$r"
  docker_archive "$out" "kmesos.local/jre17-base:1" "$r" 'null' '["sh"]' /opt/java/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  rm -rf "$r"
  log "base image: $out ($(du -h "$out" | cut -f1))"
}

import_images() { # tar...
  local t
  for t; do
    # ctr runs in the node's namespaces from another directory: a relative path would not be found.
    [[ -f "$t" ]] || fail "no image archive $t"
    t="$(readlink -f "$t")"
    in_node ctr --address "$D/containerd/containerd.sock" -n k8s.io images import "$t" >/dev/null \
      || fail "ctr images import $t failed"
  done
}

# ---------------------------------------------------------------------------------------------
# Configuration files
# ---------------------------------------------------------------------------------------------
write_configs() {
  mkdir -p "$D/containerd" "$D/cni/net.d" "$D/kubelet" "$D/cni-lib" "$D/pod-logs" "$D/etcd"
  cat > "$D/containerd/config.toml" <<TOML
version = 2
root = "$D/containerd/root"
state = "$D/containerd/state"
# Snapshotters that cannot work here; not loading them keeps the log readable.
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$D/containerd/containerd.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$D/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  # Root lacks CAP_SYS_RESOURCE here: without this runc fails with "can't get final child's PID
  # from pipe: EOF" when it would lower a container's oom_score_adj below its own.
  restrict_oom_score_adj = true
  sandbox_image = "$PAUSE_IMAGE"
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$D/cni/net.d"
    max_conf_num = 1
TOML
  cat > "$D/cni/net.d/10-kmesos.conflist" <<JSON
{
  "cniVersion": "0.4.0",
  "name": "kmesos",
  "plugins": [
    {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
JSON
  printf 'nameserver 127.0.0.1\n' > "$D/resolv.conf"
  cat > "$D/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $D/pki/ca.crt}
authorization: {mode: Webhook}
# No systemd on this machine; cgroup v1 (hybrid). Pods go under /$CG/kubepods in every hierarchy.
cgroupDriver: cgroupfs
cgroupRoot: /$CG
containerRuntimeEndpoint: unix://$D/containerd/containerd.sock
failSwapOn: false
clusterDomain: cluster.local
clusterDNS: [$CLUSTER_DNS]
# The "upstream" resolv.conf pods inherit search paths from (the host's resolver is not reachable
# from the node's namespace, and CoreDNS here forwards nothing).
resolvConf: $D/resolv.conf
podLogsDir: $D/pod-logs
rotateCertificates: false
serializeImagePulls: false
# The disk is shared with everything else on the machine: evict only when it is really full.
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
YAML
  cat > "$D/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $D/pki/proxy.conf}
mode: iptables
clusterCIDR: $CLUSTER_CIDR
hostnameOverride: $NODE_NAME
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# 0 = leave the kernel's conntrack settings alone (nf_conntrack_max is not the namespace's own).
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
YAML
}

# ---------------------------------------------------------------------------------------------
# Namespaces, cgroups, processes
# ---------------------------------------------------------------------------------------------
make_netns() {
  ip netns add "$NS"
  ip -n "$NS" link set lo up
  # The node's own address, on a bridge. A port gives the bridge carrier, so that routes over it
  # are up: one end of a veth pair whose both ends stay inside (this kernel has no dummy device).
  ip -n "$NS" link add node0 type bridge
  ip -n "$NS" link add node0p type veth peer name node0q
  ip -n "$NS" link set node0p master node0
  ip -n "$NS" addr add "$NODE_IP/24" dev node0
  ip -n "$NS" link set node0q up
  ip -n "$NS" link set node0p up
  ip -n "$NS" link set node0 up
  # A default route, so that the node's own processes (the API server calling a webhook Service)
  # can reach ClusterIPs: kube-proxy's DNAT happens after the route lookup.
  ip -n "$NS" route add default dev node0
}

make_cgroups() {
  local h
  for h in $(hierarchies); do
    mkdir -p "$h/$CG/daemons"
    if [[ -f "$h/cpuset.cpus" ]]; then # cgroup v1 cpuset: a new group starts with no CPUs
      cat "$h/cpuset.cpus" > "$h/$CG/cpuset.cpus"; cat "$h/cpuset.mems" > "$h/$CG/cpuset.mems"
      cat "$h/cpuset.cpus" > "$h/$CG/daemons/cpuset.cpus"; cat "$h/cpuset.mems" > "$h/$CG/daemons/cpuset.mems"
    fi
  done
}

JOIN_CGROUPS=""
join_cgroups_snippet() { # shell code that moves the current shell ($$) into /$CG/daemons everywhere
  local h s=""
  for h in $(hierarchies); do s+="echo \$\$ > $h/$CG/daemons/cgroup.procs; "; done
  JOIN_CGROUPS="$s"
}

# The holder: a `sleep` whose network namespace is the node's and whose mount namespace (private,
# made by `ip netns exec`) has the node's own /run/netns, /run/containerd, /var/lib/kubelet and
# /var/lib/cni. Every other process enters both namespaces with nsenter.
start_holder() {
  mkdir -p /run/containerd /var/lib/kubelet /var/lib/cni   # mount points only; stay empty on the host
  local mounts="mount -t tmpfs -o mode=755 kmesos-node /run/netns && mount -t tmpfs -o mode=711 kmesos-node /run/containerd && mount --bind $D/kubelet /var/lib/kubelet && mount --bind $D/cni-lib /var/lib/cni"
  # `ip netns exec` mounts a fresh /sys (so that /sys/class/net is the namespace's), which has no
  # cgroup hierarchies: mount the host's again (same options = the same hierarchies), or the kubelet
  # fails with "failed to find cgroup mounts".
  mounts+=" && mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup"
  local src mp fs opts rest o
  while read -r src mp fs opts rest; do
    case "$fs" in
      cgroup)
        o="$(printf '%s' "$opts" | tr ',' '\n' | grep -vxE 'rw|ro|relatime|noatime|nosuid|nodev|noexec' | paste -sd, -)"
        [[ "$o" != name=* ]] || o="none,$o"   # a named hierarchy: no controllers
        mounts+=" && mkdir -p $mp && mount -t cgroup -o $o cgroup $mp" ;;
      cgroup2) mounts+=" && mkdir -p $mp && mount -t cgroup2 cgroup2 $mp" ;;
    esac
  done < <(grep ' /sys/fs/cgroup/' /proc/self/mounts)
  mounts+=" && exec sleep infinity"
  setsid bash -c "$JOIN_CGROUPS exec ip netns exec $NS sh -c '$mounts'" </dev/null >"$D/logs/holder.log" 2>&1 &
  echo $! > "$D/run/holder.pid"
  local h=$! i
  for i in $(seq 100); do [[ "$(cat /proc/$h/comm 2>/dev/null)" == sleep ]] && return 0; sleep 0.1; done
  fail "the namespace holder did not start (see $D/logs/holder.log)"
}

start() { # name, command...
  local name="$1"; shift
  setsid bash -c "$JOIN_CGROUPS cd /; exec nsenter -t $(holder_pid) -m -n -- \"\$@\"" _ "$@" \
    </dev/null >"$D/logs/$name.log" 2>&1 &
  echo $! > "$D/run/$name.pid"
}

# A forwarder from 127.0.0.1:<free port> of the host's namespace to an address inside the node's
# (in the node's cgroup, so `down` stops it); prints the port.
forward() { # name, address inside the node (ip:port)
  local name="$1" to="$2" i
  [[ -f "$D/run/holder.pid" ]] || fail "no node is running in $D"
  rm -f "$D/run/$name.port"
  setsid bash -c "$JOIN_CGROUPS cd /; exec \"\$@\"" _ "$BIN/netns-forward" --netns "/run/netns/$NS" --to "$to" \
    --port-file "$D/run/$name.port" </dev/null >"$D/logs/$name.log" 2>&1 &
  echo $! > "$D/run/$name.pid"
  for i in $(seq 100); do [[ -s "$D/run/$name.port" ]] && { cat "$D/run/$name.port"; return 0; }; sleep 0.1; done
  fail "the forwarder to $to did not start (see $D/logs/$name.log)"
}

up() {
  [[ $EUID -eq 0 ]] || fail "the node needs root (network namespaces, mounts, cgroups)"
  if [[ -f "$D/run/holder.pid" ]] || ip netns list | grep -qw "$NS" || [[ -d "/sys/fs/cgroup/memory/$CG" ]]; then
    log "a node of $D exists (or its remains): taking it down first"
    down
  fi
  # Only looks: building or copying here would race with other runs sharing the cache.
  local f missing=""
  for f in "$BIN"/{etcd.bin,kube-apiserver.bin,kubectl,kube-controller-manager,kube-scheduler,kubelet,kube-proxy,pause,netns-forward,coredns} \
      /usr/bin/containerd /usr/bin/ctr /usr/sbin/runc /usr/lib/cni/bridge /usr/lib/cni/host-local \
      /usr/lib/cni/portmap /usr/sbin/iptables /usr/sbin/ipset "$BIN/kube-router" /bin/busybox; do
    [[ -x "$f" ]] || missing+=" $f"
  done
  [[ -z "$missing" ]] || fail "missing:$missing (scripts/kube-node-binaries.sh builds and installs them)"
  rm -rf "$D"; mkdir -p "$D/logs" "$D/run"
  make_pki
  make_images
  write_configs
  make_netns
  make_cgroups
  join_cgroups_snippet
  start_holder
  log "namespace $NS, cgroup /$CG, directory $D"

  start etcd "$BIN/etcd.bin" --name node --data-dir "$D/etcd" --unsafe-no-fsync \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster node=http://127.0.0.1:2380
  start containerd containerd --config "$D/containerd/config.toml"
  local p="$D/pki"
  start kube-apiserver "$BIN/kube-apiserver.bin" \
    --advertise-address="$NODE_IP" --bind-address="$NODE_IP" --secure-port=6443 \
    --etcd-servers=http://127.0.0.1:2379 --service-cluster-ip-range="$SERVICE_CIDR" \
    --client-ca-file="$p/ca.crt" --tls-cert-file="$p/apiserver.crt" --tls-private-key-file="$p/apiserver.key" \
    --kubelet-client-certificate="$p/apiserver-kubelet-client.crt" --kubelet-client-key="$p/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types=InternalIP \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$p/sa.pub" --service-account-signing-key-file="$p/sa.key" \
    --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
    --allow-privileged=true --profiling=false
  wait_for "containerd" 60 test -S "$D/containerd/containerd.sock"
  import_images "$IMAGES/pause-1.tar" "$IMAGES/busybox-1.tar" "$IMAGES/coredns-1.tar"
  log "containerd up; images imported"
  wait_for "the API server" 180 kc get --raw /readyz
  log "API server ready"
  start kube-controller-manager "$BIN/kube-controller-manager" \
    --kubeconfig="$p/controller-manager.conf" --authentication-kubeconfig="$p/controller-manager.conf" \
    --authorization-kubeconfig="$p/controller-manager.conf" --bind-address=127.0.0.1 --leader-elect=false \
    --use-service-account-credentials=true --service-account-private-key-file="$p/sa.key" \
    --root-ca-file="$p/ca.crt" --cluster-signing-cert-file="$p/ca.crt" --cluster-signing-key-file="$p/ca.key" \
    --allocate-node-cidrs=true --cluster-cidr="$CLUSTER_CIDR" --node-cidr-mask-size=24 \
    --service-cluster-ip-range="$SERVICE_CIDR"
  start kube-scheduler "$BIN/kube-scheduler" \
    --kubeconfig="$p/scheduler.conf" --authentication-kubeconfig="$p/scheduler.conf" \
    --authorization-kubeconfig="$p/scheduler.conf" --bind-address=127.0.0.1 --leader-elect=false
  start kubelet "$BIN/kubelet" --config="$D/kubelet.yaml" --kubeconfig="$p/kubelet.conf" \
    --hostname-override="$NODE_NAME" --node-ip="$NODE_IP" --v=1
  start kube-proxy "$BIN/kube-proxy" --config="$D/kube-proxy.yaml"
  wait_for "the node to register" 180 kc get node "$NODE_NAME"
  log "node registered"
  start_network_policy
  wait_for "the node to be Ready" 300 kc wait --for=condition=Ready "node/$NODE_NAME" --timeout=5s
  log "node Ready"
  wait_for "kube-router's network-policy rules (KUBE-ROUTER-FORWARD)" 120 in_node iptables -S KUBE-ROUTER-FORWARD
  log "NetworkPolicy enforced (kube-router's policy controller synced)"
  wait_for "the default ServiceAccount" 120 kc get serviceaccount default
  deploy_dns
  # For processes outside the node's namespace (a test JVM, kubectl on the host): the API server
  # through a forwarder on the host's 127.0.0.1 (its certificate names 127.0.0.1).
  local port; port="$(forward apiserver-forward "$NODE_IP:6443")"
  sed "s#https://$NODE_IP:6443#https://127.0.0.1:$port#" "$KUBECONFIG_ADMIN" > "$D/admin-host.conf"
  chmod 600 "$D/admin-host.conf"
  "$BIN/kubectl" --kubeconfig "$D/admin-host.conf" get --raw /readyz >/dev/null \
    || fail "the API server is not reachable through the forwarder on 127.0.0.1:$port"
  log "API server also on https://127.0.0.1:$port of the host (kubeconfig $D/admin-host.conf)"
  if [[ -n "$OWNER_PID" ]]; then
    # A watchdog outside the node's cgroups (down empties those): when the owner (a test JVM) is
    # gone, even by SIGKILL, it takes the node down. It retires when this node is taken down.
    local holder; holder="$(holder_pid)"
    setsid bash -c "while kill -0 $OWNER_PID 2>/dev/null && [[ \"\$(cat '$D/run/holder.pid' 2>/dev/null)\" == $holder ]]; do sleep 1; done
      [[ \"\$(cat '$D/run/holder.pid' 2>/dev/null)\" == $holder ]] && exec '$HERE/scripts/kube-node.sh' down '$D'" \
      </dev/null >>"$D/logs/watchdog.log" 2>&1 &
    echo $! > "$D/run/watchdog.pid"
    log "the node goes down when process $OWNER_PID ends"
  fi
  log "up: kubectl via 'scripts/kube-node.sh kubectl $D ...' (kubeconfig $KUBECONFIG_ADMIN, inside netns $NS)"
}

# NetworkPolicy: the bridge plugin enforces none, so kube-router runs as a node daemon with only its
# network-policy controller (no routing, no service proxy: kube-proxy does that; no CNI config). Its
# iptables chains (KUBE-ROUTER-*, KUBE-NWPLCY-*, KUBE-POD-FW-*) and ipsets are in the node's network
# namespace (ipsets are per network namespace), so they go with it. It needs the node object (it
# finds its local Pods by the node's address), hence started once the node has registered. Its
# identity (a client certificate) may read what it watches, nothing more.
start_network_policy() {
  kc apply -f - >/dev/null <<YAML
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "kmesos-node:network-policy"}
rules:
- {apiGroups: [""], resources: [pods, namespaces, nodes, services, endpoints], verbs: [get, list, watch]}
- {apiGroups: [networking.k8s.io], resources: [networkpolicies], verbs: [get, list, watch]}
- {apiGroups: [discovery.k8s.io], resources: [endpointslices], verbs: [get, list, watch]}
- {apiGroups: ["", events.k8s.io], resources: [events], verbs: [create, patch, update]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "kmesos-node:network-policy"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "kmesos-node:network-policy"}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: "kmesos-node:network-policy"}]
YAML
  start kube-router "$BIN/kube-router" --kubeconfig="$D/pki/netpol.conf" \
    --run-firewall=true --run-router=false --run-service-proxy=false --run-loadbalancer=false \
    --enable-cni=false --enable-ipv4=true --enable-ipv6=false --hostname-override="$NODE_NAME" \
    --service-cluster-ip-range="$SERVICE_CIDR" --health-port=20244 --metrics-port=0
}

# Cluster DNS (CoreDNS, the kubernetes plugin only: cluster.local names, no forwarding) as
# kube-system/kube-dns on $CLUSTER_DNS, the address the kubelet gives every Pod.
deploy_dns() {
  kc apply -f - >/dev/null <<YAML
apiVersion: v1
kind: ServiceAccount
metadata: {name: coredns, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system:coredns"}
rules:
- {apiGroups: [""], resources: [endpoints, services, pods, namespaces], verbs: [list, watch]}
- {apiGroups: [discovery.k8s.io], resources: [endpointslices], verbs: [list, watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "system:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:coredns"}
subjects: [{kind: ServiceAccount, name: coredns, namespace: kube-system}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: coredns, namespace: kube-system}
data:
  Corefile: |
    .:53 {
        errors
        health :8080
        ready :8181
        kubernetes cluster.local in-addr.arpa ip6.arpa {
            pods insecure
            fallthrough in-addr.arpa ip6.arpa
        }
        cache 30
        loadbalance
    }
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  replicas: 1
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec:
      serviceAccountName: coredns
      dnsPolicy: Default
      priorityClassName: system-cluster-critical
      terminationGracePeriodSeconds: 1
      containers:
      - name: coredns
        image: $COREDNS_IMAGE
        args: [-conf, /etc/coredns/Corefile]
        ports:
        - {name: dns, containerPort: 53, protocol: UDP}
        - {name: dns-tcp, containerPort: 53, protocol: TCP}
        resources: {requests: {cpu: 50m, memory: 32Mi}, limits: {memory: 128Mi}}
        volumeMounts: [{name: config, mountPath: /etc/coredns, readOnly: true}]
        livenessProbe: {httpGet: {path: /health, port: 8080}, periodSeconds: 10}
        readinessProbe: {httpGet: {path: /ready, port: 8181}, periodSeconds: 1}
      volumes: [{name: config, configMap: {name: coredns}}]
---
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  clusterIP: $CLUSTER_DNS
  selector: {k8s-app: kube-dns}
  ports:
  - {name: dns, port: 53, protocol: UDP}
  - {name: dns-tcp, port: 53, protocol: TCP}
YAML
  kc -n kube-system rollout status deployment/coredns --timeout=180s >/dev/null \
    || { kc -n kube-system describe pods -l k8s-app=kube-dns >&2; fail "CoreDNS did not become ready"; }
  log "cluster DNS ready on $CLUSTER_DNS"
}

# Every process of this node: those in its cgroups (daemons, shims, containers) and in its netns.
node_pids() {
  local h
  for h in $(hierarchies); do
    [[ -d "$h/$CG" ]] && find "$h/$CG" -name cgroup.procs -exec cat {} + 2>/dev/null
  done
  ip netns pids "$NS" 2>/dev/null || true
  return 0
}

# Alive and not a zombie: the daemons' parent is init, which may take seconds to reap them.
running() { local st; st="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" && [[ -n "$st" && "$st" != Z ]]; }

ours() { grep -q ":/$CG/" "/proc/$1/cgroup" 2>/dev/null; }

down() {
  local name pid i
  # Pid files may be stale after a crash (and the numbers reused): signal only processes that are
  # provably this node's (the watchdog by its command line, the daemons by their cgroup).
  pid="$(cat "$D/run/watchdog.pid" 2>/dev/null)" && [[ "$pid" != $$ ]] \
    && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF "$D/run/holder.pid" && kill "$pid" 2>/dev/null || true
  # Politely first, in reverse start order, but not for long: all state is thrown away, and the
  # API server's graceful shutdown alone takes over 12 s (it drains watches).
  for name in kube-router kube-proxy kubelet kube-scheduler kube-controller-manager kube-apiserver containerd etcd; do
    pid="$(cat "$D/run/$name.pid" 2>/dev/null)" || continue
    ours "$pid" && kill -TERM "$pid" 2>/dev/null || true
  done
  for i in $(seq 15); do
    local alive=0
    for name in kube-router kube-proxy kubelet kube-scheduler kube-controller-manager kube-apiserver containerd etcd; do
      pid="$(cat "$D/run/$name.pid" 2>/dev/null)" || continue
      ours "$pid" && running "$pid" && alive=1
    done
    [[ $alive == 1 ]] || break
    sleep 0.2
  done
  # Then everything left, containers and shims included. A frozen cgroup (runc pause) would hold
  # SIGKILL back: thaw first.
  [[ -d "/sys/fs/cgroup/freezer/$CG" ]] && find "/sys/fs/cgroup/freezer/$CG" -name freezer.state \
    -exec sh -c 'for f; do echo THAWED > "$f"; done' _ {} + 2>/dev/null || true
  for i in $(seq 100); do
    local pids; pids="$(node_pids | sort -u | tr '\n' ' ')"
    [[ -n "${pids// }" ]] || break
    kill -KILL $pids 2>/dev/null || true
    sleep 0.1
  done
  [[ -z "$(node_pids)" ]] || fail "processes of the node survived SIGKILL: $(node_pids | tr '\n' ' ')"
  # Empty cgroups can be removed, deepest first (a dying task may hold one for a moment).
  local h
  for i in $(seq 50); do
    local left=0
    for h in $(hierarchies); do
      [[ -d "$h/$CG" ]] || continue
      find "$h/$CG" -depth -type d -exec rmdir {} + 2>/dev/null || true
      [[ -d "$h/$CG" ]] && left=1
    done
    [[ $left == 1 ]] || break
    sleep 0.1
  done
  ip netns del "$NS" 2>/dev/null || true
  # The mount namespace went with its last process; nothing is mounted under $D any more, so its
  # state can go (the logs stay for a look after a failed run).
  if [[ -d "$D" ]]; then
    find "$D" -mindepth 1 -maxdepth 1 ! -name logs -exec rm -rf {} +
  fi
  local l; l="$(leftovers)"
  [[ -z "$l" ]] || fail "left behind: $l"
  log "down: nothing of $D is left (logs kept in $D/logs)"
}

leftovers() {
  local out="" h
  grep -qE " $D(/| )" /proc/self/mountinfo && out+="mounts under $D; "
  for h in $(hierarchies); do [[ -d "$h/$CG" ]] && out+="cgroup $h/$CG; "; done
  ip netns list | grep -qw "$NS" && out+="netns $NS; "
  [[ -n "$(node_pids)" ]] && out+="processes $(node_pids | sort -un | tr "\n" " "); "
  printf '%s' "$out"
}

smoke() {
  log "smoke: a Pod from the local busybox image, its logs, a ClusterIP Service from another Pod"
  kc delete pod web client --ignore-not-found --wait=true >/dev/null
  kc delete service web --ignore-not-found >/dev/null
  kc apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: $BUSYBOX_IMAGE
    command: [sh, -c, 'mkdir -p /www && echo "hello from \$(hostname)" > /www/index.html && echo web serving && exec httpd -f -v -p 8080 -h /www']
    ports: [{containerPort: 8080}]
    resources: {limits: {cpu: 100m, memory: 32Mi}}
    readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, labels: {app: client}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: client
    image: $BUSYBOX_IMAGE
    command: [sh, -c, 'trap "exit 0" TERM; while true; do sleep 1; done']
YAML
  kc wait --for=condition=Ready pod/web pod/client --timeout=180s >/dev/null || {
    kc describe pod web client >&2; fail "the smoke Pods did not become Ready"; }
  log "smoke: Pods Ready"
  [[ "$(kc logs web)" == *"web serving"* ]] || fail "kubectl logs web did not show the container's output"
  local ip; ip="$(kc get service web -o jsonpath='{.spec.clusterIP}')"
  local answer=""
  for _ in $(seq 30); do
    # nc, not wget: Debian's static busybox wget crashes (SIGSEGV) in glibc's NSS lookup of "http"
    # in an image without glibc's NSS libraries.
    answer="$(kc exec client -- sh -c "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 $ip 80 | tail -1" 2>/dev/null)" \
      && [[ "$answer" == hello* ]] && break
    sleep 1
  done
  [[ "$answer" == "hello from web" ]] || fail "the client Pod did not reach web through the ClusterIP $ip (got: '$answer')"
  log "smoke: kubectl logs and exec work; client -> Service $ip -> web answered '$answer'"
  local resolved=""
  for _ in $(seq 30); do
    resolved="$(kc exec client -- nslookup web.default.svc.cluster.local 2>/dev/null | awk '/^Address/ {a=$NF} END {print a}')" \
      && [[ "$resolved" == "$ip" ]] && break
    sleep 1
  done
  [[ "$resolved" == "$ip" ]] || fail "web.default.svc.cluster.local resolved to '$resolved', not $ip"
  log "smoke: cluster DNS: web.default.svc.cluster.local is $ip"
  local limit
  limit="$(kc exec web -- cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || true)"
  [[ "$limit" == "33554432" ]] || fail "the web container's memory limit is '$limit', not 32Mi"
  log "smoke: the memory limit (32Mi) is applied"
  smoke_network_policy
  kc delete pod web client --wait=true >/dev/null
  kc delete service web >/dev/null
  log "smoke: passed"
}

# NetworkPolicy is enforced (kube-router): a default-deny policy on web blocks client -> web (the
# Pod's address, Pod to Pod), a policy allowing Pods labelled app=client opens it again.
smoke_network_policy() {
  local wip answer="" i
  wip="$(kc get pod web -o jsonpath='{.status.podIP}')"
  kc apply -f - >/dev/null <<YAML
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-deny-all}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
YAML
  for i in $(seq 60); do
    answer="$(kc exec client -- sh -c "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 $wip 8080 | tail -1" 2>/dev/null || true)"
    [[ -z "$answer" ]] && break
    sleep 1
  done
  [[ -z "$answer" ]] || fail "a default-deny NetworkPolicy on web did not block client -> $wip:8080 within 60 s (got: '$answer'; logs: $D/logs/kube-router.log)"
  log "smoke: NetworkPolicy web-deny-all blocks client -> web ($wip:8080) after ${i}s"
  kc apply -f - >/dev/null <<YAML
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-allow-client}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress: [{from: [{podSelector: {matchLabels: {app: client}}}], ports: [{port: 8080, protocol: TCP}]}]
YAML
  for i in $(seq 60); do
    answer="$(kc exec client -- sh -c "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 $wip 8080 | tail -1" 2>/dev/null || true)"
    [[ "$answer" == hello* ]] && break
    sleep 1
  done
  [[ "$answer" == "hello from web" ]] || fail "NetworkPolicy web-allow-client did not let client reach $wip:8080 within 60 s (got: '$answer')"
  log "smoke: NetworkPolicy web-allow-client lets client reach web again after ${i}s"
  kc delete networkpolicy web-deny-all web-allow-client >/dev/null
}

# The prototype's own test: a node comes up, runs Pods, survives a crash of its daemons (the next
# `up` clears the remains), goes down without a trace, comes up clean again, and goes down by
# itself when its owner process is killed.
selftest() {
  local self="$0" owner i
  "$self" up "$D"
  "$self" smoke "$D"
  log "selftest: SIGKILL to containerd, the kubelet and the namespace holder (a crashed run)"
  for i in containerd kubelet holder; do kill -KILL "$(cat "$D/run/$i.pid")"; done
  "$self" up "$D"
  "$self" smoke "$D"
  "$self" down "$D"
  "$self" leftovers "$D" >/dev/null || fail "selftest: leftovers after down: $("$self" leftovers "$D")"
  log "selftest: a node whose owner is killed"
  sleep 3600 </dev/null >/dev/null 2>&1 & owner=$!
  # Expanded now: $owner is local, gone (unbound under set -u) when the EXIT trap runs.
  trap "kill -KILL $owner 2>/dev/null || true" EXIT
  "$self" up "$D" --owner-pid "$owner"
  "$self" kubectl "$D" run sleeper --image="$BUSYBOX_IMAGE" --restart=Never -- sleep 3600 >/dev/null
  "$self" kubectl "$D" wait --for=condition=Ready pod/sleeper --timeout=120s >/dev/null
  kill -KILL "$owner"; wait "$owner" 2>/dev/null || true
  for i in $(seq 120); do
    "$self" leftovers "$D" >/dev/null && [[ ! -f "$D/run/holder.pid" ]] && break
    sleep 1
  done
  "$self" leftovers "$D" >/dev/null || fail "selftest: the node outlived its owner: $("$self" leftovers "$D")"
  log "selftest: passed (the node went down ${i}s after its owner)"
}

# kmesos on the node, as an operator installs it (docs/real-node.md, "kmesos on the node"): the image
# archives imported, `kubectl apply --server-side -k manifests/overlays/real-node`, every kmesos Pod
# Ready (its Jobs complete), the node's own Agent admitted and in session with the master, then the
# examples applied and each `Ready: InRegistry`. Waits at most TIMEOUT seconds for each of these
# (the Pods, the agent, the examples); on a timeout it prints what is not ready and why (conditions,
# events, the last log lines) and fails.
DEPLOY_TIMEOUT=900
KMESOS_NS=kmesos

# Lines "name<TAB>why" of kmesos' Pods that are neither Ready nor done (a Pod of a complete Job
# counts as done), then of workloads short of their replicas and of Jobs not complete; empty when
# all are. Jobs of a CronJob (the certificates' renewal) are not waited for.
deploy_not_done() {
  local pods jobs workloads
  jobs="$(kc -n "$KMESOS_NS" get jobs -o jsonpath='{range .items[*]}{.metadata.name}{"\t"}{.status.succeeded}{"\t"}{.metadata.ownerReferences[0].kind}{"\n"}{end}')" || return 1
  pods="$(kc -n "$KMESOS_NS" get pods -o jsonpath='{range .items[*]}{.metadata.name}{"\t"}{.status.phase}{"\t"}{.status.conditions[?(@.type=="Ready")].status}{"\t"}{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}{"\t"}{.status.initContainerStatuses[*].state.waiting.reason} {.status.containerStatuses[*].state.waiting.reason}{"\n"}{end}')" || return 1
  workloads="$(kc -n "$KMESOS_NS" get statefulsets,deployments,daemonsets -o jsonpath='{range .items[*]}{.kind}/{.metadata.name}{"\t"}{.status.readyReplicas}{.status.numberReady}{"\t"}{.spec.replicas}{.status.desiredNumberScheduled}{"\n"}{end}')" || return 1
  [[ -n "$pods" ]] || { printf 'Pods\tnone yet\n'; return 0; }
  awk -F'\t' -v jobs="$jobs" -v workloads="$workloads" '
    BEGIN {
      n = split(jobs, j, "\n")
      for (i = 1; i <= n; i++) { split(j[i], f, "\t"); if (f[1] == "") continue
        if (f[2] + 0 >= 1) done["Job/" f[1]] = 1
        else if (f[3] != "CronJob") out = out "Job/" f[1] "\tnot complete\n" }
      n = split(workloads, w, "\n")
      for (i = 1; i <= n; i++) { split(w[i], f, "\t"); if (f[1] == "") continue
        if (f[2] + 0 < f[3] + 0) out = out f[1] "\t" (f[2] + 0) " of " f[3] " ready\n" }
    }
    $1 != "" && $2 != "Succeeded" && $3 != "True" && !done[$4] {
      # the waiting reasons of its containers (ContainerCreating, CrashLoopBackOff, ...), each once
      n = split($5, r, " "); reasons = ""; delete seen
      for (i = 1; i <= n; i++) if (!seen[r[i]]++) reasons = reasons ", " r[i]
      print $1 "\t" $2 ((reasons != "") ? reasons : ", not Ready") }
    END { printf "%s", out }' <<<"$pods"
}

deploy_report_pods() { # (each step "|| true": a Pod without logs yet must not end the report)
  local not pod
  not="$(deploy_not_done 2>&1)" || true
  printf '%s\n' "$not" | sed 's/^/    /' >&2
  kc -n "$KMESOS_NS" get pods -o wide 2>&1 | sed 's/^/    /' >&2 || true
  for pod in $(printf '%s\n' "$not" | cut -f1 | grep -v /); do
    echo "    --- Pod $pod: conditions and events" >&2
    kc -n "$KMESOS_NS" describe pod "$pod" 2>&1 | sed -n '/^Conditions:/,/^Volumes:/{/^Volumes:/!p}; /^Events:/,$p' \
      | sed 's/^/    /' >&2 || true
    echo "    --- Pod $pod: the last log lines" >&2
    kc -n "$KMESOS_NS" logs "$pod" --all-containers --prefix --tail=20 2>&1 | sed 's/^/    /' >&2 || true
  done
  echo "    --- the namespace's last events" >&2
  kc -n "$KMESOS_NS" get events --sort-by=.lastTimestamp 2>&1 | tail -20 | sed 's/^/    /' >&2 || true
}

# "Kind/name status reason message" of the given resources' Ready condition.
deploy_readiness() { # resource names (kind.group/name)...
  kc get "$@" -o jsonpath='{range .items[*]}{.kind}/{.metadata.name}{"\t"}{.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].reason}{"\t"}{.status.conditions[?(@.type=="Ready")].message}{"\n"}{end}'
}

deploy() { # image archives...
  [[ $EUID -eq 0 ]] || fail "deploy needs root (it works inside the node's namespaces)"
  [[ -f "$D/run/holder.pid" ]] || fail "no node is running in $D (scripts/kube-node.sh up $D first)"
  local tars=("$@") t0 end not last="" next=0 agent_log
  [[ ${#tars[@]} -gt 0 ]] || tars=("$HERE/image/target/kmesos-image.tar")
  for t in "${tars[@]}"; do
    [[ -f "$t" ]] || fail "no image archive $t (build it: ./mvnw -Preal-node-images -pl image -am package -DskipTests)"
  done
  t0=$(date +%s)
  import_images "${tars[@]}"
  log "deploy: imported ${tars[*]}"
  kc apply --server-side -k "$HERE/manifests/overlays/real-node" >/dev/null \
    || fail "kubectl apply --server-side -k manifests/overlays/real-node failed"
  log "deploy: applied manifests/overlays/real-node; waiting (at most ${DEPLOY_TIMEOUT}s) for every kmesos Pod to be Ready"
  end=$(( $(date +%s) + DEPLOY_TIMEOUT ))
  while :; do
    if not="$(deploy_not_done 2>&1)" && [[ -z "$not" ]]; then break; fi
    if (( $(date +%s) >= end )); then
      log "deploy: not ready after ${DEPLOY_TIMEOUT}s:"
      deploy_report_pods
      fail "deploy: kmesos' Pods did not all become Ready in ${DEPLOY_TIMEOUT}s (the node's logs: $D/logs)"
    fi
    # A line when something changed, and every 30 s anyway.
    if [[ "$not" != "$last" ]] || (( $(date +%s) >= next )); then
      # The Pods (a workload or Job only while it has none).
      log "deploy: waiting for $(printf '%s\n' "$not" | awk -F'\t' '
        NF && $1 !~ /\// { pods = pods (pods ? ", " : "") $1 " (" $2 ")" }
        NF && $1 ~ /\// { other = other (other ? ", " : "") $1 " (" $2 ")" }
        END { print (pods ? pods : other) }')"
      last="$not"; next=$(( $(date +%s) + 30 ))
    fi
    sleep 2
  done
  log "deploy: every kmesos Pod is Ready, its Jobs complete ($(( $(date +%s) - t0 ))s)"

  # The node's own agent registered itself (the registry admitted it) and holds a session with the
  # leading master (mutual TLS, its pod-bound token naming the node).
  end=$(( $(date +%s) + DEPLOY_TIMEOUT ))
  until [[ "$(kc get "agents.kmesos.io/$NODE_NAME" -o jsonpath='{.status.state}' 2>/dev/null)" == Admitted ]] \
      && kc -n "$KMESOS_NS" logs -l app.kubernetes.io/name=kmesos-agent -c agent --tail=-1 2>/dev/null \
         | grep -q 'registered with master'; do
    if (( $(date +%s) >= end )); then
      kc get "agents.kmesos.io/$NODE_NAME" -o yaml 2>&1 | sed 's/^/    /' >&2 || true
      kc -n "$KMESOS_NS" logs -l app.kubernetes.io/name=kmesos-agent -c agent --tail=20 2>&1 | sed 's/^/    /' >&2 || true
      fail "deploy: the Agent $NODE_NAME was not admitted with a session to the master in ${DEPLOY_TIMEOUT}s"
    fi
    sleep 2
  done
  log "deploy: the Agent $NODE_NAME is admitted and registered with the master"

  local names=()
  mapfile -t names < <(kc apply --server-side -o name -f "$HERE/examples/agents.yaml" -f "$HERE/examples/quotas.yaml" \
    -f "$HERE/examples/weights.yaml" -f "$HERE/examples/maintenance.yaml") \
    || fail "kubectl apply of the examples failed"
  names+=("agents.kmesos.io/$NODE_NAME")
  log "deploy: applied examples/{agents,quotas,weights,maintenance}.yaml; waiting for ${#names[@]} resources to be Ready: InRegistry"
  end=$(( $(date +%s) + DEPLOY_TIMEOUT ))
  while :; do
    local r waiting
    r="$(deploy_readiness "${names[@]}" 2>&1)" || r="(kubectl get failed: $r)"
    waiting="$(printf '%s\n' "$r" | awk -F'\t' '$2 != "True InRegistry"')"
    [[ -n "$waiting" || "$(printf '%s\n' "$r" | grep -c $'\tTrue InRegistry')" -lt ${#names[@]} ]] || break
    if (( $(date +%s) >= end )); then
      printf '%s\n' "$r" | sed 's/^/    /' >&2
      fail "deploy: the examples were not all Ready: InRegistry in ${DEPLOY_TIMEOUT}s"
    fi
    sleep 1
  done
  log "deploy: ${#names[@]} kmesos resources Ready: InRegistry; kmesos is deployed ($(( $(date +%s) - t0 ))s)"
}

OWNER_PID=""
case "$CMD" in
  up) while [[ $# -gt 0 ]]; do
        case "$1" in
          --owner-pid) [[ "${2:-}" =~ ^[0-9]+$ ]] || fail "--owner-pid needs a process ID"; OWNER_PID="$2"; shift 2 ;;
          *) fail "unknown option for up: '$1' (expected --owner-pid PID)" ;;
        esac
      done
      up ;;
  down) [[ $EUID -eq 0 ]] || fail "down needs root"; down ;;
  kubectl) kc "$@" ;;
  import) import_images "$@" ;;
  deploy) while [[ $# -gt 0 && "$1" == --* ]]; do
            case "$1" in
              --timeout) [[ "${2:-}" =~ ^[0-9]+$ ]] || fail "--timeout needs seconds"; DEPLOY_TIMEOUT="$2"; shift 2 ;;
              *) fail "unknown option for deploy: '$1' (expected --timeout SECONDS, then image archives)" ;;
            esac
          done
          deploy "$@" ;;
  base-image) base_image "$D" ;;
  forward) [[ $# -eq 1 ]] || fail "forward needs an address inside the node, e.g. 10.213.0.2:30080"
           join_cgroups_snippet; forward "forward-$(date +%s%N)" "$1" ;;
  smoke) smoke ;;
  selftest) selftest ;;
  leftovers) l="$(leftovers)"; [[ -z "$l" ]] && echo "nothing of $D is left" || { echo "left behind: $l"; exit 1; } ;;
  *) usage 2 ;;
esac
