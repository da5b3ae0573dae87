"""The steps of `make demo` and `make demo-down`, each timed and announced on stdout.

`up`: the local control plane (built on first use), the chart installed with helm, the operator as
a local process under the chart's ServiceAccount token (no container runtime here, so the chart's
Deployment runs with replicas=0), the login Secret, a ClaudeCodeProvider, its pod run by the pod
runner, Ready, one real completion through the endpoint, then how to use it.

`down`: stops every process `up` recorded, then removes what it made: the whole cluster when `up`
started it, else (a cluster that was already running, e.g. a test session's) only the demo's
release and namespaces. Safe to run twice.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openai
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from claude_code_devkit.cluster import Cluster, cluster_paths, service_account_kubeconfig
from claude_code_devkit.demo import processes
from claude_code_devkit.image_runtime import image_mode_refs
from claude_code_devkit.operator_process import CHART, OperatorProcess
from claude_code_devkit.paths import CLUSTER_SCRIPT
from claude_code_devkit.waiting import wait_until
from claude_code_operator import contract

PROVIDER = "me"
LOGIN_SECRET = "me-login"
READY_TIMEOUT = 240.0  # the pod's containers up on a busy 2-core machine (LiteLLM's import is slow)
COMPLETION_TIMEOUT = 120.0
#: Offline, nothing the pods start may leave loopback: other HTTP(S) goes to a closed loopback port.
OFFLINE_ENV = {
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "NO_PROXY": "127.0.0.1,localhost",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
}


class DemoError(RuntimeError):
    """A step failed; the message says which and what to look at."""


@dataclass
class Settings:
    state_dir: Path
    namespace: str = "demo"
    operator_namespace: str = "claude-code-operator"
    release: str = "claude-code-operator"
    offline: bool = False
    #: Set by `up`: `down` stops the cluster only when `up` started it.
    started_cluster: bool = False
    #: A real cluster's kubeconfig (KUBECONFIG at `up`): real containers, no pod runner (demo/remote.py).
    kubeconfig: str | None = None
    #: Namespaces `up` created, which `down` deletes (on a real cluster, never one that was there before).
    created_namespaces: list[str] = field(default_factory=list)

    def save(self) -> None:
        data = {**asdict(self), "state_dir": str(self.state_dir)}
        (self.state_dir / "demo.json").write_text(json.dumps(data, indent=1))

    @classmethod
    def load(cls, state_dir: Path) -> Settings | None:
        path = state_dir / "demo.json"
        if not path.is_file():
            return None
        data = json.loads(path.read_text())
        return cls(**{**data, "state_dir": Path(data["state_dir"])})


# ---------------------------------------------------------------- progress


class Progress:
    def __init__(self, total: int) -> None:
        self.total = total
        self.number = 0
        self.began = time.monotonic()

    @contextmanager
    def step(self, what: str) -> Iterator[None]:
        self.number += 1
        say(f"==> [{self.number}/{self.total}] {what}")
        started = time.monotonic()
        yield
        say(f"    done in {time.monotonic() - started:.1f} s")


def say(text: str) -> None:
    print(text, flush=True)


def loudly(text: str) -> None:
    bar = "!" * 78
    say(f"{bar}\n!! {text}\n{bar}")


# ---------------------------------------------------------------- cluster


def local_cluster() -> Cluster:
    paths = cluster_paths()
    return Cluster(kubeconfig=Path(paths["KUBECONFIG_PATH"]), bin_dir=Path(paths["BIN_DIR"]), local=True)


def cluster_is_up() -> bool:
    return subprocess.run(["bash", str(CLUSTER_SCRIPT), "status"], check=False, timeout=30).returncode == 0


def run_cluster_script(command: str) -> None:
    """cluster.sh up/down with its progress lines on our stdout (the cold build takes about 9 minutes)."""
    done = subprocess.run(["bash", str(CLUSTER_SCRIPT), command], check=False, stdout=sys.stdout, stderr=sys.stdout)
    if done.returncode != 0:
        raise DemoError(f"devkit/cluster/cluster.sh {command} exited {done.returncode} (see its output above)")


def helm(cluster: Cluster, settings: Settings, *args: str) -> str:
    return cluster.helm(*args, helm_home=settings.state_dir / "helm", timeout=300).stdout


# ---------------------------------------------------------------- up


def install_chart(cluster: Cluster, settings: Settings) -> None:
    # replicas=0: no container runtime here; the operator runs as a local process instead.
    # --take-ownership: the CRD may have been applied with kubectl (crds/, e.g. by a test session).
    helm(
        cluster, settings, "upgrade", "--install", settings.release, str(CHART),
        "--namespace", settings.operator_namespace, "--create-namespace", "--take-ownership",
        "--set", "replicas=0", "--set", f"watchNamespaces={{{settings.namespace}}}",
        "--wait", "--timeout", "180s",
    )  # fmt: skip


def service_account(settings: Settings) -> str:
    """The chart's fullname (templates/_helpers.tpl): the release name when it contains the chart's."""
    chart = "claude-code-operator"
    return settings.release if chart in settings.release else f"{settings.release}-{chart}"


def start_operator(cluster: Cluster, settings: Settings) -> OperatorProcess:
    kubeconfig = service_account_kubeconfig(
        cluster, settings.operator_namespace, service_account(settings),
        settings.state_dir / "operator.kubeconfig", duration="12h",
    )  # fmt: skip
    operator = OperatorProcess(
        kubeconfig=kubeconfig,
        log_path=settings.state_dir / "operator.log",
        args=[
            "--namespace", settings.namespace, "--operator-namespace", settings.operator_namespace,
            "--operator-labels",
            f"app.kubernetes.io/name=claude-code-operator,app.kubernetes.io/instance={settings.release}",
        ],
    )  # fmt: skip
    operator.start()
    assert operator.popen is not None
    processes.remember(settings.state_dir, "operator", operator.popen.pid, operator.log_path)
    return operator


def start_upstream(settings: Settings) -> str:
    """The fake Anthropic API (offline mode); returns its base URL."""
    port_file = settings.state_dir / "upstream.port"
    port_file.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "claude_code_devkit.demo.services", "upstream", "--port-file", str(port_file)]
    processes.start_detached(settings.state_dir, "fake-anthropic", argv, {**os.environ, **OFFLINE_ENV})
    port = wait_until(
        lambda: port_file.is_file() and port_file.read_text().strip(), timeout=30, what="the fake Anthropic API"
    )
    return f"http://127.0.0.1:{port}"


def derive_login(offline: bool, home: Path) -> dict[str, str]:
    """The login Secret's data: a fake token offline, else this machine's login."""
    if offline:
        return {"oauth-token": "sk-ant-oat01-demo-offline-" + secrets.token_urlsafe(24)}
    token = os.environ.get("CLAUDE_CODE_OAUTH_TOKEN")
    if token:
        return {"oauth-token": token}
    return {".credentials.json": (home / ".claude" / ".credentials.json").read_text()}


def has_login(home: Path) -> bool:
    """A login the demo may hand to a pod: a `claude setup-token` token, or the CLI's own credentials file
    only when DEMO_USE_CREDENTIALS_FILE=1. That file's refresh token is single-use: once the pod refreshes
    it, this machine's CLI is signed out (one login, one writer), so it is never copied unasked."""
    if os.environ.get("CLAUDE_CODE_OAUTH_TOKEN"):
        return True
    opted_in = os.environ.get("DEMO_USE_CREDENTIALS_FILE", "") not in ("", "0")
    return opted_in and (home / ".claude" / ".credentials.json").is_file()


