"""`make demo` on the cluster KUBECONFIG names: real containers, no pod runner, no local operator.

`up`: helm installs the chart (the operator runs as its Deployment, image from the chart or
DEMO_OPERATOR_IMAGE), the login Secret from this machine's login, a ClaudeCodeProvider (provider
image from the CRD's default or DEMO_PROVIDER_IMAGE), Ready, then `kubectl port-forward` to its
Service (left running for the printed examples) and one completion through it.

`down`: stops the port-forward, deletes the resource while the operator still runs, uninstalls the
release and deletes only the namespaces `up` created. The CRD stays (the chart keeps it).

Offline mode cannot work here: the fake Anthropic API would listen on this machine's loopback,
which no pod of a real cluster reaches.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import time
from pathlib import Path

import openai
from kubernetes import client, config

from claude_code_devkit.cluster import Cluster, cluster_paths
from claude_code_devkit.demo import processes
from claude_code_devkit.demo.steps import (
    COMPLETION_TIMEOUT,
    LOGIN_SECRET,
    PROVIDER,
    DemoError,
    Endpoint,
    Progress,
    Settings,
    apply_login_secret,
    apply_namespace,
    apply_provider,
    complete,
    derive_login,
    helm,
    loudly,
    prepare_state_dir,
    remove_providers,
    render_examples,
    say,
    service_account,
    wait_ready,
)
from claude_code_devkit.operator_process import CHART
from claude_code_devkit.waiting import wait_until
from claude_code_operator.render.images import to_repository

#: Image pulls and a cold start of LiteLLM on a real node take longer than on this machine.
READY_TIMEOUT = 600.0
PORT_FORWARD_TIMEOUT = 60.0
_FORWARDING = re.compile(r"Forwarding from 127\.0\.0\.1:(\d+) ->")


def remote_cluster(kubeconfig: str) -> Cluster:
    """The user's cluster, with kubectl and helm from the cache when built there, else from PATH."""
    return Cluster(kubeconfig=Path(kubeconfig), bin_dir=Path(cluster_paths()["BIN_DIR"]), local=False)


def derive_remote_kubeconfig(value: str, local: Path) -> str | None:
    """The real cluster KUBECONFIG names, or None for the local control plane (unset, or its own kubeconfig)."""
    if not value:
        return None
    if os.pathsep in value:
        raise DemoError(f"KUBECONFIG lists several files ({value}); `make demo` needs one: export KUBECONFIG=<file>")
    path = Path(value).expanduser().resolve()
    if path == local.resolve():
        return None
    if not path.is_file():
        raise DemoError(f"KUBECONFIG={value} is not a file; unset it for the local control plane")
    return str(path)


def derive_image_values(image: str | None) -> list[str]:
    """helm --set flags for an operator image `repository[:tag]` (a registry port is not a tag)."""
    if not image:
        return []
    repository, _, tag = image.rpartition(":")
    if not repository or "/" in tag:
        return ["--set", f"image.repository={image}"]
    return ["--set", f"image.repository={repository}", "--set", f"image.tag={tag}"]


def derive_allowed_image_values(provider_image: str | None) -> list[str]:
    """helm --set flags letting the operator run a provider image from elsewhere than the chart's default."""
    if not provider_image:
        return []
    return ["--set", f"allowedImages={{{to_repository(provider_image)}}}"]


def install_chart(cluster: Cluster, settings: Settings) -> None:
    helm(
        cluster, settings, "upgrade", "--install", settings.release, str(CHART),
        "--namespace", settings.operator_namespace, "--create-namespace", "--take-ownership",
        "--set", f"watchNamespaces={{{settings.namespace}}}",
        *derive_image_values(os.environ.get("DEMO_OPERATOR_IMAGE")),
        *derive_allowed_image_values(os.environ.get("DEMO_PROVIDER_IMAGE")),
        "--wait", "--timeout", "300s",
    )  # fmt: skip


def start_port_forward(cluster: Cluster, settings: Settings) -> tuple[processes.Record, int]:
    """`kubectl port-forward svc/<provider>` on a free local port, recorded for `down`."""
    argv = [
        cluster.tool("kubectl"), "--kubeconfig", str(cluster.kubeconfig), "port-forward", "-n", settings.namespace,
        f"svc/{PROVIDER}", ":4000", "--address", "127.0.0.1",
    ]  # fmt: skip
    log = settings.state_dir / "port-forward.log"
    offset = log.stat().st_size if log.is_file() else 0  # an earlier port-forward's lines come first
    record = processes.start_detached(settings.state_dir, "port-forward", argv, os.environ)

    def port() -> str | None:
        with log.open("rb") as lines:
            lines.seek(offset)
            found = _FORWARDING.search(lines.read().decode(errors="replace"))
        if found is None and not processes.is_running(record):
            raise DemoError(f"kubectl port-forward exited: {Path(record.log).read_text(errors='replace')[-2000:]}")
        return found.group(1) if found else None

    return record, int(wait_until(port, timeout=PORT_FORWARD_TIMEOUT, interval=0.5, what="kubectl port-forward"))


