#!/usr/bin/env bash
# A real Kubernetes control plane on 127.0.0.1 for the e2e tier, built from Go modules.
#
#   cluster.sh up       build what is missing, start the cluster (no-op when it is up),
#                       last line printed: export KUBECONFIG=<path>
#   cluster.sh down     stop and delete the cluster (binaries stay cached)
#   cluster.sh build    only build the pinned binaries into the cache
#   cluster.sh status   exit 0 when the cluster answers, 1 otherwise
#   cluster.sh env      print the paths the harness uses (shell assignments)
#
# Everything lives in ${CLUSTER_CACHE:-$HOME/.cache/claude-code-operator}, outside the
# repository: bin/ (pinned binaries, each with a .<name>.version stamp), kwok/ (kwokctl's
# work dir), kubeconfig (the admin kubeconfig at a stable path).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

K8S_VERSION=v1.34.2
ETCD_VERSION=v3.6.16
KWOK_VERSION=v0.8.0
HELM_VERSION=v3.19.5
# Its CRDs only (ServiceMonitor, PodMonitor, PrometheusRule): the chart's monitoring objects are then
# validated by the API server like everything else. Taken from the Go module, so from the module proxy.
PROMETHEUS_OPERATOR_VERSION=v0.85.0
PROMETHEUS_CRDS=(servicemonitors podmonitors prometheusrules)

CACHE=${CLUSTER_CACHE:-$HOME/.cache/claude-code-operator}
BIN_DIR=$CACHE/bin
CLUSTER_NAME=${CLUSTER_NAME:-claude-code-operator}
KUBECONFIG_PATH=$CACHE/kubeconfig
LOG_DIR=$CACHE/logs
export KWOK_WORKDIR=$CACHE/kwok

GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}

log() { echo "cluster: $*" >&2; }
die() {
  echo "cluster: ERROR: $*" >&2
  exit 1
}

# ---------------------------------------------------------------- build

have() { # have NAME VERSION: the binary exists and was built at that version
  [[ -x $BIN_DIR/$1 && -f $BIN_DIR/.$1.version && $(<"$BIN_DIR/.$1.version") == "$2" ]]
}

stamp() { # stamp VERSION NAME...
  local v=$1 name
  shift
  for name in "$@"; do
    [[ -x $BIN_DIR/$name ]] || die "build produced no $BIN_DIR/$name"
    echo "$v" >"$BIN_DIR/.$name.version"
  done
}

go_env() {
  [[ -x $GO ]] || die "no Go toolchain found (set GO=/path/to/go)"
  # Modules come from the module proxy only; a 'direct' fallback would dial VCS hosts.
  local proxy=${GOPROXY:-$("$GO" env GOPROXY)}
  proxy=${proxy%,direct}
  [[ -n $proxy && $proxy != direct ]] || die "GOPROXY must name a module proxy (is: ${GOPROXY:-unset})"
  export GOPROXY=$proxy GOFLAGS="-buildvcs=false -mod=readonly" CGO_ENABLED=0
}

