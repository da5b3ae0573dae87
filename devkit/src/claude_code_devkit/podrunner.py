"""Runs the containers of kwok's fake pods as local processes.

kwok reports pods Running without running anything. For the end-to-end tier the pod runner
closes that gap: for every pod that kwok reports Running it starts each container whose program
maps to a local one (the runtime `claude-code-runtime` and `litellm` from the repository's
.venv/bin, test stand-ins), as processes on this machine, with

- the container's environment (`env` values, `valueFrom` secretKeyRef / configMapKeyRef /
  fieldRef resolved from the API, `envFrom`);
- the pod's network emulated: every pod shares this machine's loopback, so the pod's loopback
  and its pod network are both the pod's own IP (127.100.x.y). The literal addresses `0.0.0.0`
  and `127.0.0.1` in args and env values become the pod IP (`--host 0.0.0.0` listens on the pod
  IP, `http://127.0.0.1:8081` reaches the sibling container), and `POD_IP`,
  `CLAUDE_RUNTIME_LISTEN_HOST` and `CLAUDE_RUNTIME_API_HOST` are set to it (see
  `default_pod_overrides`; the test's `pod_overrides` are applied last and never rewritten);
- `kubectl port-forward` to the pod (or a Service over it) reaching those processes: a kwok
  PortForward object per pod names the pod IP as the target of each declared container port;
- the pod's Secret and ConfigMap volumes written once per pod to a temp dir (mode 0400 unless
  `items[].mode` / `defaultMode` say otherwise), emptyDir volumes as writable dirs shared by the
  containers that mount them, and every occurrence of a mountPath in the command, args, env
  values and workingDir rewritten to the local dir;
- a pod with `automountServiceAccountToken: true` gets `KUBECONFIG` (every container) naming a file
  with a TokenRequest token of its ServiceAccount for the cluster of the runner's client: there is no
  in-cluster mount here, and the code in the pod runs with exactly that account's RBAC.
  The token is not bound to the pod: kwok removes a deleted pod at once, where a kubelet keeps it (and
  its bound token valid) until the containers have stopped, which a pod's last API call needs. A
  projected volume with a `serviceAccountToken` source gives that `KUBECONFIG` to the containers that
  mount it, and to no other container;
- the program named by the command mapped by `resolve_program`: an explicit `programs` mapping
  first, then the repository's `.venv/bin/`. Nothing else runs: a container without a command
  or whose program has no local counterpart (a `pause` image, `sh`) is skipped and reported.

It stops every process of a pod (SIGTERM to each process group, SIGKILL after a deadline) when
the pod goes away or is being deleted, and all of them when the runner closes. `describe()`
reports per container what runs, what exited with which code and what was skipped and why.
The loop polls the API from a background thread; it is bounded by `max_lifetime` and stops on
`close()`. With `namespace_selector`, only pods in namespaces carrying those labels run, so
test sessions sharing one cluster never start each other's pods.

Pod IPs outside 127.0.0.0/8 are refused loudly: nothing here ever dials a non-loopback address.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from claude_code_devkit.buildah import Container
from claude_code_devkit.image_runtime import (
    Accounts,
    ContainerPlanError,
    Mount,
    WorkingContainers,
    apply_fs_group,
    kubernetes_argv,
    plan_container,
    working_container_name,
)
from claude_code_devkit.paths import REPO, VENV_BIN
from claude_code_devkit.processes import stop_process

log = logging.getLogger(__name__)


#: The product's in-pod runtime (console script of provider/). When `.venv/bin/` has it,
#: pods whose command names it run the real thing; see `resolve_program`.
RUNTIME_PROGRAM = "claude-code-runtime"

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
_VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
# The two addresses that mean "this pod" inside a pod, as whole addresses (not 127.0.0.10, 10.0.0.0.0).
_POD_LOCAL_ADDRESS = re.compile(r"(?<![\d.])(?:0\.0\.0\.0|127\.0\.0\.1)(?![\d]|\.\d)")
# tests/conftest.py's isolation settings (proxies pointing at a closed loopback port, no telemetry),
# inherited by every container, so a local "pod" cannot reach further than tests.
_ISOLATION_KEYS = (
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "https_proxy",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC",
    "DISABLE_AUTOUPDATER",
)
# A .venv container also inherits the basics of the test process (an image has its own).
_BASE_ENV_KEYS = ("PATH", "LANG", "LC_ALL", "TZ", "SSL_CERT_FILE", "SSL_CERT_DIR", *_ISOLATION_KEYS)
_HOST_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


class PodRunnerError(RuntimeError):
    """A pod could not be started locally; the message says why."""


def is_loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip) in LOOPBACK
    except ValueError:
        return False


def runtime_available() -> bool:
    """True once provider/ installs the real runtime into the repository's .venv."""
    return (VENV_BIN / RUNTIME_PROGRAM).exists()