def complete_through_port_forward(cluster: Cluster, settings: Settings, api_key: str) -> tuple[Endpoint, str]:
    """A port-forward and one completion through it. kubectl port-forward exits when a forwarded connection
    fails (LiteLLM not listening yet), so one that died is replaced until the completion works or time is up."""
    forward: list[tuple[processes.Record, Endpoint]] = []

    def attempt() -> tuple[Endpoint, str]:
        if not forward or not processes.is_running(forward[-1][0]):
            record, port = start_port_forward(cluster, settings)
            forward.append((record, Endpoint(f"http://127.0.0.1:{port}/v1", api_key)))
        endpoint = forward[-1][1]
        return endpoint, complete(endpoint, "Say hello in one short sentence.")

    try:
        return wait_until(
            attempt, timeout=COMPLETION_TIMEOUT, interval=1, what="a completion through kubectl port-forward",
            ignore=(openai.APIConnectionError,),
        )  # fmt: skip
    except TimeoutError as exc:
        said = Path(forward[-1][0].log).read_text(errors="replace")[-1500:] if forward else ""
        raise DemoError(f"{exc}\nkubectl port-forward said:\n{said}") from None


def up(settings: Settings) -> None:
    assert settings.kubeconfig is not None
    prepare_state_dir(settings)
    if settings.offline:
        raise DemoError(
            "offline mode needs the local control plane: its fake Anthropic API listens on this machine's loopback, "
            "which pods in a real cluster cannot reach. Give the demo a login (CLAUDE_CODE_OAUTH_TOKEN from "
            "`claude setup-token`), or unset KUBECONFIG for the local demo."
        )
    cluster = remote_cluster(settings.kubeconfig)
    progress = Progress(total=6)
    with config.new_client_from_config(config_file=settings.kubeconfig) as api:  # type: ignore[no-untyped-call]
        core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
        with progress.step(f"the cluster in KUBECONFIG ({settings.kubeconfig})"):
            context = cluster.kubectl("config", "current-context", check=False).stdout.strip() or "(none)"
            server = api.configuration.host
            say(f"    context {context}, server {server}: real containers, images pulled by its nodes")
        with progress.step(f"helm install {settings.release} (namespace {settings.operator_namespace})"):
            if apply_namespace(core, settings.operator_namespace):
                settings.created_namespaces.append(settings.operator_namespace)
            if apply_namespace(core, settings.namespace):  # the chart's Role goes there
                settings.created_namespaces.append(settings.namespace)
            settings.save()
            install_chart(cluster, settings)
        with progress.step(f"login Secret {LOGIN_SECRET} in namespace {settings.namespace}"):
            apply_login_secret(core, settings.namespace, derive_login(False, Path.home()))
        with progress.step(f"ClaudeCodeProvider {PROVIDER}"):
            image = os.environ.get("DEMO_PROVIDER_IMAGE")
            apply_provider(cluster, settings, image)
            say(f"    provider image: {image or 'the CRD default (spec.runtime.image, spec.litellm.image)'}")
        with progress.step(f"waiting for `kubectl get ccp {PROVIDER}` to show Ready (image pulls included)"):
            wait_ready(custom, settings, timeout=READY_TIMEOUT)
            say(cluster.kubectl("get", "ccp", "-n", settings.namespace).stdout.rstrip())
        with progress.step(f"one completion through kubectl port-forward svc/{PROVIDER} (left running)"):
            keys = core.read_namespaced_secret(f"{PROVIDER}-claude-code-keys", settings.namespace).data or {}
            endpoint, reply = complete_through_port_forward(
                cluster, settings, base64.b64decode(keys["master-key"]).decode()
            )
            say(f"    {endpoint.base_url}\n    reply: {reply}")
    say(f"make demo: up in {time.monotonic() - progress.began:.0f} s")
    say(render_usage(settings, cluster, endpoint))


def render_usage(settings: Settings, cluster: Cluster, endpoint: Endpoint) -> str:
    ns = settings.namespace
    return f"""
The endpoint, through `kubectl port-forward` on this machine (in the cluster: http://{PROVIDER}.{ns}.svc:4000/v1,
open only to the clients spec.allowFrom names):

{render_examples(endpoint)}

Look around (KUBECONFIG={cluster.kubeconfig}):

  kubectl get ccp -n {ns}                        # NAME READY AUTH SUBSCRIPTION USED% ENDPOINT AGE
  kubectl describe ccp {PROVIDER} -n {ns}              # conditions and Events
  kubectl get pods,svc,cm,secrets,networkpolicies -n {ns}
  kubectl logs -n {settings.operator_namespace} deploy/{service_account(settings)}   # the operator (JSON logs)
  helm list -n {settings.operator_namespace}

Stop everything: make demo-down
"""


def down(settings: Settings) -> None:
    assert settings.kubeconfig is not None
    for what in processes.stop_all(settings.state_dir):
        say(f"==> stopped {what}")
    if not Path(settings.kubeconfig).is_file():
        loudly(f"{settings.kubeconfig} is gone: remove the demo's release and resources from that cluster by hand")
        shutil.rmtree(settings.state_dir, ignore_errors=True)
        return
    cluster = remote_cluster(settings.kubeconfig)
    say(f"==> deleting the demo's resources in namespace {settings.namespace}")
    remove_providers(cluster, settings)
    say(f"==> helm uninstall {settings.release} (the CRD stays: the chart keeps it)")
    helm_home = settings.state_dir / "helm"
    cluster.helm(
        "uninstall", settings.release, "-n", settings.operator_namespace, "--ignore-not-found", "--wait",
        helm_home=helm_home, check=False, timeout=300,
    )  # fmt: skip
    if settings.created_namespaces:
        say(f"==> deleting namespaces {', '.join(settings.created_namespaces)} (the demo created them)")
        cluster.kubectl(
            "delete", "namespace", *settings.created_namespaces, "--ignore-not-found", "--timeout=120s",
            check=False, timeout=150,
        )  # fmt: skip
    shutil.rmtree(settings.state_dir, ignore_errors=True)
    say("make demo-down: nothing of the demo is left in that cluster")
