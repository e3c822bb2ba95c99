#!/usr/bin/env bash
# Produces the real Kubernetes control-plane binaries that the integration tests run:
#   ~/.kubeapitest/k8s/<K8S_VERSION>-linux-amd64/{kube-apiserver,etcd,kubectl}
# which is where fabric8 kube-api-test looks before it would try (and, here, fail) to download.
#
# Nothing is downloaded as a prebuilt binary: kube-apiserver and etcd are compiled with the
# machine's Go from Go modules (GOTOOLCHAIN=local), kubectl is the machine's kubectl 1.32 when it
# has one and is otherwise compiled the same way. Idempotent: binaries that report the right
# version are kept. Debian's etcd-server is the fallback if etcd does not build from modules.
#
# Usage: scripts/kube-test-binaries.sh [--print-dir]
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# One source of truth for the Kubernetes release: the parent pom's <kube.version>.
K8S_VERSION="${K8S_VERSION:-$(sed -n 's#.*<kube.version>\(.*\)</kube.version>.*#\1#p' "$HERE/pom.xml")}"
[[ -n "$K8S_VERSION" ]] || { echo "[kube-test-binaries] ERROR: no <kube.version> in $HERE/pom.xml" >&2; exit 1; }
# k8s.io/kubernetes v1.32.N pairs with staging modules v0.32.N.
ETCD_VERSION="${ETCD_VERSION:-3.5.21}"       # go.etcd.io/etcd/server/v3
ROOT="${KUBEAPITEST_DIR:-$HOME/.kubeapitest}"
DEST="$ROOT/k8s/${K8S_VERSION}-linux-amd64"
WORK="${KMESOS_CACHE:-$HOME/.cache/kmesos}/kube-build"

log()  { printf '[kube-test-binaries] %s\n' "$*" >&2; }
fail() { printf '[kube-test-binaries] ERROR: %s\n' "$*" >&2; exit 1; }

if [[ "${1:-}" == "--print-dir" ]]; then echo "$DEST"; exit 0; fi
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0
fi

mkdir -p "$DEST" "$WORK"

have_version() { # binary, expected substring
  [[ -x "$1" ]] && "$1" --version 2>/dev/null | grep -q -- "$2"
}

need_go() {
  command -v go >/dev/null || fail "Go is not installed (needed to build $1 from Go modules). Install Go >= 1.23, e.g. 'apt-get install golang-go'."
  export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
}

build_apiserver() {
  local out="$DEST/kube-apiserver.bin" minor="${K8S_VERSION#*.}"; minor="${minor%%.*}"
  if have_version "$out" "v${K8S_VERSION}"; then log "kube-apiserver v${K8S_VERSION}: present"; install_wrapper kube-apiserver; return; fi
  need_go kube-apiserver
  local dir="$WORK/apiserver-${K8S_VERSION}"
  mkdir -p "$dir"
  log "kube-apiserver v${K8S_VERSION}: resolving k8s.io/kubernetes from the Go module proxy (first run takes a while)"
  local gomod
  gomod=$(cd "$dir" && go mod download -json "k8s.io/kubernetes@v${K8S_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  [[ -f "$gomod" ]] || fail "could not download k8s.io/kubernetes@v${K8S_VERSION} from the Go module proxy (GOPROXY=$(go env GOPROXY))"
  # k8s.io/kubernetes points its staging modules at ./staging; outside its repo they must be
  # pinned to the published v0.<minor>.<patch> tags instead.
  local staging
  staging=$(sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9.-]*\) => ./staging/.*#\1#p' "$gomod" | sort -u)
  [[ -n "$staging" ]] || fail "found no staging replace directives in $gomod"
  {
    echo "module kmesos.local/kube-apiserver-build"
    echo
    echo "go 1.23"
    echo
    echo "require k8s.io/kubernetes v${K8S_VERSION}"
    echo
    echo "replace ("
    for m in $staging; do echo "	$m => $m v0.${K8S_VERSION#*.}"; done
    echo ")"
  } > "$dir/go.mod"
  cat > "$dir/tools.go" <<'GO'
//go:build tools

package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
GO
  # -e: the proxy may lack modules that only k8s.io/kubernetes' own tests import (seen:
  # k8s.io/cri-client, k8s.io/csi-translation-lib); the build below fails loudly if the binary needs one.
  log "kube-apiserver: $(echo "$staging" | wc -l) staging modules pinned to v0.${K8S_VERSION#*.}; go mod tidy"
  (cd "$dir" && go mod tidy -e > tidy.log 2>&1) || true
  local missing
  missing=$(sed -n 's/.*\(k8s\.io\/[a-z-]*\)@v[0-9.]*: reading.*not available.*/\1/p; s/.*\(k8s\.io\/[a-z-]*\)@v[0-9.]*: reading.*403.*/\1/p' "$dir/tidy.log" | sort -u | tr '\n' ' ')
  [[ -z "$missing" ]] || log "kube-apiserver: the module proxy lacks ${missing}(only Kubernetes' own tests import them; details in $dir/tidy.log)"
  log "kube-apiserver: compiling (several minutes on 2 cores)"
  (cd "$dir" && go build -trimpath -o "$out.tmp.$$" \
      -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=v${K8S_VERSION} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor} -X k8s.io/component-base/version.gitTreeState=clean" \
      k8s.io/kubernetes/cmd/kube-apiserver) || fail "compiling kube-apiserver v${K8S_VERSION} failed"
  mv "$out.tmp.$$" "$out"
  have_version "$out" "v${K8S_VERSION}" || fail "built kube-apiserver does not report v${K8S_VERSION}"
  install_wrapper kube-apiserver
  log "kube-apiserver: built $out"
}