def resolve_program(
    name: str, programs: Mapping[str, Sequence[str]] | None = None, search_dirs: Sequence[Path] = (VENV_BIN,)
) -> list[str]:
    """Map the program a container names to an argv prefix on this machine.

    The hook for swapping programs: `programs` maps a name (the command's basename) to an argv
    prefix, e.g. a stand-in; next come `search_dirs` (the repository's .venv/bin/ by default,
    where `claude-code-runtime` and `litellm` are installed). Not PATH: a pod's `sh -c ...` or
    `sleep` must not run on this machine.
    """
    base = os.path.basename(name)
    if programs and base in programs:
        return list(programs[base])
    for directory in search_dirs:
        candidate = Path(directory) / base
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return [str(candidate)]
    raise PodRunnerError(
        f"no local program for {name!r} (looked in {sorted(programs or {})} and {[str(d) for d in search_dirs]})"
    )


def rewrite_pod_addresses(value: str, pod_ip: str) -> str:
    """`0.0.0.0` and `127.0.0.1` (whole addresses) become the pod's IP; see the module doc."""
    return _POD_LOCAL_ADDRESS.sub(pod_ip, value)


def expand_refs(value: str, env: Mapping[str, str]) -> str:
    """Kubernetes' $(VAR) expansion: defined names are replaced, $$ escapes, others stay."""

    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return _VAR_REF.sub(sub, value)


@dataclass
class RunningContainer:
    """One container of a pod, run as a local process."""

    name: str
    argv: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log_path: Path
    mounts: dict[str, Path] = field(default_factory=dict)
    image: str | None = None  # the image it runs from (image mode), else a local program
    working_container: Container | None = None  # the image's buildah working container, removed at stop
    user: tuple[int, int] | None = None  # (uid, gid) it runs as in image mode; a local program runs as ours

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def describe(self, tail: int = 2000) -> str:
        code = self.process.poll()
        state = f"running as pid {self.pid}" if code is None else f"exited with code {code}"
        origin = f"{self.argv[0]} from image {self.image}" if self.image else self.argv[0]
        return f"container {self.name} ({origin}): {state}; output:\n{self.output()[-tail:]}"


@dataclass
class RunningPod:
    """The local processes of one pod: its runnable containers, and why the others do not run."""

    namespace: str
    name: str
    uid: str
    pod_ip: str
    workdir: Path
    containers: dict[str, RunningContainer]
    skipped: dict[str, str] = field(default_factory=dict)  # container -> why it does not run here
    stopped_because: str | None = None

    def container(self, name: str) -> RunningContainer:
        if name not in self.containers:
            raise KeyError(f"{self.namespace}/{self.name} runs no container {name!r}; {self.describe()}")
        return self.containers[name]

    def alive(self) -> bool:
        """Every container it runs is still running."""
        return all(c.alive() for c in self.containers.values())

    def stopped(self) -> bool:
        """None of its containers is running any more."""
        return not any(c.alive() for c in self.containers.values())

    def describe(self, tail: int = 2000) -> str:
        lines = [
            f"pod {self.namespace}/{self.name} on {self.pod_ip}"
            + (f", stopped: {self.stopped_because}" if self.stopped_because else "")
        ]
        lines += [c.describe(tail) for c in self.containers.values()]
        lines += [f"container {name}: not run: {why}" for name, why in self.skipped.items()]
        return "\n".join(lines)


