"""Runs the `claude` container of kwok's fake pods as local processes.

kwok reports pods Running without running anything. For the end-to-end tier the pod runner
closes that gap: for every pod that kwok reports Running it starts the container named
`claude` as a process on this machine, with

- the pod's environment (`env` values, `valueFrom` secretKeyRef / configMapKeyRef / fieldRef
  resolved from the API, `envFrom`), plus `POD_IP`, `CLAUDE_RUNTIME_LISTEN_HOST` and
  `CLAUDE_RUNTIME_API_HOST` set to the pod's IP (see `default_pod_overrides`), so the process
  listens on the pod's loopback address (127.100.x.y) and probes travel to
  `http://<podIP>:<containerPort>` as in a cluster;
- the files of its mounted Secret and ConfigMap volumes written to a per-pod temp dir
  (mode 0400 unless `items[].mode` / `defaultMode` say otherwise), emptyDir volumes as
  writable per-pod temp dirs, and every occurrence of a volume's `mountPath` in the command,
  args, env values and workingDir rewritten to that local dir;
- the program named by the container's command/args mapped to a local one by
  `resolve_program`: an explicit `programs` mapping first, then the repository's `.venv/bin/`
  (where the product's console script `claude-code-runtime` lands), then PATH.

It stops the process (SIGTERM to its process group, SIGKILL after a deadline) when the pod
goes away or is being deleted, and stops all of them when the runner closes. The loop polls
the API from a background thread; it is bounded by `max_lifetime` and stops on `close()`.

Pod IPs outside 127.0.0.0/8 are refused loudly: nothing here ever dials a non-loopback address.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"

#: The container the runner starts; other containers of the pod are left alone.
CONTAINER_NAME = "claude"
#: The product's in-pod runtime (console script of provider/). When `.venv/bin/` has it,
#: pods whose command names it run the real thing; see `resolve_program`.
RUNTIME_PROGRAM = "claude-code-runtime"

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
_VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
# Inherited from the test process: basics, plus tests/conftest.py's isolation settings (proxies
# pointing at a closed loopback port, no telemetry), so a local "pod" cannot reach further than tests.
_BASE_ENV_KEYS = (
    "PATH",
    "LANG",
    "LC_ALL",
    "TZ",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "https_proxy",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC",
    "DISABLE_AUTOUPDATER",
)


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
    prefix, e.g. a stand-in used while the real program does not exist; next come `search_dirs`
    (the repository's .venv/bin/ by default, where `claude-code-runtime` is installed), then PATH.
    """
    base = os.path.basename(name)
    if programs and base in programs:
        return list(programs[base])
    for directory in search_dirs:
        candidate = Path(directory) / base
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return [str(candidate)]
    found = shutil.which(base)
    if found:
        return [found]
    raise PodRunnerError(
        f"no local program for {name!r} (looked in {programs and sorted(programs)}, "
        f"{[str(d) for d in search_dirs]}, PATH)"
    )


def expand_refs(value: str, env: Mapping[str, str]) -> str:
    """Kubernetes' $(VAR) expansion: defined names are replaced, $$ escapes, others stay."""

    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return _VAR_REF.sub(sub, value)


@dataclass
class RunningPod:
    namespace: str
    name: str
    uid: str
    pod_ip: str
    argv: list[str]
    env: dict[str, str]
    workdir: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    mounts: dict[str, Path] = field(default_factory=dict)
    stopped_because: str | None = None

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