build_k8s() {
  local cmds=() name
  for name in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    have "$name" "$K8S_VERSION" || cmds+=("k8s.io/kubernetes/cmd/$name")
  done
  ((${#cmds[@]})) || return 0
  log "building ${cmds[*]##*/} $K8S_VERSION (cold: about 5-6 minutes)"
  local major=${K8S_VERSION#v} minor
  minor=${major#*.}
  minor=${minor%%.*}
  major=${major%%.*}
  local ld=(-s -w)
  local pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=(-X "$pkg.gitVersion=$K8S_VERSION" -X "$pkg.gitMajor=$major" -X "$pkg.gitMinor=$minor"
      -X "$pkg.gitTreeState=clean" -X "$pkg.buildDate=1970-01-01T00:00:00Z")
  done
  (cd "$HERE/k8s" && "$GO" build -trimpath -ldflags "${ld[*]}" -o "$BIN_DIR/" "${cmds[@]}")
  stamp "$K8S_VERSION" "${cmds[@]##*/}"
}

build_etcd() {
  have etcd "$ETCD_VERSION" && return 0
  log "building etcd $ETCD_VERSION"
  (cd "$HERE/etcd" && "$GO" build -trimpath -ldflags "-s -w" -o "$BIN_DIR/etcd" go.etcd.io/etcd/server/v3)
  stamp "$ETCD_VERSION" etcd
}

build_kwok() {
  have kwok "$KWOK_VERSION" && have kwokctl "$KWOK_VERSION" && return 0
  log "building kwok, kwokctl $KWOK_VERSION"
  GOBIN=$BIN_DIR GOFLAGS=-buildvcs=false "$GO" install -trimpath \
    -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}" \
    "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION"
  stamp "$KWOK_VERSION" kwok kwokctl
}

build_helm() {
  have helm "$HELM_VERSION" && return 0
  log "building helm $HELM_VERSION"
  GOBIN=$BIN_DIR GOFLAGS=-buildvcs=false "$GO" install -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  stamp "$HELM_VERSION" helm
}

build_prometheus_crds() {
  local dir=$CACHE/crds name src
  [[ -f $dir/.version && $(<"$dir/.version") == "$PROMETHEUS_OPERATOR_VERSION" ]] && return 0
  log "fetching the Prometheus Operator's CRDs $PROMETHEUS_OPERATOR_VERSION"
  src=$("$GO" mod download -json "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [[ -d $src ]] || die "go mod download gave no module directory for prometheus-operator"
  mkdir -p "$dir"
  for name in "${PROMETHEUS_CRDS[@]}"; do
    install -m 0644 "$src/example/prometheus-operator-crd/monitoring.coreos.com_$name.yaml" "$dir/"
  done
  echo "$PROMETHEUS_OPERATOR_VERSION" >"$dir/.version"
}

build() {
  mkdir -p "$BIN_DIR"
  local start=$SECONDS
  go_env
  build_k8s
  build_etcd
  build_kwok
  build_helm
  build_prometheus_crds
  log "binaries ready in $BIN_DIR ($((SECONDS - start)) s)"
}

# ---------------------------------------------------------------- cluster

KUBECTL=$BIN_DIR/kubectl
CLUSTER_DIR=$KWOK_WORKDIR/clusters/$CLUSTER_NAME

healthy() {
  [[ -x $KUBECTL && -f $KUBECONFIG_PATH ]] &&
    "$KUBECTL" --kubeconfig "$KUBECONFIG_PATH" --request-timeout=5s get --raw /readyz >/dev/null 2>&1
}

# The cluster's component pids: only those whose pid file is in this cluster's directory AND
# whose executable is one of our cached binaries (a pid file may outlive its process).
cluster_pids() {
  local pidfile pid exe
  [[ -d $CLUSTER_DIR/pids ]] || return 0
  for pidfile in "$CLUSTER_DIR"/pids/*.pid; do
    [[ -f $pidfile ]] || continue
    pid=$(<"$pidfile")
    [[ $pid =~ ^[0-9]+$ ]] || continue
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
    [[ $exe == "$BIN_DIR"/* ]] && echo "$pid"
  done
  return 0
}

# Wait (bounded) for those pids to exit after kwokctl stopped them; TERM, then KILL, stragglers.
stop_pids() {
  local pid i
  for pid in "$@"; do
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      ((i == 40)) && kill -TERM "$pid" 2>/dev/null
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "killing pid $pid, still running 20 s after it was told to stop"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
}

delete_cluster() {
  local pids pidfile
  pids=$(cluster_pids)
  # kwokctl kills whatever pid a pid file names. After a crash or a machine restart that pid may
  # belong to an unrelated process: drop every pid file that does not name one of ours.
  for pidfile in "$CLUSTER_DIR"/pids/*.pid; do
    [[ -f $pidfile ]] || continue
    grep -qxF "$(<"$pidfile")" <<<"$pids" || rm -f "$pidfile"
  done
  if [[ -x $BIN_DIR/kwokctl && -d $CLUSTER_DIR ]]; then
    "$BIN_DIR/kwokctl" delete cluster --name "$CLUSTER_NAME" --kubeconfig "$KUBECONFIG_PATH" \
      >>"$LOG_DIR/kwokctl-delete.log" 2>&1 9>&- || log "kwokctl delete cluster failed (see $LOG_DIR/kwokctl-delete.log)"
  fi
  # shellcheck disable=SC2086 # one pid per word
  stop_pids $pids
  rm -rf "$CLUSTER_DIR" "$KUBECONFIG_PATH"
}

kubectl_() { "$KUBECTL" --kubeconfig "$KUBECONFIG_PATH" --request-timeout=10s "$@"; }

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...: poll until COMMAND succeeds
  local limit=$1 what=$2
  local deadline=$((SECONDS + limit))
  shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "timed out after ${limit}s waiting for $what"
    sleep 0.5
  done
}

# What the running cluster was made from: a cluster made from an older kwok.yaml or fake-node.yaml
# lacks what the tests now rely on (e.g. port-forward), so `up` recreates it.
config_stamp() {
  { cat "$HERE/kwok.yaml" "$HERE/fake-node.yaml"; echo "$PROMETHEUS_OPERATOR_VERSION"; } | sha256sum | cut -d' ' -f1
}

up() {
  if healthy; then
    if [[ -f $CACHE/.config-stamp && $(<"$CACHE/.config-stamp") == "$(config_stamp)" ]]; then
      log "cluster $CLUSTER_NAME is already up"
      echo "export KUBECONFIG=$KUBECONFIG_PATH"
      return 0
    fi
    log "cluster $CLUSTER_NAME was made from another devkit/cluster configuration: recreating it"
  fi
  build
  mkdir -p "$LOG_DIR"
  if [[ -d $CLUSTER_DIR ]]; then
    log "removing the old cluster $CLUSTER_NAME"
    delete_cluster
  fi
  rm -f "$KUBECONFIG_PATH"
  local start=$SECONDS
  log "starting cluster $CLUSTER_NAME (kwokctl, binary runtime, 127.0.0.1)"
  # kubectl has no flag of its own; kwokctl reads it from KWOK_KUBECTL_BINARY. `9>&-`: the
  # components kwokctl leaves running must not inherit (and so hold) the lock.
  if ! KWOK_KUBECTL_BINARY=$KUBECTL "$BIN_DIR/kwokctl" create cluster \
    --name "$CLUSTER_NAME" \
    --runtime binary \
    --config "$HERE/kwok.yaml" \
    --kubeconfig "$KUBECONFIG_PATH" \
    --kube-apiserver-binary "$BIN_DIR/kube-apiserver" \
    --kube-controller-manager-binary "$BIN_DIR/kube-controller-manager" \
    --kube-scheduler-binary "$BIN_DIR/kube-scheduler" \
    --kwok-controller-binary "$BIN_DIR/kwok" \
    --etcd-binary "$BIN_DIR/etcd" \
    --wait 90s \
    --timeout 3m >"$LOG_DIR/kwokctl-create.log" 2>&1 9>&-; then
    tail -n 30 "$LOG_DIR/kwokctl-create.log" >&2
    die "kwokctl create cluster failed (full log: $LOG_DIR/kwokctl-create.log; component logs: $CLUSTER_DIR/logs/)"
  fi
  healthy || die "the apiserver does not answer after kwokctl create (logs: $CLUSTER_DIR/logs/)"
  kubectl_ apply -f "$HERE/fake-node.yaml" >&2
  kubectl_ apply --server-side -f "$CACHE/crds/" >&2
  wait_for 60 "node kwok-node-0 to be Ready" \
    kubectl_ wait --for=condition=Ready node/kwok-node-0 --timeout=5s
  wait_for 60 "the default ServiceAccount" kubectl_ get serviceaccount default -n default
  config_stamp >"$CACHE/.config-stamp"
  log "cluster $CLUSTER_NAME up in $((SECONDS - start)) s"
  echo "export KUBECONFIG=$KUBECONFIG_PATH"
}

down() {
  mkdir -p "$LOG_DIR"
  delete_cluster
  log "cluster $CLUSTER_NAME is down"
}

# One `up`/`down`/`build` at a time (make cluster and a test session may race).
lock() {
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.lock"
  flock -w 1800 9 || die "another cluster.sh holds $CACHE/.lock for 30 minutes"
}

case ${1:-} in
build) lock && build ;;
up) lock && up ;;
down) lock && down ;;
status) healthy ;;
env)
  printf 'CLUSTER_CACHE=%q\nBIN_DIR=%q\nKUBECONFIG_PATH=%q\nCLUSTER_DIR=%q\nK8S_VERSION=%q\n' \
    "$CACHE" "$BIN_DIR" "$KUBECONFIG_PATH" "$CLUSTER_DIR" "$K8S_VERSION"
  ;;
*)
  sed -n '2,13p' "$0" >&2
  exit 2
  ;;
esac