class PodRunner:
    """Starts the runnable containers of Running pods as local processes; see the module doc."""

    def __init__(
        self,
        api_client: client.ApiClient,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        namespace_selector: str | None = None,
        programs: Mapping[str, Sequence[str]] | None = None,
        search_dirs: Sequence[Path] = (VENV_BIN,),
        pod_overrides: Callable[[Any], Mapping[str, str]] | None = None,
        pod_files: Callable[[Any], Sequence[Path]] | None = None,
        poll_interval: float = 0.3,
        stop_timeout: float = 5.0,
        max_lifetime: float = 3600.0,
        base_dir: Path | None = None,
        images: Collection[str] = frozenset(),
    ) -> None:
        """`images`: containers naming one of these images run from its root filesystem (image mode,
        see image_runtime), every other container from a local program (`programs`, `search_dirs`).
        `pod_files`: host files (a test's CA) every container of the pod sees at the same path, read-only,
        as files a node mounts into its pods: bind-mounted into an image's root, a local program has them."""
        self._core = client.CoreV1Api(api_client)
        self._custom = client.CustomObjectsApi(api_client)
        self.namespace = namespace
        self.label_selector = label_selector
        self.namespace_selector = namespace_selector
        self.programs = dict(programs or {})
        self.search_dirs = tuple(search_dirs)
        self.pod_overrides = pod_overrides
        self.pod_files = pod_files
        self.poll_interval = poll_interval
        self.stop_timeout = stop_timeout
        self.max_lifetime = max_lifetime
        self.images = frozenset(images)
        self._working = WorkingContainers()
        self._base_dir = Path(tempfile.mkdtemp(prefix="podrunner-", dir=base_dir))
        self._lock = threading.Lock()
        self._running: dict[str, RunningPod] = {}  # by pod uid
        self._finished: list[RunningPod] = []
        self._failed: dict[str, str] = {}  # pod uid -> why it could not start
        self._idle: dict[str, str] = {}  # pod uid -> why none of its containers runs here
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.loop_error: BaseException | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> PodRunner:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="podrunner", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop the loop and every process it started; safe to call twice."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.poll_interval + 15)
        with self._lock:
            running = list(self._running.values())
            self._running.clear()
        for pod in running:
            self._stop_pod(pod, "runner closed")
        shutil.rmtree(self._base_dir, ignore_errors=True)

    def __enter__(self) -> PodRunner:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ queries

    def running(self) -> dict[str, RunningPod]:
        with self._lock:
            return dict(self._running)

    def find(self, namespace: str, name: str) -> RunningPod | None:
        """The process of that pod: the running one, else the last one that stopped."""
        with self._lock:
            for pod in self._running.values():
                if (pod.namespace, pod.name) == (namespace, name):
                    return pod
            for pod in reversed(self._finished):
                if (pod.namespace, pod.name) == (namespace, name):
                    return pod
        return None

    def failures(self) -> dict[str, str]:
        """Pods whose containers could not be started (by pod uid): the reason, per container."""
        with self._lock:
            return dict(self._failed)

    def describe(self, namespace: str, name: str) -> str:
        """What the runner does with that pod, per container: for assertion messages."""
        pod = self.find(namespace, name)
        if pod is not None:
            return pod.describe()
        with self._lock:
            notes = [
                why for why in [*self._failed.values(), *self._idle.values()] if why.startswith(f"{namespace}/{name}:")
            ]
        return "; ".join(notes) or f"the pod runner has not seen {namespace}/{name} Running"

    # ------------------------------------------------------------ the loop

    def _loop(self) -> None:
        deadline = time.monotonic() + self.max_lifetime
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                self.sync_once()
                self._stop.wait(self.poll_interval)
        except BaseException as exc:  # surfaced through loop_error and the fixtures
            log.exception("pod runner loop died")
            self.loop_error = exc

    def _list_pods(self) -> list[Any]:
        core: Any = self._core  # the client's models type every field optional
        if self.namespace:
            return list(
                core.list_namespaced_pod(self.namespace, label_selector=self.label_selector, _request_timeout=10).items
            )
        pods = core.list_pod_for_all_namespaces(label_selector=self.label_selector, _request_timeout=10).items
        if self.namespace_selector is None:
            return list(pods)
        namespaces = core.list_namespace(label_selector=self.namespace_selector, _request_timeout=10).items
        chosen = {ns.metadata.name for ns in namespaces}
        return [pod for pod in pods if pod.metadata.namespace in chosen]

    def sync_once(self) -> None:
        """One pass: start processes for new Running pods, stop those whose pod went away."""
        live: dict[str, Any] = {}
        for pod in self._list_pods():
            if pod.metadata.deletion_timestamp is None and pod.status and pod.status.phase == "Running":
                live[pod.metadata.uid] = pod
        with self._lock:
            gone = [p for uid, p in self._running.items() if uid not in live]
            for p in gone:
                del self._running[p.uid]
        for p in gone:
            self._stop_pod(p, "pod deleted or no longer Running")
        for uid, pod in live.items():
            if self._stop.is_set():
                return
            with self._lock:
                known = uid in self._running or uid in self._failed or uid in self._idle
            if known or not pod.status.pod_ip:
                continue
            where = f"{pod.metadata.namespace}/{pod.metadata.name}"
            try:
                started = self._start_pod(pod)
            except (PodRunnerError, ContainerPlanError, ApiException, OSError, subprocess.CalledProcessError) as exc:
                log.error("pod runner cannot start %s: %s", where, exc)
                with self._lock:
                    self._failed[uid] = f"{where}: {exc}"
                continue
            with self._lock:
                if started.containers:
                    self._running[uid] = started
                else:
                    self._idle[uid] = f"{where}: no container runs here ({started.skipped})"
            if started.containers:
                self._apply_port_forward(pod)

    # ------------------------------------------------------------ start / stop

    def _start_pod(self, pod: Any) -> RunningPod:
        meta, spec = pod.metadata, pod.spec
        pod_ip = pod.status.pod_ip
        if not is_loopback(pod_ip):
            raise PodRunnerError(
                f"pod IP {pod_ip} is not in 127.0.0.0/8; refusing to start anything that would listen "
                "on or be dialled at a non-loopback address (check kwok's cidr in devkit/cluster/kwok.yaml)"
            )
        skipped: dict[str, str] = {}
        plans: list[tuple[Any, list[str] | None]] = []  # None: from its image
        for container in spec.containers:
            if container.image in self.images:
                plans.append((container, None))
                continue
            command = list(container.command or [])
            if not command:
                skipped[container.name] = "no command: the image's entrypoint is unknown here"
                continue
            try:
                plans.append((container, resolve_program(command[0], self.programs, self.search_dirs)))
            except PodRunnerError as exc:
                skipped[container.name] = str(exc)
        workdir = self._base_dir / f"{meta.namespace}_{meta.name}_{meta.uid[:8]}"
        workdir.mkdir(parents=True)
        started = RunningPod(meta.namespace, meta.name, meta.uid, pod_ip, workdir, {}, skipped)
        if not plans:
            return started
        from_images = any(program is None for _, program in plans)
        volumes = self._materialise_volumes(pod, [c for c, _ in plans], workdir / "volumes", from_images)
        overrides = {**default_pod_overrides(pod), **(self.pod_overrides(pod) if self.pod_overrides else {})}
        # A local program reaches the API through KUBECONFIG; an image finds its projected token in place.
        tokened = [
            c.name
            for c, program in plans
            if program is not None and (spec.automount_service_account_token is True or _mounts_token(pod, c))
        ]
        account = {"KUBECONFIG": str(self._service_account_kubeconfig(pod, workdir / "kubeconfig"))} if tokened else {}
        try:
            # Each container's environment is resolved before anything starts: a missing key fails the pod.
            ready = [(container, program, self._container_env(pod, container)) for container, program in plans]
            for container, program, env in ready:
                own = {**overrides, **account} if container.name in tokened else overrides
                where = workdir / f"container-{container.name}"
                started.containers[container.name] = (
                    self._start_image_container(pod, container, env, volumes, overrides, where)
                    if program is None
                    else self._start_container(pod, container, program, env, volumes, own, where)
                )
        except BaseException:
            self._stop_containers(started)
            raise
        return started

    def _start_container(
        self,
        pod: Any,
        container: Any,
        program: list[str],
        pod_env: dict[str, str],
        volumes: Mapping[str, Path],
        overrides: Mapping[str, str],
        workdir: Path,
    ) -> RunningContainer:
        pod_ip = pod.status.pod_ip
        mounts: dict[str, Path] = {}
        for mount in container.volume_mounts or []:
            local = volumes[mount.name]
            mounts[mount.mount_path.rstrip("/") or "/"] = local / mount.sub_path if mount.sub_path else local
        by_mount = _mount_rewriter(mounts)

        def rewrite(value: str) -> str:
            return rewrite_pod_addresses(by_mount(value), pod_ip)

        env = {k: rewrite(v) for k, v in pod_env.items()}
        env.update(overrides)
        command = [expand_refs(a, env) for a in (container.command or [])]
        args = [expand_refs(a, env) for a in (container.args or [])]
        argv = program + [rewrite(a) for a in command[1:] + args]

        home = workdir / "home"
        home.mkdir(parents=True)
        full_env = {k: os.environ[k] for k in _BASE_ENV_KEYS if k in os.environ}
        full_env["PATH"] = os.pathsep.join([str(VENV_BIN), full_env.get("PATH", "/usr/bin:/bin")])
        full_env["HOME"] = str(home)
        full_env.update(env)
        cwd = Path(by_mount(container.working_dir)) if container.working_dir else workdir
        if not cwd.is_dir():
            cwd = workdir

        log_path = workdir / "output.log"
        with open(log_path, "wb") as out:
            process = subprocess.Popen(
                argv,
                env=full_env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        meta = pod.metadata
        log.info(
            "pod runner started %s/%s container %s as pid %d: %s",
            meta.namespace,
            meta.name,
            container.name,
            process.pid,
            argv,
        )
        return RunningContainer(container.name, argv, env, process, log_path, mounts)

    def _start_image_container(
        self,
        pod: Any,
        container: Any,
        pod_env: dict[str, str],
        volumes: Mapping[str, Path],
        overrides: Mapping[str, str],
        workdir: Path,
    ) -> RunningContainer:
        """The container from its image's root filesystem (image_runtime, image_launch): no path is
        rewritten, its volumes are at their mount paths; the addresses are, as for a local program."""
        pod_ip, meta = pod.status.pod_ip, pod.metadata
        env = {k: os.environ[k] for k in _ISOLATION_KEYS if k in os.environ}
        env.update({k: rewrite_pod_addresses(v, pod_ip) for k, v in pod_env.items()})
        env.update(self._in_cluster_env())
        env.update(overrides)
        command = [rewrite_pod_addresses(expand_refs(a, env), pod_ip) for a in container.command or []]
        args = [rewrite_pod_addresses(expand_refs(a, env), pod_ip) for a in container.args or []]
        workdir.mkdir(parents=True)
        hosts = workdir / "hosts"  # a kubelet's /etc/hosts for the pod
        hosts.write_text(f"127.0.0.1\tlocalhost\n{pod_ip}\t{meta.name}\n")
        hosts.chmod(0o644)
        working, root = self._working.create(
            container.image, working_container_name(meta.namespace, meta.name, container.name, meta.uid)
        )
        try:
            image = self._working.config(container.image)
            plan = plan_container(
                pod,
                container,
                root=root,
                image=image,
                accounts=Accounts.read(root),
                argv=kubernetes_argv(command, args, image),
                env=env,
                volume_dirs=volumes,
                extra_mounts=[
                    Mount(str(hosts), "/etc/hosts", read_only=True),
                    *(Mount(str(f), str(f), read_only=True) for f in (self.pod_files(pod) if self.pod_files else ())),
                ],
            )
            plan_path = workdir / "launch.json"  # holds the env, Secret values included: root's alone
            plan_path.touch(mode=0o600)
            plan_path.write_text(json.dumps(asdict(plan)))
            log_path = workdir / "output.log"
            with open(log_path, "wb") as out:
                process = subprocess.Popen(
                    [sys.executable, "-m", "claude_code_devkit.image_launch", str(plan_path)],
                    env={"PATH": _HOST_PATH},
                    cwd=REPO,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        except BaseException:
            working.remove()
            raise
        log.info(
            "pod runner started %s/%s container %s from %s as pid %d: %s",
            meta.namespace, meta.name, container.name, container.image, process.pid, plan.argv,
        )  # fmt: skip
        mounts = {m.target: Path(m.source) for m in plan.mounts}
        return RunningContainer(
            container.name,
            list(plan.argv),
            dict(plan.env),
            process,
            log_path,
            mounts,
            container.image,
            working,
            (plan.uid, plan.gid),
        )

    def _in_cluster_env(self) -> dict[str, str]:
        """What a kubelet gives every container for in-cluster clients: the API server's address (here
        the runner's own, on loopback, where the kubernetes Service's ClusterIP would be)."""
        server = urlsplit(self._core.api_client.configuration.host)
        port = server.port or (443 if server.scheme == "https" else 80)
        return {"KUBERNETES_SERVICE_HOST": server.hostname or "", "KUBERNETES_SERVICE_PORT": str(port)}

    def _apply_port_forward(self, pod: Any) -> None:
        """`kubectl port-forward` to this pod: kwok forwards to whatever a PortForward object of the
        pod's name names (devkit/cluster/kwok.yaml enables them), here the pod IP the processes listen on."""
        manifest = render_port_forward(pod)
        if manifest is None:
            return
        try:
            self._custom.create_namespaced_custom_object(
                "kwok.x-k8s.io", "v1alpha1", pod.metadata.namespace, "portforwards", manifest, _request_timeout=10
            )
        except ApiException as exc:
            if exc.status == 409:  # left by an earlier pod of that name (deleted with it, but not yet)
                self._custom.patch_namespaced_custom_object(
                    "kwok.x-k8s.io", "v1alpha1", pod.metadata.namespace, "portforwards", pod.metadata.name,
                    manifest, _request_timeout=10,
                )  # fmt: skip
            elif exc.status == 404:
                log.warning("no PortForward API in this cluster: kubectl port-forward will not reach its pods")
            else:
                raise

    def _stop_pod(self, pod: RunningPod, why: str) -> None:
        pod.stopped_because = why
        self._stop_containers(pod)
        log.info("pod runner stopped %s/%s: %s", pod.namespace, pod.name, why)
        with self._lock:
            self._finished.append(pod)

    def _stop_containers(self, pod: RunningPod) -> None:
        """SIGTERM to every container at once (as a kubelet does), then wait for each."""
        for container in pod.containers.values():
            if container.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(container.pid, signal.SIGTERM)
        for container in pod.containers.values():
            stop_process(container.process, self.stop_timeout)
            if container.working_container is not None:
                container.working_container.remove()

    # ------------------------------------------------------------ pod contents

    def _service_account_token(self, pod: Any, audience: str | None = None, seconds: int | None = None) -> str:
        """A TokenRequest token of the pod's ServiceAccount (not bound to the pod; see the module doc)."""
        meta = pod.metadata
        account = pod.spec.service_account_name or "default"
        request = client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(audiences=[audience] if audience else [], expiration_seconds=seconds or 3600)
        )
        try:
            answer = self._core.create_namespaced_service_account_token(
                account, meta.namespace, request, _request_timeout=10
            )
        except ApiException as exc:
            raise PodRunnerError(f"ServiceAccount {meta.namespace}/{account}: {exc.status} {exc.reason}") from exc
        token: Any = answer.status  # the client's models type every field optional
        return str(token.token)

    def _service_account_kubeconfig(self, pod: Any, path: Path) -> Path:
        """A kubeconfig with a token of the pod's ServiceAccount (TokenRequest; see the module doc)."""
        meta = pod.metadata
        account = pod.spec.service_account_name or "default"
        token = self._service_account_token(pod)
        conf = self._core.api_client.configuration
        cluster: dict[str, Any] = {"server": conf.host}
        if conf.ssl_ca_cert:
            cluster["certificate-authority"] = str(conf.ssl_ca_cert)
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "pod", "cluster": cluster}],
            "users": [{"name": account, "user": {"token": token}}],
            "contexts": [{"name": "pod", "context": {"cluster": "pod", "user": account, "namespace": meta.namespace}}],
            "current-context": "pod",
        }
        path.write_text(json.dumps(config))  # JSON is YAML
        path.chmod(0o600)
        return path

    def _container_env(self, pod: Any, container: Any) -> dict[str, str]:
        ns = pod.metadata.namespace
        env: dict[str, str] = {}
        for source in container.env_from or []:
            prefix = source.prefix or ""
            if source.secret_ref is not None:
                data = self._secret_data(ns, source.secret_ref.name, source.secret_ref.optional)
            elif source.config_map_ref is not None:
                data = self._config_map_data(ns, source.config_map_ref.name, source.config_map_ref.optional)
            else:
                continue
            for key, value in data.items():
                env[prefix + key] = value.decode(errors="replace")
        for var in container.env or []:
            if var.value_from is None:
                env[var.name] = expand_refs(var.value or "", env)
                continue
            resolved = self._env_value_from(pod, var.name, var.value_from)
            if resolved is not None:
                env[var.name] = resolved
        return env

    def _env_value_from(self, pod: Any, name: str, value_from: Any) -> str | None:
        ns = pod.metadata.namespace
        if value_from.secret_key_ref is not None:
            ref = value_from.secret_key_ref
            data = self._secret_data(ns, ref.name, ref.optional)
            if ref.key not in data:
                if ref.optional:
                    return None
                raise PodRunnerError(f"env {name}: secret {ns}/{ref.name} has no key {ref.key!r}")
            return data[ref.key].decode(errors="replace")
        if value_from.config_map_key_ref is not None:
            ref = value_from.config_map_key_ref
            data = self._config_map_data(ns, ref.name, ref.optional)
            if ref.key not in data:
                if ref.optional:
                    return None
                raise PodRunnerError(f"env {name}: configmap {ns}/{ref.name} has no key {ref.key!r}")
            return data[ref.key].decode(errors="replace")
        if value_from.field_ref is not None:
            return _pod_field(pod, value_from.field_ref.field_path, what=f"env {name}")
        raise PodRunnerError(f"env {name}: this kind of valueFrom is not supported by the pod runner")

    def _secret_data(self, ns: str, name: str, optional: bool | None) -> dict[str, bytes]:
        try:
            secret = self._core.read_namespaced_secret(name, ns, _request_timeout=10)
        except ApiException as exc:
            if exc.status == 404 and optional:
                return {}
            raise PodRunnerError(f"secret {ns}/{name}: {exc.status} {exc.reason}") from exc
        return {k: base64.b64decode(v) for k, v in (secret.data or {}).items()}

    def _config_map_data(self, ns: str, name: str, optional: bool | None) -> dict[str, bytes]:
        try:
            cm = self._core.read_namespaced_config_map(name, ns, _request_timeout=10)
        except ApiException as exc:
            if exc.status == 404 and optional:
                return {}
            raise PodRunnerError(f"configmap {ns}/{name}: {exc.status} {exc.reason}") from exc
        data = {k: v.encode() for k, v in (cm.data or {}).items()}
        data.update({k: base64.b64decode(v) for k, v in (cm.binary_data or {}).items()})
        return data

    def _materialise_volumes(
        self, pod: Any, containers: Sequence[Any], root: Path, from_images: bool = False
    ) -> dict[str, Path]:
        """Write the volumes these containers mount under root, once per pod: volume name -> local dir.

        For local programs (root's, as this runner) files are owner-only; `from_images`, a kubelet's
        modes and ownership (the pod's modes, fsGroup), and projected volumes hold their sources."""
        ns = pod.metadata.namespace
        volumes = {v.name: v for v in pod.spec.volumes or []}
        context = pod.spec.security_context
        fs_group = context.fs_group if context is not None else None
        mode_of = _pod_mode if from_images else _local_mode
        local_dirs: dict[str, Path] = {}
        for mount in [m for c in containers for m in c.volume_mounts or []]:
            volume = volumes.get(mount.name)
            if volume is None:
                raise PodRunnerError(f"volumeMount {mount.name!r} names no volume of the pod")
            if mount.name in local_dirs:
                continue
            target = root / mount.name
            target.mkdir(parents=True)
            if volume.secret is not None:
                src = volume.secret
                data = self._secret_data(ns, src.secret_name, src.optional)
                _write_items(target, data, src.items, src.default_mode, f"secret {src.secret_name}", mode_of)
            elif volume.config_map is not None:
                src = volume.config_map
                data = self._config_map_data(ns, src.name, src.optional)
                _write_items(target, data, src.items, src.default_mode, f"configmap {src.name}", mode_of)
            elif from_images and volume.projected is not None:
                self._write_projected(pod, volume.projected, target)
            if from_images:
                read_only = volume.empty_dir is None
                target.chmod(0o755 if read_only else 0o777)  # a kubelet's emptyDir is world-writable
                apply_fs_group(target, fs_group, read_only)
            elif volume.secret is not None or volume.config_map is not None:
                target.chmod(0o500)
            elif volume.empty_dir is None:
                # e.g. the projected kube-api-access-* volume: in-cluster API access would dial
                # the Service IP, which nothing here may do.
                log.info(
                    "pod runner: volume %s of %s/%s is neither secret, configMap nor emptyDir; "
                    "it is an empty directory here",
                    mount.name,
                    ns,
                    pod.metadata.name,
                )
            local_dirs[mount.name] = target
        return local_dirs

    def _write_projected(self, pod: Any, projected: Any, target: Path) -> None:
        """A projected volume's sources, as a kubelet writes them (the pod's kube-api-access-* or the
        operator's api-access: token, the cluster's CA, the namespace)."""
        ns, default = pod.metadata.namespace, projected.default_mode
        for source in projected.sources or []:
            if source.service_account_token is not None:
                src = source.service_account_token
                token = self._service_account_token(pod, src.audience, src.expiration_seconds)
                _write_items(target, {src.path: token.encode()}, None, default, "serviceAccountToken", _pod_mode)
            elif source.config_map is not None:
                src = source.config_map
                data = self._config_map_data(ns, src.name, src.optional)
                _write_items(target, data, src.items, default, f"configmap {src.name}", _pod_mode)
            elif source.secret is not None:
                src = source.secret
                data = self._secret_data(ns, src.name, src.optional)
                _write_items(target, data, src.items, default, f"secret {src.name}", _pod_mode)
            elif source.downward_api is not None:
                for item in source.downward_api.items or []:
                    if item.field_ref is None:
                        raise PodRunnerError(f"downwardAPI {item.path}: only fieldRef is supported by the pod runner")
                    value = _pod_field(pod, item.field_ref.field_path, what=f"downwardAPI {item.path}").encode()
                    mode = default if item.mode is None else item.mode
                    _write_items(target, {item.path: value}, None, mode, "downwardAPI", _pod_mode)


