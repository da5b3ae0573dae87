"""The operator's provider pod run from the images `make images` built (the pod runner's image mode).

The operator renders the pod with its default image, the tag `make images` gave the provider image;
the pod runner starts both containers from that image's root filesystem as the pod says: uid 10001,
read-only root, the login Secret, the LiteLLM ConfigMap and the emptyDirs at their mount paths. So the
official openai client reaches pod IP:4000 -> the image's LiteLLM -> the image's runtime -> the image's
bundled CLI -> the fake upstream on 127.0.0.1, and the operator's probes read the image's runtime.
With a refreshable login the `claude` container's write-back account is the projected token at the
in-cluster path, used from inside the image by an in-cluster client with exactly the operator's Role.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from kubernetes import client

from claude_code_devkit.buildah import has_image, image_refs
from claude_code_devkit.fakes.anthropic_api import FakeAnthropic, TextReply
from claude_code_devkit.operator_process import OperatorDeployment
from claude_code_devkit.podrunner import PodRunner, RunningContainer
from tests.e2e.test_operator import GROUP, PLURAL, VERSION, opted_in, read_pod
from tests.e2e.test_operator_runtime import START, chat, keys, login_secret, new_token, provider, running_pod, within

PROVIDER_IMAGE = image_refs()["provider"]


@pytest.fixture
def upstream() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        yield fake


@pytest.fixture
def image_runner(api: client.ApiClient, namespace: str, upstream: FakeAnthropic) -> Iterator[PodRunner]:
    """A pod runner of this test's namespace alone that runs the provider image's containers from it."""
    assert has_image(PROVIDER_IMAGE), f"{PROVIDER_IMAGE} is not in buildah's storage: run `make images`"
    env = {"ANTHROPIC_BASE_URL": upstream.base_url, "CLAUDE_CODE_MAX_RETRIES": "0"}
    runner = PodRunner(api, namespace=namespace, images={PROVIDER_IMAGE}, pod_overrides=lambda pod: env).start()
    try:
        yield runner
    finally:
        running = runner.running()
        runner.close()
        assert not [p for p in running.values() if p.alive()], "the pod runner left processes behind"
        if runner.loop_error is not None:
            raise runner.loop_error


def uid_of(pid: int) -> int:
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("Uid:"))
    return int(line.split()[1])


def test_the_operators_pod_serves_a_completion_from_the_provider_image(
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    namespace: str,
    operator: OperatorDeployment,
    image_runner: PodRunner,
    upstream: FakeAnthropic,
) -> None:
    operator.start()
    token = new_token()
    core.create_namespaced_secret(namespace, login_secret("alice-login", token))
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, provider("alice", "alice-login"))
    pod = running_pod(core, image_runner, namespace, "alice")
    rendered = read_pod(core, namespace, "alice-claude-code")
    assert rendered is not None
    assert {c.image for c in rendered.spec.containers} == {PROVIDER_IMAGE}
    for container in pod.containers.values():
        assert container.image == PROVIDER_IMAGE, pod.describe()
        assert uid_of(container.pid) == 10001
        with pytest.raises(OSError, match="Read-only file system"):  # the container's own view of its root
            (Path(f"/proc/{container.pid}/root") / "written-by-the-test").touch()
    within(START, custom, namespace, "alice", "Authenticated", "True")

    upstream.clear()
    upstream.default_reply = TextReply(text="served from the provider image")
    assert chat(pod, keys(core, namespace, "alice")["master-key"]) == "served from the provider image"
    assert {r.bearer_token for r in upstream.messages_requests} == {token}  # the Secret's login, mounted


IN_CLUSTER_READS = """
from lightkube import ApiError, Client
from lightkube.resources.core_v1 import Secret
client = Client()  # KubeConfig.from_env(): the in-cluster account, as the write-back makes it
print(client.get(Secret, "carol-login").metadata.name)
try:
    client.get(Secret, "carol-claude-code-keys")
except ApiError as error:
    print(error.status.code)
"""


def exec_in(container: RunningContainer, uid: int, program: list[str]) -> subprocess.CompletedProcess[str]:
    """`kubectl exec` into a container run from its image: its mount namespace and root, its env, `uid`."""
    return subprocess.run(
        ["nsenter", "--target", str(container.pid), "--mount", "--root", "--wdns=/", f"--setuid={uid}",
         f"--setgid={uid}", "--", *program],
        env=container.env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_the_write_back_account_in_the_image_is_the_projected_token_with_the_operators_role(
    api: client.ApiClient,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    namespace: str,
    operator: OperatorDeployment,
    image_runner: PodRunner,
) -> None:
    server = urlsplit(api.configuration.host)
    operator.start("--api-server-endpoint", f"{server.hostname}:{server.port}")
    login = {
        "accessToken": new_token(),
        "refreshToken": "sk-ant-ort01-" + secrets.token_urlsafe(32),
        "expiresAt": int((time.time() + 3600) * 1000),
        "scopes": ["user:inference", "user:profile"],
        "subscriptionType": "max",
    }
    account = {"oauthAccount": {"accountUuid": "0f7e0000-0000-4000-8000-000000000002", "emailAddress": "c@example.com"}}
    meta = client.V1ObjectMeta(name="carol-login", labels=opted_in("carol"))
    data = {".credentials.json": json.dumps({"claudeAiOauth": login}), ".claude.json": json.dumps(account)}
    core.create_namespaced_secret(namespace, client.V1Secret(metadata=meta, string_data=data))
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, provider("carol", "carol-login"))
    pod = running_pod(core, image_runner, namespace, "carol")
    token_dir = "/var/run/secrets/kubernetes.io/serviceaccount"
    assert token_dir in pod.container("claude").mounts
    assert token_dir not in pod.container("litellm").mounts
    assert "KUBECONFIG" not in pod.container("claude").env  # in-cluster, as in a real pod

    reads = exec_in(pod.container("claude"), 10001, ["python", "-c", IN_CLUSTER_READS])
    assert reads.returncode == 0, reads.stderr
    assert reads.stdout.split() == ["carol-login", "403"]  # that Secret, and no other