def apply_login_secret(core: client.CoreV1Api, namespace: str, data: dict[str, str]) -> None:
    # Labelled for the demo's resource: the operator uses only a Secret that opted in.
    meta = client.V1ObjectMeta(name=LOGIN_SECRET, labels={contract.PROVIDER_LABEL: PROVIDER})
    body = client.V1Secret(metadata=meta, string_data=data)
    try:
        core.create_namespaced_secret(namespace, body)
    except ApiException as exc:
        if exc.status != 409:
            raise
        core.replace_namespaced_secret(LOGIN_SECRET, namespace, body)


def render_provider(image: str | None = None) -> dict[str, Any]:
    """The demo's resource; `image` (the provider image) replaces the default of both containers."""
    spec: dict[str, Any] = {
        "credentials": {"secretName": LOGIN_SECRET},
        "owner": "you (make demo)",
        "probe": {"intervalSeconds": 5, "timeoutSeconds": 4},
    }
    if image:
        spec["runtime"] = {"image": image}
        spec["litellm"] = {"image": image}
    return {
        "apiVersion": "claudecode.dev/v1alpha1",
        "kind": "ClaudeCodeProvider",
        "metadata": {"name": PROVIDER},
        "spec": spec,
    }


def apply_namespace(core: client.CoreV1Api, namespace: str) -> bool:
    """Create the namespace unless it exists; True when this call created it."""
    try:
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    except ApiException as exc:
        if exc.status != 409:
            raise
        return False
    return True


