"""The operator as a process under exactly the chart's RBAC (never admin), for e2e tests.

`install_crd` applies the generated CRD (admin, once per session). `OperatorDeployment` renders the
chart's ServiceAccount and RBAC with the cluster's helm, applies them, mints a token for the
ServiceAccount and runs `claude-code-operator run` with a kubeconfig holding only that token; its
JSON logs go to a file. Cluster-scoped RBAC objects are removed again by `close()`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from claude_code_devkit.cluster import Cluster, service_account_kubeconfig
from claude_code_devkit.paths import CHART, CRD, VENV_BIN
from claude_code_devkit.ports import free_port
from claude_code_devkit.processes import stop_process
from claude_code_devkit.waiting import wait_until

CRD_NAME = "claudecodeproviders.claudecode.dev"
INSTANCE = "app.kubernetes.io/instance"
OPERATOR = VENV_BIN / "claude-code-operator"


def install_crd(cluster: Cluster) -> None:
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRD))
    cluster.kubectl("wait", "--for=condition=Established", f"crd/{CRD_NAME}", "--timeout=60s")

    # Established can precede the resource being served by a moment.
    def served() -> bool:
        return cluster.kubectl("get", "ccp", "-A", check=False).returncode == 0

    wait_until(served, timeout=30, what="ClaudeCodeProviders to be served")


def install_peering_crds(cluster: Cluster, namespace: str) -> None:
    """The chart's crds/ (kopf's peering CRDs), as `helm install` applies them; served in `namespace`."""
    cluster.kubectl("apply", "--server-side", "-f", str(CHART / "crds" / "kopf-peerings.yaml"))
    for crd in ("kopfpeerings.kopf.dev", "clusterkopfpeerings.kopf.dev"):
        cluster.kubectl("wait", "--for=condition=Established", f"crd/{crd}", "--timeout=60s")
    wait_until(
        lambda: cluster.kubectl("get", "kopfpeerings", "-n", namespace, check=False).returncode == 0,
        timeout=30,
        what="KopfPeerings to be served",
    )


@dataclass
class OperatorDeployment:
    """The chart's RBAC in `namespace` plus any number of operator processes using it."""

    cluster: Cluster
    namespace: str
    workdir: Path
    release: str
    processes: list[OperatorProcess] = field(default_factory=list)
    kubeconfig: Path | None = None

    @property
    def service_account(self) -> str:
        return f"{self.release}-claude-code-operator"

    def install_rbac(self, *values: str) -> None:
        """`values`: extra `--set` arguments for helm (e.g. replicas=2 adds the peering rights)."""
        helm_home = self.workdir / "helm"
        rendered = self.cluster.helm(
            "template", self.release, str(CHART), "--namespace", self.namespace,
            "--show-only", "templates/serviceaccount.yaml", "--show-only", "templates/rbac.yaml",
            *(arg for value in values for arg in ("--set", value)),
            helm_home=helm_home,
        ).stdout  # fmt: skip
        manifest = self.workdir / "rbac.yaml"
        manifest.write_text(rendered)
        self.cluster.kubectl("apply", "-f", str(manifest))  # every object names its namespace (one is `default`)
        self.kubeconfig = service_account_kubeconfig(
            self.cluster, self.namespace, self.service_account, self.workdir / "operator.kubeconfig"
        )

    def start(self, *extra: str, all_namespaces: bool = False) -> OperatorProcess:
        if self.kubeconfig is None:
            self.install_rbac()
        assert self.kubeconfig is not None
        proc = OperatorProcess(
            kubeconfig=self.kubeconfig,
            log_path=self.workdir / f"operator-{len(self.processes)}.log",
            args=[
                *(["--all-namespaces"] if all_namespaces else ["--namespace", self.namespace]),
                "--operator-namespace", self.namespace,
                "--operator-labels", f"app.kubernetes.io/name=claude-code-operator,{INSTANCE}={self.release}",
                *extra,
            ],
        )  # fmt: skip
        self.processes.append(proc)
        proc.start()
        return proc

    def close(self) -> None:
        """Delete the namespace's resources while an operator still runs, and drop any finalizer left
        (a test may run an older operator); stop the processes; remove the cluster-scoped RBAC."""
        alive = any(p.popen is not None and p.popen.poll() is None for p in self.processes)
        if alive:
            self.cluster.kubectl("delete", "ccp", "--all", "-n", self.namespace, "--wait", "--timeout=60s", check=False)
        names = self.cluster.kubectl("get", "ccp", "-n", self.namespace, "-o", "name", check=False).stdout.split()
        for name in names:
            self.cluster.kubectl(
                "patch", "-n", self.namespace, name, "--type=merge", "-p", '{"metadata":{"finalizers":[]}}', check=False
            )
        for proc in self.processes:
            proc.stop()
        self.cluster.kubectl(
            "delete", "clusterrole,clusterrolebinding", f"{self.release}-claude-code-operator", "--ignore-not-found"
        )
        self.cluster.kubectl(
            "delete", "role,rolebinding", "-n", "default", f"{self.release}-claude-code-operator-api-server",
            "--ignore-not-found",
        )  # fmt: skip


@dataclass
class OperatorProcess:
    kubeconfig: Path
    log_path: Path
    args: list[str]
    popen: subprocess.Popen[bytes] | None = None
    liveness_port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)
    #: The command before the arguments (the benchmark runs it with its API requests counted).
    program: list[str] = field(default_factory=lambda: [str(OPERATOR), "run"])

    def start(self) -> None:
        env = {
            **{k: v for k, v in os.environ.items() if k != "KUBECONFIG"},
            "KUBECONFIG": str(self.kubeconfig),
        }
        peering = [] if any(a.startswith("--peering") for a in self.args) else ["--standalone"]
        cmd = [
            *self.program, *self.args, *peering,
            "--liveness", f"http://127.0.0.1:{self.liveness_port}/healthz",
            "--metrics-port", str(self.metrics_port), "--metrics-host", "127.0.0.1",
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True
            )
        wait_until(self.live, timeout=60, what=f"the operator's liveness endpoint; log:\n{self.log_tail()}")

    def live(self) -> bool:
        assert self.popen is not None
        if self.popen.poll() is not None:
            raise AssertionError(f"the operator exited {self.popen.returncode}; log:\n{self.log_tail()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.liveness_port}/healthz", timeout=5) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as response:
            return str(response.read().decode())

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.logs().splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL: an operator dying mid-work, as an OOM kill or node loss would."""
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=30)

    def stop(self) -> None:
        if self.popen is not None:
            stop_process(self.popen, timeout=20)
