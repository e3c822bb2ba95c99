#!/usr/bin/env bash
# Produces what a real single-node Kubernetes needs besides the control plane of
# scripts/kube-test-binaries.sh (which it runs first):
#   ~/.kubeapitest/k8s/<K8S_VERSION>-linux-amd64/{kubelet,kube-controller-manager,kube-scheduler,kube-proxy,
#                                                 pause,netns-forward,coredns,kube-router}
# and, from Debian's packages when missing: containerd, runc, the CNI plugins (bridge, host-local,
# loopback, portmap under /usr/lib/cni), iptables, ipset, conntrack and a static busybox (test images).
# kube-router runs only its network-policy controller on the node (the bridge plugin enforces no
# NetworkPolicy).
#
# Nothing is downloaded as a prebuilt binary: the four Kubernetes components are compiled with the
# machine's Go from Go modules (GOTOOLCHAIN=local, CGO_ENABLED=0; the same wrapper-module recipe as
# kube-apiserver), and `pause` (the sandbox image's only program) is a few lines of Go. Idempotent:
# binaries that report the right version are kept. Two runs at once take turns (a lock), and every
# output is written to a file of its own run first and renamed into place.
#
# Usage: scripts/kube-node-binaries.sh [--print-dir] [--no-apt]
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
K8S_VERSION="${K8S_VERSION:-$(sed -n 's#.*<kube.version>\(.*\)</kube.version>.*#\1#p' "$HERE/pom.xml")}"
[[ -n "$K8S_VERSION" ]] || { echo "[kube-node-binaries] ERROR: no <kube.version> in $HERE/pom.xml" >&2; exit 1; }
COREDNS_VERSION="${COREDNS_VERSION:-1.12.1}"   # github.com/coredns/coredns; its client-go is v0.32
# github.com/cloudnativelabs/kube-router/v2: the newest v2 the Go module proxy serves (asked on
# 2026-12-05: `go list -m -versions` lists only v2.1.0; v2.4.1, v2.5.0, v2.6.1 answer "not available").
KUBE_ROUTER_VERSION="${KUBE_ROUTER_VERSION:-2.1.0}"
ROOT="${KUBEAPITEST_DIR:-$HOME/.kubeapitest}"
DEST="$ROOT/k8s/${K8S_VERSION}-linux-amd64"
WORK="${KMESOS_CACHE:-$HOME/.cache/kmesos}/kube-build"
COMPONENTS=(kubelet kube-controller-manager kube-scheduler kube-proxy)
# Debian package -> a file it installs (what tells us it is there).
PACKAGES=(containerd:/usr/bin/containerd runc:/usr/sbin/runc
  containernetworking-plugins:/usr/lib/cni/bridge iptables:/usr/sbin/iptables
  conntrack:/usr/sbin/conntrack busybox-static:/bin/busybox ipset:/usr/sbin/ipset)

log()  { printf '[kube-node-binaries] %s\n' "$*" >&2; }
fail() { printf '[kube-node-binaries] ERROR: %s\n' "$*" >&2; exit 1; }

APT=1
for a; do
  case "$a" in
    --print-dir) echo "$DEST"; exit 0 ;;
    --no-apt) APT=0 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) fail "unknown argument '$a' (expected --print-dir, --no-apt or --help)" ;;
  esac
done

mkdir -p "$DEST" "$WORK"
# Two runs at once (two CI jobs, a test beside kmesos-local) take turns: the second one then finds
# everything built and only checks versions.
exec 9>"$WORK/.kube-node-binaries.lock"
flock 9

"$HERE/scripts/kube-test-binaries.sh"

have_version() { # binary, expected substring
  [[ -x "$1" ]] && "$1" --version 2>/dev/null | grep -q -- "$2"
}