def apply_provider(cluster: Cluster, settings: Settings, image: str | None = None) -> None:
    manifest = settings.state_dir / "provider.yaml"
    manifest.write_text(yaml.safe_dump(render_provider(image)))
    cluster.kubectl("apply", "-n", settings.namespace, "-f", str(manifest))


def start_pod_runner(cluster: Cluster, settings: Settings, upstream: str | None) -> None:
    pod_env = {"ANTHROPIC_BASE_URL": upstream, "NO_PROXY": "127.0.0.1,localhost"} if upstream else {}
    argv = [
        sys.executable, "-m", "claude_code_devkit.demo.services", "pods", "--namespace", settings.namespace,
        "--kubeconfig", str(cluster.kubeconfig), "--workdir", str(settings.state_dir / "pods"),
        *(f"--env={k}={v}" for k, v in pod_env.items()),
    ]  # fmt: skip
    env = {**os.environ, **(OFFLINE_ENV if settings.offline else {})}
    processes.start_detached(settings.state_dir, "pod-runner", argv, env)


def derive_conditions(provider: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in provider.get("status", {}).get("conditions", [])}


def wait_ready(custom: client.CustomObjectsApi, settings: Settings, timeout: float = READY_TIMEOUT) -> dict[str, Any]:
    def ready() -> Any:
        found: Any = custom.get_namespaced_custom_object(
            "claudecode.dev", "v1alpha1", settings.namespace, "claudecodeproviders", PROVIDER
        )
        return found if derive_conditions(found).get("Ready") == "True" else None

    try:
        found: dict[str, Any] = wait_until(
            ready, timeout=timeout, interval=1, what=f"ClaudeCodeProvider {PROVIDER} Ready"
        )
    except TimeoutError as exc:
        where = (
            f"kubectl logs -n {settings.operator_namespace} deploy/{service_account(settings)}"
            if settings.kubeconfig
            else f"{settings.state_dir}/operator.log, {settings.state_dir}/pod-runner.log"
        )
        raise DemoError(f"{exc}\nlook at: {where}, kubectl describe ccp {PROVIDER} -n {settings.namespace}") from None
    return found


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    api_key: str


def fetch_endpoint(core: client.CoreV1Api, namespace: str) -> Endpoint:
    """Here the pod IP (loopback, served by the pod runner); in a real cluster the Service."""
    pod: Any = core.read_namespaced_pod(
        f"{PROVIDER}-claude-code", namespace
    )  # the client's models type every field optional
    keys: Any = core.read_namespaced_secret(f"{PROVIDER}-claude-code-keys", namespace).data
    return Endpoint(f"http://{pod.status.pod_ip}:4000/v1", base64.b64decode(keys["master-key"]).decode())