# kube-api-test runs "<dir>/etcd" and "<dir>/kube-apiserver" itself. Each is a small wrapper in
# front of the real binary (<name>.bin) that
#  - keeps etcd on loopback: kube-api-test passes --listen-client-urls http://0.0.0.0:<port>;
#  - ties the process to the JVM that started it (setpriv --pdeathsig), so that a test JVM that is
#    killed (kill -9, a timed-out fork) leaves no etcd or kube-apiserver behind.
install_wrapper() { # name
  local name="$1" tmp
  # A file of this run's own: two runs at once (two CI jobs, a test beside kmesos-local) must not
  # write or move each other's half-written wrapper; the rename is atomic.
  tmp=$(mktemp "$DEST/.$name.XXXXXX")
  cat > "$tmp" <<SH
#!/bin/sh
# Installed by kmesos scripts/kube-test-binaries.sh in front of $name.bin (see there for why).
SH
  if [[ "$name" == etcd ]]; then
    cat >> "$tmp" <<'SH'
for a; do shift; set -- "$@" "$(printf '%s' "$a" | sed 's#//0[.]0[.]0[.]0:#//127.0.0.1:#g')"; done
SH
  fi
  cat >> "$tmp" <<SH
bin="\$(dirname "\$0")/$name.bin"
if command -v setpriv >/dev/null 2>&1; then exec setpriv --pdeathsig KILL -- "\$bin" "\$@"; fi
exec "\$bin" "\$@"
SH
  chmod 755 "$tmp"; mv -f "$tmp" "$DEST/$name"
}

build_etcd() {
  local out="$DEST/etcd.bin"
  if [[ -x "$out" ]] && "$out" --version 2>/dev/null | grep -q "etcd Version: 3\."; then
    log "etcd: present ($("$out" --version | head -1))"; install_wrapper etcd; return
  fi
  if command -v go >/dev/null; then
    need_go etcd
    local dir="$WORK/etcd-${ETCD_VERSION}"
    mkdir -p "$dir"
    cat > "$dir/go.mod" <<MOD
module kmesos.local/etcd-build

go 1.23

require go.etcd.io/etcd/server/v3 v${ETCD_VERSION}
MOD
    cat > "$dir/main.go" <<'GO'
// The etcd server's own entry point, compiled from Go modules.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
    log "etcd v${ETCD_VERSION}: building from Go modules"
    if (cd "$dir" && go mod tidy 2>&1 | grep -v '^go: downloading' >&2; go build -trimpath -ldflags "-s -w" -o "$out.tmp.$$" .); then
      mv "$out.tmp.$$" "$out"; install_wrapper etcd
      log "etcd: built $out ($("$out" --version | head -1))"; return
    fi
    log "etcd v${ETCD_VERSION} did not build from Go modules; falling back to Debian's etcd-server"
  fi
  if ! [[ -x /usr/bin/etcd ]]; then
    command -v apt-get >/dev/null || fail "no etcd: it did not build from Go modules and there is no apt-get for Debian's etcd-server"
    log "etcd: apt-get install etcd-server"
    (apt-get install -y -q etcd-server >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q etcd-server >/dev/null; }) \
      || fail "apt-get install etcd-server failed"
    # Debian starts a system etcd on 2379; the tests want none.
    systemctl disable --now etcd >/dev/null 2>&1 || service etcd stop >/dev/null 2>&1 || true
  fi
  # Copied beside, then renamed (atomic): another run may be executing "$out" right now, and cp
  # onto a running binary fails with "Text file busy".
  cp /usr/bin/etcd "$out.tmp.$$"; mv -f "$out.tmp.$$" "$out"; install_wrapper etcd
  log "etcd: copied Debian's $("$out" --version | head -1)"
}

provide_kubectl() {
  local out="$DEST/kubectl" minor="${K8S_VERSION#*.}"; minor="${minor%%.*}"
  if [[ -x "$out" ]] && "$out" version --client 2>/dev/null | grep -q "v1\.${minor}\.[0-9]*$"; then log "kubectl: present"; return; fi
  local c
  # Prefer a versioned kubectl (google-cloud-sdk's kubectl.1.NN) over a version-dispatching one.
  local candidates=()
  command -v "kubectl.1.${minor}" >/dev/null && candidates+=("$(command -v "kubectl.1.${minor}")")
  if command -v kubectl >/dev/null; then
    candidates+=("$(dirname "$(readlink -f "$(command -v kubectl)")")/kubectl.1.${minor}" "$(command -v kubectl)")
  fi
  for c in "${candidates[@]}"; do
    if [[ -x "$c" ]] && "$c" version --client 2>/dev/null | grep -q "v1\.${minor}\."; then
      cp "$c" "$out.tmp.$$"; mv -f "$out.tmp.$$" "$out" # as etcd's, above
      log "kubectl: copied $c"; return
    fi
  done
  need_go kubectl
  log "kubectl: no kubectl 1.${minor} on this machine; building it from the kube-apiserver module"
  build_apiserver
  (cd "$WORK/apiserver-${K8S_VERSION}" && go build -trimpath -o "$out.tmp.$$" \
      -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=v${K8S_VERSION} -X k8s.io/client-go/pkg/version.gitVersion=v${K8S_VERSION}" \
      k8s.io/kubernetes/cmd/kubectl) || fail "compiling kubectl failed"
  mv "$out.tmp.$$" "$out"
}

build_apiserver
build_etcd
provide_kubectl
log "ready: $DEST"
