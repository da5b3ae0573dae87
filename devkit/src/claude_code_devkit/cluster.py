"""The e2e tier's access to a Kubernetes cluster: start or find it, run its tools, poll with deadlines.

By default the cluster is the local one from devkit/cluster/cluster.sh (`make cluster`): a real
kube-apiserver, controller manager, scheduler and etcd with kwok's fake kubelets, all on
127.0.0.1. With E2E_KUBECONFIG=<path> the same tests run against that cluster instead (kind,
k3d, ...), where real containers run and the pod runner is off.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import yaml

from claude_code_devkit.paths import CLUSTER_SCRIPT

EXPECTED_K8S_VERSION = "v1.34.2"
LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
#: Cold builds take about 9 minutes on 2 cores; leave room for a slow machine.
CLUSTER_UP_TIMEOUT = 40 * 60

T = TypeVar("T")


class ClusterUnavailable(RuntimeError):
    """No cluster could be had; the message says why (and the e2e tests fail with it)."""


def cluster_paths() -> dict[str, str]:
    """The cache paths cluster.sh uses (CLUSTER_CACHE, BIN_DIR, KUBECONFIG_PATH, ...)."""
    out = subprocess.run(
        ["bash", str(CLUSTER_SCRIPT), "env"], check=True, capture_output=True, text=True, timeout=30
    ).stdout
    paths = {}
    for line in out.splitlines():
        key, _, value = line.partition("=")
        paths[key] = value
    return paths


@dataclass(frozen=True)
class Cluster:
    kubeconfig: Path
    bin_dir: Path
    #: True for the local kwok cluster: pods run no containers (the pod runner starts them),
    #: every pod IP must be loopback, and the versions are the pinned ones.
    local: bool

    def tool(self, name: str) -> str:
        """A cached binary built by cluster.sh; against an external cluster PATH may supply it."""
        cached = self.bin_dir / name
        if cached.is_file():
            return str(cached)
        if not self.local:
            found = shutil.which(name)
            if found:
                return found
        raise ClusterUnavailable(f"{name} is not built in {self.bin_dir} (run `make cluster`)")

    def run(
        self,
        tool: str,
        *args: str,
        kubeconfig: Path | None = None,
        check: bool = True,
        timeout: float = 120,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        cmd = [self.tool(tool), *args]
        full_env = {**os.environ, **(env or {}), "KUBECONFIG": str(kubeconfig or self.kubeconfig)}
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full_env, check=False)
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(cmd)} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    def kubectl(self, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return self.run("kubectl", "--request-timeout=30s", *args, **kw)

    def run_quoted(self, message: str, lead: str) -> str:
        """Runs the kubectl command a status message quotes after `lead` (as a user pastes it); returns it."""
        command = message.split(f"{lead}: `", 1)[1].split("`", 1)[0]
        self.kubectl(*command.split()[1:])
        return command

    def helm(self, *args: str, helm_home: Path, **kw: Any) -> subprocess.CompletedProcess[str]:
        env = {
            "HELM_CACHE_HOME": str(helm_home / "cache"),
            "HELM_CONFIG_HOME": str(helm_home / "config"),
            "HELM_DATA_HOME": str(helm_home / "data"),
        }
        return self.run("helm", *args, env=env, **kw)


def start_local_cluster(stream: IO[str] | None = None, build_env: Mapping[str, str] | None = None) -> Path:
    """Build the pinned binaries when missing, then `cluster.sh up`; returns the admin kubeconfig.

    The build downloads Go modules, so it runs with `build_env` (the environment from before the tests'
    network isolation); the cluster itself starts under the isolation like everything else.
    """
    if not CLUSTER_SCRIPT.is_file():
        raise ClusterUnavailable(f"{CLUSTER_SCRIPT} is missing")
    stream = stream or sys.stderr
    _run_cluster_script("build", stream, build_env)
    stdout = _run_cluster_script("up", stream, None)
    last = stdout.strip().splitlines()[-1] if stdout.strip() else ""
    prefix = "export KUBECONFIG="
    if not last.startswith(prefix):
        raise ClusterUnavailable(f"`{CLUSTER_SCRIPT} up` did not print {prefix}...; stdout was {stdout!r}")
    return Path(last[len(prefix) :])


def _run_cluster_script(command: str, stream: IO[str], env: Mapping[str, str] | None) -> str:
    """Run `cluster.sh COMMAND`, streaming its stderr; returns its stdout or raises ClusterUnavailable."""
    proc = subprocess.Popen(
        ["bash", str(CLUSTER_SCRIPT), command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
        env=None if env is None else dict(env),
        start_new_session=True,  # its own process group: a timeout stops the builds it runs too
    )
    stderr_tail: list[str] = []
    stdout_lines: list[str] = []

    def pump_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            stream.write(line)
            stream.flush()
            stderr_tail.append(line)
            del stderr_tail[:-40]

    def pump_stdout() -> None:
        assert proc.stdout is not None
        stdout_lines.extend(proc.stdout)

    pumps = [threading.Thread(target=f, daemon=True) for f in (pump_stderr, pump_stdout)]
    for pump in pumps:
        pump.start()
    timed_out = False
    try:
        proc.wait(timeout=CLUSTER_UP_TIMEOUT)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    for pump in pumps:
        pump.join(timeout=10)
    if timed_out:
        raise ClusterUnavailable(
            f"`{CLUSTER_SCRIPT} {command}` did not finish within {CLUSTER_UP_TIMEOUT} s; "
            f"its last output:\n{''.join(stderr_tail)}"
        )
    if proc.returncode != 0:
        raise ClusterUnavailable(
            f"`{CLUSTER_SCRIPT} {command}` exited {proc.returncode}; its last output:\n{''.join(stderr_tail)}"
        )
    return "".join(stdout_lines)


_cluster: Cluster | ClusterUnavailable | None = None


def ensure_cluster(stream: IO[str] | None = None, build_env: Mapping[str, str] | None = None) -> Cluster:
    """The cluster for this test session, started once; raises ClusterUnavailable with the reason.

    `build_env` is the environment for building the cluster's binaries (see `start_local_cluster`).
    """
    global _cluster  # noqa: PLW0603 - one cluster per process
    if _cluster is None:
        try:
            _cluster = _find_or_start(stream, build_env)
        except ClusterUnavailable as exc:
            _cluster = exc
        except (OSError, subprocess.SubprocessError) as exc:
            _cluster = ClusterUnavailable(f"starting the cluster failed: {exc!r}")
    if isinstance(_cluster, ClusterUnavailable):
        raise _cluster
    return _cluster


def _find_or_start(stream: IO[str] | None, build_env: Mapping[str, str] | None) -> Cluster:
    bin_dir = Path(cluster_paths()["BIN_DIR"])
    external = os.environ.get("E2E_KUBECONFIG")
    if external:
        path = Path(external).expanduser()
        if not path.is_file():
            raise ClusterUnavailable(f"E2E_KUBECONFIG={external} is not a file")
        return Cluster(kubeconfig=path, bin_dir=bin_dir, local=False)
    return Cluster(kubeconfig=start_local_cluster(stream, build_env), bin_dir=bin_dir, local=True)


# ---------------------------------------------------------------- kubeconfigs


def _current_cluster_entry(kubeconfig: Path) -> dict[str, Any]:
    config = yaml.safe_load(kubeconfig.read_text())
    context_name = config.get("current-context")
    contexts = {c["name"]: c["context"] for c in config.get("contexts", [])}
    clusters = {c["name"]: c["cluster"] for c in config.get("clusters", [])}
    if context_name not in contexts:
        raise ValueError(f"{kubeconfig}: current-context {context_name!r} not found")
    entry = dict(clusters[contexts[context_name]["cluster"]])
    ca = entry.get("certificate-authority")
    if ca and not os.path.isabs(ca):
        entry["certificate-authority"] = str((kubeconfig.parent / ca).resolve())
    return entry


def write_token_kubeconfig(admin_kubeconfig: Path, token: str, path: Path, namespace: str) -> Path:
    """A kubeconfig for the admin kubeconfig's cluster that authenticates with `token` alone."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "e2e", "cluster": _current_cluster_entry(admin_kubeconfig)}],
        "users": [{"name": "token", "user": {"token": token}}],
        "contexts": [{"name": "e2e", "context": {"cluster": "e2e", "user": "token", "namespace": namespace}}],
        "current-context": "e2e",
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def service_account_kubeconfig(
    cluster: Cluster, namespace: str, service_account: str, path: Path, duration: str = "1h"
) -> Path:
    """Mint a token for the ServiceAccount (`kubectl create token`) and write a kubeconfig with it,
    so code runs with exactly the RBAC granted to that account."""
    token = cluster.kubectl("create", "token", service_account, "-n", namespace, f"--duration={duration}")
    return write_token_kubeconfig(cluster.kubeconfig, token.stdout.strip(), path, namespace)


def non_loopback_pod_ips(pods: Sequence[Any]) -> list[str]:
    """`ns/name=ip` for every pod whose IP is set and outside 127.0.0.0/8."""
    bad = []
    for pod in pods:
        ip = pod.status.pod_ip if pod.status else None
        if ip and ipaddress.ip_address(ip) not in LOOPBACK:
            bad.append(f"{pod.metadata.namespace}/{pod.metadata.name}={ip}")
    return bad