class PodRunner:
    """Starts the `claude` container of Running pods as local processes; see the module doc."""

    def __init__(
        self,
        api_client: client.ApiClient,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        container_name: str = CONTAINER_NAME,
        programs: Mapping[str, Sequence[str]] | None = None,
        search_dirs: Sequence[Path] = (VENV_BIN,),
        pod_overrides: Callable[[Any], Mapping[str, str]] | None = None,
        poll_interval: float = 0.3,
        stop_timeout: float = 5.0,
        max_lifetime: float = 3600.0,
        base_dir: Path | None = None,
    ) -> None:
        self._core = client.CoreV1Api(api_client)
        self.namespace = namespace
        self.label_selector = label_selector
        self.container_name = container_name
        self.programs = dict(programs or {})
        self.search_dirs = tuple(search_dirs)
        self.pod_overrides = pod_overrides or default_pod_overrides
        self.poll_interval = poll_interval
        self.stop_timeout = stop_timeout
        self.max_lifetime = max_lifetime
        self._base_dir = Path(tempfile.mkdtemp(prefix="podrunner-", dir=base_dir))
        self._lock = threading.Lock()
        self._running: dict[str, RunningPod] = {}  # by pod uid
        self._finished: list[RunningPod] = []
        self._failed: dict[str, str] = {}  # pod uid -> why it could not start
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
        with self._lock:
            return dict(self._failed)

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

    def sync_once(self) -> None:
        """One pass: start processes for new Running pods, stop those whose pod went away."""
        if self.namespace:
            pods = self._core.list_namespaced_pod(
                self.namespace, label_selector=self.label_selector, _request_timeout=10
            ).items
        else:
            pods = self._core.list_pod_for_all_namespaces(label_selector=self.label_selector, _request_timeout=10).items
        live: dict[str, Any] = {}
        for pod in pods:
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
                known = uid in self._running or uid in self._failed
            if known or not _has_container(pod, self.container_name) or not pod.status.pod_ip:
                continue
            try:
                started = self._start_pod(pod)
            except (PodRunnerError, ApiException, OSError) as exc:
                why = f"{pod.metadata.namespace}/{pod.metadata.name}: {exc}"
                log.error("pod runner cannot start %s", why)
                with self._lock:
                    self._failed[uid] = why
                continue
            with self._lock:
                self._running[uid] = started

    # ------------------------------------------------------------ start / stop

    def _start_pod(self, pod: Any) -> RunningPod:
        meta, spec = pod.metadata, pod.spec
        pod_ip = pod.status.pod_ip
        if not is_loopback(pod_ip):
            raise PodRunnerError(
                f"pod IP {pod_ip} is not in 127.0.0.0/8; refusing to start anything that would listen "
                "on or be dialled at a non-loopback address (check kwok's cidr in tests/cluster/kwok.yaml)"
            )
        container = next(c for c in spec.containers if c.name == self.container_name)
        workdir = self._base_dir / f"{meta.namespace}_{meta.name}_{meta.uid[:8]}"
        workdir.mkdir(parents=True)
        mounts = self._materialise_volumes(pod, container, workdir)
        rewrite = _mount_rewriter(mounts)

        env = self._container_env(pod, container)
        env = {k: rewrite(v) for k, v in env.items()}
        env.update(self.pod_overrides(pod))
        command = [expand_refs(a, env) for a in (container.command or [])]
        args = [expand_refs(a, env) for a in (container.args or [])]
        argv = [rewrite(a) for a in command + args]
        if not argv:
            raise PodRunnerError("container has no command/args; the image's entrypoint is unknown here")
        argv = resolve_program(argv[0], self.programs, self.search_dirs) + argv[1:]

        home = workdir / "home"
        home.mkdir()
        full_env = {k: os.environ[k] for k in _BASE_ENV_KEYS if k in os.environ}
        full_env["PATH"] = os.pathsep.join([str(VENV_BIN), full_env.get("PATH", "/usr/bin:/bin")])
        full_env["HOME"] = str(home)
        full_env.update(env)
        cwd = Path(rewrite(container.working_dir)) if container.working_dir else workdir
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
        log.info("pod runner started %s/%s as pid %d: %s", meta.namespace, meta.name, process.pid, argv)
        return RunningPod(
            namespace=meta.namespace,
            name=meta.name,
            uid=meta.uid,
            pod_ip=pod_ip,
            argv=argv,
            env=env,
            workdir=workdir,
            process=process,
            log_path=log_path,
            mounts=mounts,
        )

    def _stop_pod(self, pod: RunningPod, why: str) -> None:
        pod.stopped_because = why
        stop_process(pod.process, self.stop_timeout)
        log.info("pod runner stopped %s/%s (pid %d): %s", pod.namespace, pod.name, pod.pid, why)
        with self._lock:
            self._finished.append(pod)

    # ------------------------------------------------------------ pod contents

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
            fields = {
                "metadata.name": pod.metadata.name,
                "metadata.namespace": ns,
                "metadata.uid": pod.metadata.uid,
                "spec.nodeName": pod.spec.node_name,
                "spec.serviceAccountName": pod.spec.service_account_name,
                "status.podIP": pod.status.pod_ip,
                "status.hostIP": pod.status.host_ip,
            }
            path = value_from.field_ref.field_path
            if path not in fields:
                raise PodRunnerError(f"env {name}: fieldRef {path!r} is not supported by the pod runner")
            return str(fields[path] or "")
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

    def _materialise_volumes(self, pod: Any, container: Any, workdir: Path) -> dict[str, Path]:
        """Write the container's volumes under workdir; returns mountPath -> local path."""
        ns = pod.metadata.namespace
        volumes = {v.name: v for v in pod.spec.volumes or []}
        local_dirs: dict[str, Path] = {}
        mounts: dict[str, Path] = {}
        for mount in container.volume_mounts or []:
            volume = volumes.get(mount.name)
            if volume is None:
                raise PodRunnerError(f"volumeMount {mount.name!r} names no volume of the pod")
            if mount.name not in local_dirs:
                target = workdir / "volumes" / mount.name
                target.mkdir(parents=True)
                if volume.secret is not None:
                    src = volume.secret
                    data = self._secret_data(ns, src.secret_name, src.optional)
                    _write_items(target, data, src.items, src.default_mode, what=f"secret {src.secret_name}")
                    target.chmod(0o500)
                elif volume.config_map is not None:
                    src = volume.config_map
                    data = self._config_map_data(ns, src.name, src.optional)
                    _write_items(target, data, src.items, src.default_mode, what=f"configmap {src.name}")
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
            local = local_dirs[mount.name]
            if mount.sub_path:
                local = local / mount.sub_path
            mounts[mount.mount_path.rstrip("/") or "/"] = local
        return mounts