# ---------------------------------------------------------------- helpers


def _mounts_token(pod: Any, container: Any) -> bool:
    """The container mounts a projected volume holding a ServiceAccount token."""
    projected = {
        v.name
        for v in pod.spec.volumes or []
        if v.projected is not None and any(s.service_account_token is not None for s in v.projected.sources or [])
    }
    return any(m.name in projected for m in container.volume_mounts or [])


def render_port_forward(pod: Any) -> dict[str, Any] | None:
    """kwok's PortForward for a pod: each declared container port to the same port on the pod IP,
    owned by the pod (the garbage collector removes it with the pod). None without ports."""
    ports = sorted({p.container_port for c in pod.spec.containers for p in c.ports or []})
    if not ports:
        return None
    meta = pod.metadata
    return {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "PortForward",
        "metadata": {
            "name": meta.name,
            "namespace": meta.namespace,
            "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": meta.name, "uid": meta.uid}],
        },
        "spec": {
            "forwards": [{"ports": [port], "target": {"port": port, "address": pod.status.pod_ip}} for port in ports]
        },
    }


def default_pod_overrides(pod: Any) -> dict[str, str]:
    """Env the runner sets on top of every container's own: its listeners bind the pod's IP.

    In a pod, 0.0.0.0 means the pod network and 127.0.0.1 the pod's own loopback. Here every pod
    shares this machine's, so both become the pod's own address (127.100.x.y): the runtime's
    pod-network listener and its loopback-only completion API.
    """
    ip = pod.status.pod_ip
    return {"POD_IP": ip, "CLAUDE_RUNTIME_LISTEN_HOST": ip, "CLAUDE_RUNTIME_API_HOST": ip}