def complete(endpoint: Endpoint, prompt: str) -> str:
    with httpx.Client(trust_env=False) as http:
        api = openai.OpenAI(
            base_url=endpoint.base_url, api_key=endpoint.api_key, http_client=http, max_retries=0, timeout=90
        )
        reply = api.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": prompt}])
    return reply.choices[0].message.content or ""


def probe_completion(endpoint: Endpoint) -> str:
    """One completion, retried while LiteLLM is still starting (connection refused) within the deadline."""
    return wait_until(
        lambda: complete(endpoint, "Say hello in one short sentence."),
        timeout=COMPLETION_TIMEOUT,
        interval=1,
        what="a completion through the endpoint",
        ignore=(openai.APIConnectionError,),
    )


def render_examples(endpoint: Endpoint) -> str:
    """A `curl` and a Python `openai` call against the endpoint, to paste as printed."""
    return f"""  curl -s {endpoint.base_url}/chat/completions \\
    -H "Authorization: Bearer {endpoint.api_key}" -H "Content-Type: application/json" \\
    -d '{{"model": "sonnet", "messages": [{{"role": "user", "content": "Hello"}}]}}'

  .venv/bin/python - <<'PY'
  from openai import OpenAI
  client = OpenAI(base_url="{endpoint.base_url}", api_key="{endpoint.api_key}")
  reply = client.chat.completions.create(model="sonnet", messages=[{{"role": "user", "content": "Hello"}}])
  print(reply.choices[0].message.content)
  PY"""


def render_usage(settings: Settings, cluster: Cluster, endpoint: Endpoint) -> str:
    ns = settings.namespace
    return f"""
The endpoint (OpenAI-compatible; here the pod's loopback IP, in a real cluster http://{PROVIDER}.{ns}.svc:4000/v1):

{render_examples(endpoint)}

Look around:

  export KUBECONFIG={cluster.kubeconfig}
  export PATH={cluster.bin_dir}:$PATH
  kubectl get ccp -n {ns}                        # NAME READY PHASE AUTH SUBSCRIPTION USED% ENDPOINT AGE
  kubectl describe ccp {PROVIDER} -n {ns}              # conditions and Events
  kubectl get pods,svc,cm,secrets,networkpolicies -n {ns}
  helm list -n {settings.operator_namespace}
  tail -f {settings.state_dir}/operator.log         # the operator (JSON logs)
  ls {settings.state_dir}/pods/*/                    # the pod's containers' output

Stop everything: make demo-down
"""