# ---------------------------------------------------------------- helpers


def default_pod_overrides(pod: Any) -> dict[str, str]:
    """Env the runner sets on top of the pod's own: the process listens on the pod's IP.

    In a pod, 0.0.0.0 means the pod network and 127.0.0.1 the pod's own loopback. Here every pod
    shares this machine's, so both become the pod's own address (127.100.x.y): the runtime's
    pod-network listener and its loopback-only completion API.
    """
    ip = pod.status.pod_ip
    return {"POD_IP": ip, "CLAUDE_RUNTIME_LISTEN_HOST": ip, "CLAUDE_RUNTIME_API_HOST": ip}


def _has_container(pod: Any, name: str) -> bool:
    return any(c.name == name for c in pod.spec.containers or [])


def _local_mode(mode: int | None) -> int:
    """Mode for a file of a read-only volume: the owner's read/execute bits of the pod's mode.

    The apiserver defaults `defaultMode` to 0644, so 0644 and no mode at all both give 0400.
    """
    if mode is None:
        return 0o400
    return (mode & 0o500) or 0o400


def _write_items(
    target: Path, data: Mapping[str, bytes], items: Sequence[Any] | None, default_mode: int | None, what: str
) -> None:
    default = _local_mode(default_mode)
    if items:
        chosen = []
        for item in items:
            if item.key not in data:
                raise PodRunnerError(f"{what} has no key {item.key!r}")
            chosen.append((item.key, item.path, default if item.mode is None else _local_mode(item.mode)))
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


def stop_process(process: subprocess.Popen[bytes], timeout: float) -> int | None:
    """SIGTERM to the process group, SIGKILL after `timeout` seconds; returns the exit code.

    The leader is only reaped after the group got its SIGKILL, so the group id (its pid) cannot
    have been reused by an unrelated process when it is signalled.
    """
    if process.returncode is not None:
        return process.returncode
    pid = process.pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                break
            time.sleep(0.05)
    except ChildProcessError:  # reaped meanwhile by Popen.poll() in another thread
        return process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)  # the leader if it ignored SIGTERM, and any stragglers
    return process.wait(timeout=10)