def _local_mode(mode: int | None) -> int:
    """Mode for a file of a read-only volume: the owner's read/execute bits of the pod's mode.

    The apiserver defaults `defaultMode` to 0644, so 0644 and no mode at all both give 0400.
    """
    if mode is None:
        return 0o400
    return (mode & 0o500) or 0o400


def _pod_mode(mode: int | None) -> int:
    """Mode for a file of a volume, as a kubelet writes it: the pod's (0644 where it names none)."""
    return 0o644 if mode is None else mode


def _pod_field(pod: Any, path: str, what: str) -> str:
    """A fieldRef of the pod (env valueFrom, downwardAPI)."""
    fields = {
        "metadata.name": pod.metadata.name,
        "metadata.namespace": pod.metadata.namespace,
        "metadata.uid": pod.metadata.uid,
        "spec.nodeName": pod.spec.node_name,
        "spec.serviceAccountName": pod.spec.service_account_name,
        "status.podIP": pod.status.pod_ip,
        "status.hostIP": pod.status.host_ip,
    }
    if path not in fields:
        raise PodRunnerError(f"{what}: fieldRef {path!r} is not supported by the pod runner")
    return str(fields[path] or "")


def _write_items(
    target: Path,
    data: Mapping[str, bytes],
    items: Sequence[Any] | None,
    default_mode: int | None,
    what: str,
    mode_of: Callable[[int | None], int] = _local_mode,
) -> None:
    default = mode_of(default_mode)
    if items:
        chosen = []
        for item in items:
            if item.key not in data:
                raise PodRunnerError(f"{what} has no key {item.key!r}")
            chosen.append((item.key, item.path, default if item.mode is None else mode_of(item.mode)))
    else:
        chosen = [(key, key, default) for key in data]
    for key, rel, mode in chosen:
        path = (target / rel).resolve()
        if target.resolve() not in path.parents:
            raise PodRunnerError(f"{what}: item path {rel!r} leaves the volume")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data[key])
        path.chmod(mode)


def _mount_rewriter(mounts: Mapping[str, Path]) -> Callable[[str], str]:
    """Replace every occurrence of a mountPath (as a whole path prefix) by its local dir."""
    if not mounts:
        return lambda value: value
    ordered = sorted(mounts, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(m) + r"(?=/|$|[^\w.-])" for m in ordered))
    return lambda value: pattern.sub(lambda m: str(mounts[m.group(0)]), value)