def prepare_state_dir(settings: Settings) -> Settings | None:
    """Refuse while a demo runs; returns the settings of an earlier run that was not taken down."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    if any(processes.is_running(r) for r in processes.load_records(settings.state_dir)):
        raise DemoError(f"a demo is already running (state in {settings.state_dir}); `make demo-down` first")
    earlier = Settings.load(settings.state_dir)
    if earlier is not None and earlier.kubeconfig != settings.kubeconfig:
        raise DemoError(
            f"an earlier demo on another cluster was not taken down ({settings.state_dir}): `make demo-down`"
        )
    return earlier


def up(settings: Settings) -> None:
    earlier = prepare_state_dir(settings)
    # A failed earlier run may have started the cluster: demo-down still owns stopping it.
    settings.started_cluster = earlier is not None and earlier.started_cluster
    if settings.offline:
        loudly("OFFLINE MODE: a fake Anthropic API on 127.0.0.1 answers; no real Claude is involved")
    progress = Progress(total=9)
    with progress.step("Kubernetes control plane on 127.0.0.1 (devkit/cluster; a cold build takes about 9 minutes)"):
        if cluster_is_up():
            if not settings.started_cluster:
                say("    already running; `make demo-down` will leave it running")
        else:
            settings.started_cluster = True
            settings.save()
            run_cluster_script("up")
    settings.save()
    cluster = local_cluster()
    with config.new_client_from_config(config_file=str(cluster.kubeconfig)) as api:  # type: ignore[no-untyped-call]
        core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
        with progress.step(f"helm install {settings.release} (namespace {settings.operator_namespace})"):
            apply_namespace(core, settings.namespace)  # the chart's Role goes there
            install_chart(cluster, settings)
        with progress.step("the operator, as a local process under the chart's ServiceAccount (no container runtime)"):
            start_operator(cluster, settings)
        upstream = None
        with progress.step("the upstream"):
            if settings.offline:
                upstream = start_upstream(settings)
                say(f"    fake Anthropic API at {upstream}")
            else:
                say("    api.anthropic.com with this machine's Claude Code login")
        with progress.step(f"login Secret {LOGIN_SECRET} in namespace {settings.namespace}"):
            login = derive_login(settings.offline, Path.home())
            if ".credentials.json" in login:
                say(
                    "    from ~/.claude/.credentials.json: the pod may refresh this login, which can sign out this "
                    "machine's CLI; a `claude setup-token` token in CLAUDE_CODE_OAUTH_TOKEN avoids that"
                )
            apply_login_secret(core, settings.namespace, login)
        with progress.step(f"ClaudeCodeProvider {PROVIDER}"):
            apply_provider(cluster, settings)
        origin = "from the images `make images` built" if image_mode_refs() else "from .venv/bin (POD_IMAGES=0)"
        with progress.step(f"the pod runner: the provider pod's containers {origin}, on its pod IP"):
            start_pod_runner(cluster, settings, upstream)
        with progress.step(f"waiting for `kubectl get ccp {PROVIDER}` to show Ready"):
            wait_ready(custom, settings)
            say(cluster.kubectl("get", "ccp", "-n", settings.namespace).stdout.rstrip())
        with progress.step("one completion through the endpoint"):
            endpoint = fetch_endpoint(core, settings.namespace)
            say(f"    reply: {probe_completion(endpoint)}")
    say(f"make demo: up in {time.monotonic() - progress.began:.0f} s")
    say(render_usage(settings, cluster, endpoint))


# ---------------------------------------------------------------- down


def remove_providers(cluster: Cluster, settings: Settings) -> None:
    """Delete the demo's resources while the operator still runs, then drop any finalizer left on them (the
    operator puts none; one that an older version put is removed by the operator, or here when it is gone)."""
    ns = settings.namespace
    cluster.kubectl("delete", "ccp", "--all", "-n", ns, "--wait", "--timeout=60s", check=False)
    for name in cluster.kubectl("get", "ccp", "-n", ns, "-o", "name", check=False).stdout.split():
        cluster.kubectl("patch", "-n", ns, name, "--type=merge", "-p", '{"metadata":{"finalizers":[]}}', check=False)


def down(state_dir: Path) -> None:
    settings = Settings.load(state_dir)
    if settings is None:
        stopped = processes.stop_all(state_dir) if state_dir.is_dir() else []
        say("make demo-down: no demo state; " + (f"stopped {stopped}" if stopped else "nothing to stop"))
        return
    cluster = local_cluster()
    here = not settings.started_cluster and cluster_is_up()
    if here:
        say(f"==> deleting the demo's resources in namespace {settings.namespace}")
        remove_providers(cluster, settings)
    for what in processes.stop_all(state_dir):
        say(f"==> stopped {what}")
    if settings.started_cluster:
        say("==> stopping the control plane `make demo` started")
        run_cluster_script("down")
    elif here:
        say(f"==> helm uninstall {settings.release}; deleting namespaces (the cluster was running before: kept)")
        cluster.helm(
            "uninstall", settings.release, "-n", settings.operator_namespace, "--ignore-not-found",
            helm_home=state_dir / "helm", check=False, timeout=120,
        )  # fmt: skip
        cluster.kubectl(
            "delete", "namespace", settings.namespace, settings.operator_namespace, "--ignore-not-found",
            "--timeout=90s", check=False, timeout=120,
        )  # fmt: skip
    shutil.rmtree(state_dir, ignore_errors=True)
    say("make demo-down: nothing of the demo is running")


def default_state_dir() -> Path:
    return Path(os.environ.get("DEMO_STATE_DIR") or Path(cluster_paths()["CLUSTER_CACHE"]) / "demo")