install_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do [[ -e "${p#*:}" ]] || missing+=("${p%%:*}"); done
  if [[ ${#missing[@]} -eq 0 ]]; then log "Debian packages: present"; return; fi
  [[ $APT == 1 ]] || fail "missing Debian packages: ${missing[*]} (run without --no-apt, or apt-get install them)"
  command -v apt-get >/dev/null || fail "missing ${missing[*]} and there is no apt-get to install them"
  log "apt-get install ${missing[*]}"
  local opts=(-y -q --no-install-recommends -o DPkg::Lock::Timeout=600)
  (DEBIAN_FRONTEND=noninteractive apt-get install "${opts[@]}" "${missing[@]}" >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install "${opts[@]}" "${missing[@]}" >/dev/null; }) \
    || fail "apt-get install ${missing[*]} failed"
  # Debian's containerd package would start a system containerd where there is systemd; the node
  # runs its own, with its own sockets and directories.
  if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
    systemctl disable --now containerd >/dev/null 2>&1 || true
  fi
  for p in "${PACKAGES[@]}"; do [[ -e "${p#*:}" ]] || fail "${p%%:*} installed, yet ${p#*:} is missing"; done
}

build_components() {
  local c todo=() minor="${K8S_VERSION#*.}"; minor="${minor%%.*}"
  for c in "${COMPONENTS[@]}"; do
    if have_version "$DEST/$c" "v${K8S_VERSION}"; then log "$c v${K8S_VERSION}: present"; else todo+=("$c"); fi
  done
  [[ ${#todo[@]} -gt 0 ]] || return 0
  command -v go >/dev/null || fail "Go is not installed (needed to build ${todo[*]} from Go modules)"
  export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
  # The API server's wrapper module (kube-test-binaries.sh) already pins every staging module to its
  # published tag; the node module starts from its go.mod and go.sum so that tidy only adds the
  # node's own dependencies.
  local api="$WORK/apiserver-${K8S_VERSION}" dir="$WORK/node-${K8S_VERSION}"
  [[ -f "$api/go.mod" ]] || fail "no $api/go.mod: scripts/kube-test-binaries.sh did not prepare it"
  mkdir -p "$dir"
  if [[ ! -f "$dir/go.sum" ]]; then
    sed 's#^module .*#module kmesos.local/kube-node-build#' "$api/go.mod" > "$dir/go.mod"
    cp "$api/go.sum" "$dir/go.sum"
  fi
  {
    echo '//go:build tools'
    echo
    echo 'package tools'
    echo
    echo 'import ('
    for c in "${COMPONENTS[@]}"; do echo "	_ \"k8s.io/kubernetes/cmd/$c\""; done
    echo ')'
  } > "$dir/tools.go"
  log "node components: go mod tidy (resolves the kubelet's own modules on the first run)"
  (cd "$dir" && go mod tidy -e > tidy.log 2>&1) || true
  # The module proxy may refuse a staging module's newest patch tag (seen: k8s.io/endpointslice
  # v0.32.13 answered 403 "not available" while v0.32.12 was there; kube-controller-manager needs
  # it). Such a module is pinned to the newest v0.<minor>.N the proxy has, and tidy runs again.
  local m avail pinned=0
  for m in $(sed -n 's#.*\(k8s\.io/[a-z0-9-]*\)@v[0-9.]*: reading.*\(403\|not available\|404\).*#\1#p' "$dir/tidy.log" | sort -u); do
    avail=$(cd "$dir" && go list -m -versions "$m" 2>/dev/null | tr ' ' '\n' | grep -E "^v0\.${minor}\.[0-9]+$" | sort -t. -k3 -n | tail -1)
    [[ -n "$avail" ]] || fail "the Go module proxy has no $m v0.${minor}.x (details in $dir/tidy.log)"
    log "node components: the proxy lacks $m v0.${K8S_VERSION#*.}; pinning $m $avail"
    (cd "$dir" && go mod edit -replace "$m=$m@$avail")
    pinned=1
  done
  if [[ $pinned == 1 ]]; then (cd "$dir" && go mod tidy -e > tidy.log 2>&1) || true; fi
  for c in "${todo[@]}"; do
    log "$c: compiling (minutes on 2 cores with a cold Go cache)"
    (cd "$dir" && go build -trimpath -o "$DEST/.$c.tmp.$$" \
        -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=v${K8S_VERSION} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor} -X k8s.io/component-base/version.gitTreeState=clean" \
        "k8s.io/kubernetes/cmd/$c") || { rm -f "$DEST/.$c.tmp.$$"; fail "compiling $c v${K8S_VERSION} failed (go mod tidy said: $dir/tidy.log)"; }
    mv -f "$DEST/.$c.tmp.$$" "$DEST/$c"
    have_version "$DEST/$c" "v${K8S_VERSION}" || fail "built $c does not report v${K8S_VERSION}"
    log "$c: built $DEST/$c"
  done
}

# The sandbox ("pause") image's program: holds the Pod's namespaces, exits on TERM/INT, reaps
# orphans if it is PID 1 of a shared PID namespace. Built here so that no image is ever pulled.
build_pause() {
  local out="$DEST/pause" dir="$WORK/pause"
  if [[ -x "$out" ]] && "$out" --version 2>/dev/null | grep -q "kmesos-pause 1"; then log "pause: present"; return; fi
  command -v go >/dev/null || fail "Go is not installed (needed to build the pause program)"
  mkdir -p "$dir"
  printf 'module kmesos.local/pause\n\ngo 1.21\n' > "$dir/go.mod"
  cat > "$dir/main.go" <<'GO'
// The sandbox container's only program: it holds a Pod's namespaces until the kubelet stops it.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--version" {
		fmt.Println("kmesos-pause 1")
		return
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	child := make(chan os.Signal, 16)
	signal.Notify(child, syscall.SIGCHLD)
	for {
		select {
		case <-stop:
			return
		case <-child:
			for {
				var ws syscall.WaitStatus
				if pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil); pid <= 0 || err != nil {
					break
				}
			}
		}
	}
}
GO
  (cd "$dir" && GOTOOLCHAIN=local CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out.tmp.$$" .) \
    || { rm -f "$out.tmp.$$"; fail "compiling the pause program failed"; }
  mv -f "$out.tmp.$$" "$out"
  log "pause: built $out"
}

# netns-forward: accepts TCP connections on 127.0.0.1 of the namespace it is started in (the
# host's) and connects each one to an address inside a network namespace (the node's), so that a
# test JVM reaches the node's API server or a NodePort without any address or route being added to
# the host. Each connection is dialed from an OS thread moved into the node's namespace (setns).
build_forward() {
  local out="$DEST/netns-forward" dir="$WORK/netns-forward"
  if [[ -x "$out" ]] && "$out" --version 2>/dev/null | grep -q "kmesos-netns-forward 1"; then log "netns-forward: present"; return; fi
  command -v go >/dev/null || fail "Go is not installed (needed to build netns-forward)"
  mkdir -p "$dir"
  printf 'module kmesos.local/netns-forward\n\ngo 1.21\n' > "$dir/go.mod"
  cat > "$dir/main.go" <<'GO'
// Forwards TCP connections from 127.0.0.1 of the caller's network namespace into another one.
//
//	netns-forward --netns /run/netns/NAME --to 10.213.0.2:6443 [--listen 127.0.0.1:0] [--port-file F]
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"runtime"
	"strconv"
	"syscall"
)

const sysSetns = 308 // x86_64

func main() {
	version := flag.Bool("version", false, "print the version")
	netns := flag.String("netns", "", "network namespace file, e.g. /run/netns/kmesos-node-1234abcd")
	to := flag.String("to", "", "address inside that namespace, e.g. 10.213.0.2:6443")
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on, in this process' own namespace")
	portFile := flag.String("port-file", "", "file to write the listening port to, once listening")
	flag.Parse()
	if *version {
		fmt.Println("kmesos-netns-forward 1")
		return
	}
	if *netns == "" || *to == "" {
		log.Fatal("--netns and --to are required")
	}
	ns, err := os.Open(*netns)
	if err != nil {
		log.Fatalf("cannot open the network namespace: %v", err)
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("cannot listen on %s: %v", *listen, err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if *portFile != "" {
		tmp := *portFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(strconv.Itoa(port)+"\n"), 0o644); err != nil {
			log.Fatal(err)
		}
		if err := os.Rename(tmp, *portFile); err != nil {
			log.Fatal(err)
		}
	}
	log.Printf("forwarding 127.0.0.1:%d -> %s in %s", port, *to, *netns)
	for {
		c, err := l.Accept()
		if err != nil {
			log.Fatalf("accept: %v", err)
		}
		go forward(c, int(ns.Fd()), *to)
	}
}

func forward(c net.Conn, ns int, to string) {
	defer c.Close()
	// The dial happens on a thread moved into the target namespace; the thread is never unlocked,
	// so the Go runtime discards it when this goroutine ends instead of reusing it elsewhere.
	u, err := dialIn(ns, to)
	if err != nil {
		log.Printf("dial %s: %v", to, err)
		return
	}
	defer u.Close()
	done := make(chan struct{}, 2)
	go func() { io.Copy(u, c); u.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	go func() { io.Copy(c, u); c.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	<-done
	<-done
}

func dialIn(ns int, to string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	r := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		if _, _, e := syscall.RawSyscall(sysSetns, uintptr(ns), syscall.CLONE_NEWNET, 0); e != 0 {
			r <- result{nil, fmt.Errorf("setns: %v", e)}
			return
		}
		c, err := net.Dial("tcp", to)
		r <- result{c, err}
	}()
	res := <-r
	return res.c, res.err
}
GO
  (cd "$dir" && GOTOOLCHAIN=local CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out.tmp.$$" .) \
    || { rm -f "$out.tmp.$$"; fail "compiling netns-forward failed"; }
  mv -f "$out.tmp.$$" "$out"
  log "netns-forward: built $out"
}

# CoreDNS for the node's cluster DNS (kmesos' manifests name their peers by DNS:
# kmesos-replica-0.kmesos-replica, kmesos-master.<ns>.svc). Built from Go modules with only the
# plugins a test node needs, which leaves out the cloud back ends and their SDKs.
build_coredns() {
  local out="$DEST/coredns" dir="$WORK/coredns-${COREDNS_VERSION}"
  if [[ -x "$out" ]] && "$out" --kmesos-version 2>/dev/null | grep -q "kmesos-coredns ${COREDNS_VERSION}"; then
    log "coredns ${COREDNS_VERSION}: present"; return
  fi
  command -v go >/dev/null || fail "Go is not installed (needed to build CoreDNS from Go modules)"
  mkdir -p "$dir"
  printf 'module kmesos.local/coredns-build\n\ngo 1.23.0\n\nrequire github.com/coredns/coredns v%s\n' "$COREDNS_VERSION" > "$dir/go.mod"
  cat > "$dir/main.go" <<'GO'
// CoreDNS with only the plugins a test node's cluster DNS needs (no cloud back ends).
package main

import (
	"fmt"
	"os"

	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

func init() {
	// The order the plugins run in: CoreDNS' plugin.cfg order, restricted to these.
	dnsserver.Directives = []string{"ready", "health", "errors", "log", "loadbalance", "cache", "kubernetes"}
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--kmesos-version" {
		fmt.Println("kmesos-coredns " + coremain.CoreVersion)
		return
	}
	coremain.Run()
}
GO
  log "coredns ${COREDNS_VERSION}: building from Go modules (minutes on 2 cores)"
  (cd "$dir" && GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod go mod tidy > tidy.log 2>&1 \
    && GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$out.tmp.$$" .) \
    || { rm -f "$out.tmp.$$"; fail "building CoreDNS ${COREDNS_VERSION} failed (see $dir/tidy.log)"; }
  mv -f "$out.tmp.$$" "$out"
  log "coredns: built $out"
}

# kube-router, of which the node runs only the network-policy controller (`--run-firewall`): it
# turns NetworkPolicies into iptables rules and ipsets in the node's network namespace. Built from
# Go modules like CoreDNS; a dependency the module proxy refuses (403/404 "not available", as it did
# for a k8s.io staging tag) is pinned to the newest patch of the same minor version it has.
build_kube_router() {
  local out="$DEST/kube-router" dir="$WORK/kube-router-${KUBE_ROUTER_VERSION}"
  local mod=github.com/cloudnativelabs/kube-router/v2
  if [[ -x "$out" ]] && "$out" --version 2>&1 | grep -q "version v${KUBE_ROUTER_VERSION}, "; then
    log "kube-router v${KUBE_ROUTER_VERSION}: present"; return
  fi
  command -v go >/dev/null || fail "Go is not installed (needed to build kube-router from Go modules)"
  export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
  mkdir -p "$dir"
  if [[ ! -f "$dir/go.mod" ]]; then
    printf 'module kmesos.local/kube-router-build\n\ngo 1.21\n\nrequire %s v%s\n' "$mod" "$KUBE_ROUTER_VERSION" > "$dir/go.mod"
  fi
  printf '//go:build tools\n\npackage tools\n\nimport _ "%s/cmd/kube-router"\n' "$mod" > "$dir/tools.go"
  log "kube-router v${KUBE_ROUTER_VERSION}: building from Go modules (minutes on 2 cores with a cold Go cache)"
  (cd "$dir" && go mod tidy -e > tidy.log 2>&1) || true
  if grep -q "${mod}@v${KUBE_ROUTER_VERSION}: .*\(403\|404\|not available\)" "$dir/tidy.log"; then
    fail "the Go module proxy does not serve $mod v${KUBE_ROUTER_VERSION} (it has: $(cd "$dir" && go list -m -versions "$mod" 2>/dev/null | cut -d' ' -f2-))"
  fi
  local m v avail pinned=0
  while read -r m v; do
    [[ -n "$m" && "$m" != "$mod" ]] || continue
    local mm="${v%.*}"
    avail=$(cd "$dir" && go list -m -versions "$m" 2>/dev/null | tr ' ' '\n' | grep -E "^${mm//./\\.}\.[0-9]+$" | sort -t. -k3 -n | tail -1)
    [[ -n "$avail" && "$avail" != "$v" ]] || fail "the Go module proxy has no usable $m ${mm}.x (details in $dir/tidy.log)"
    log "kube-router: the proxy lacks $m $v; pinning $m $avail"
    (cd "$dir" && go mod edit -replace "$m=$m@$avail")
    pinned=1
  done < <(sed -n 's#.* \([a-zA-Z0-9./_-]*\)@\(v[0-9][0-9.]*\): reading.*\(403\|not available\|404\).*#\1 \2#p' "$dir/tidy.log" | sort -u)
  if [[ $pinned == 1 ]]; then (cd "$dir" && go mod tidy -e > tidy.log 2>&1) || true; fi
  (cd "$dir" && go build -trimpath -o "$out.tmp.$$" \
      -ldflags "-s -w -X $mod/pkg/version.Version=v${KUBE_ROUTER_VERSION} -X $mod/pkg/version.BuildDate=go-modules" \
      "$mod/cmd/kube-router") \
    || { rm -f "$out.tmp.$$"; fail "compiling kube-router v${KUBE_ROUTER_VERSION} failed (go mod tidy said: $dir/tidy.log)"; }
  mv -f "$out.tmp.$$" "$out"
  "$out" --version 2>&1 | grep -q "version v${KUBE_ROUTER_VERSION}, " || fail "built kube-router does not report v${KUBE_ROUTER_VERSION}"
  log "kube-router: built $out"
}

install_packages
build_components
build_pause
build_forward
build_coredns
build_kube_router
log "ready: $DEST"
