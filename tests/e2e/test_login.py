"""`claude-code-operator login` against the real API server, as a user runs it: a subprocess with a
kubeconfig and a home directory holding a Claude Code login (or a token on stdin), also through the real
kubectl as the plugin `kubectl claude-code login`. The last test takes the resource it writes with
`--apply` through the operator and the pod runner to a completion by the official openai client."""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from claude_code_devkit.cluster import Cluster
from claude_code_devkit.fakes.anthropic_api import FakeAnthropic, TextReply
from claude_code_devkit.operator_process import OperatorDeployment
from claude_code_devkit.paths import REPO
from claude_code_devkit.podrunner import PodRunner
from tests.e2e.test_operator import GROUP, PLURAL, VERSION, get_ccp
from tests.e2e.test_operator_runtime import START, chat, keys, running_pod, within

BIN = REPO / ".venv" / "bin"
LOGIN = [str(BIN / "claude-code-operator"), "login"]
MANAGER = "claude-code-login"


def access_token() -> str:
    return "sk-ant-oat01-" + secrets.token_urlsafe(32)


def write_laptop_login(home: Path, access: str, expires_in: timedelta = timedelta(hours=8)) -> dict[str, Any]:
    """A `claude auth login` as the CLI leaves it on Linux: ~/.claude/.credentials.json and ~/.claude.json."""
    oauth = {
        "accessToken": access,
        "refreshToken": "sk-ant-ort01-" + secrets.token_urlsafe(32),
        "expiresAt": int((datetime.now(UTC) + expires_in).timestamp() * 1000),
        "scopes": ["user:inference", "user:profile"],
        "subscriptionType": "max",
    }
    (home / ".claude").mkdir(parents=True, exist_ok=True)
    (home / ".claude" / ".credentials.json").write_text(json.dumps({"claudeAiOauth": oauth}))
    state = {"oauthAccount": {"emailAddress": "alice@example.com"}, "userID": "u-1", "projects": {"/src": {}}}
    (home / ".claude.json").write_text(json.dumps(state))
    return oauth


def login(
    home: Path, kubeconfig: Path, *args: str, stdin: str = "", program: list[str] | None = None, path: str = ""
) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "CLAUDE_CODE_OAUTH_TOKEN")},
        "HOME": str(home),
        "KUBECONFIG": str(kubeconfig),
        "PATH": path or os.environ["PATH"],
    }
    command = [*(program or LOGIN), *args]
    return subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=60, env=env, check=False)


def secret(core: client.CoreV1Api, namespace: str, name: str) -> tuple[client.V1Secret, dict[str, str]]:
    found = core.read_namespaced_secret(name, namespace)
    return found, {k: base64.b64decode(v).decode() for k, v in (found.data or {}).items()}


def test_login_creates_the_secret_then_updates_it_idempotently(
    core: client.CoreV1Api, namespace: str, kubeconfig: Path, tmp_path: Path
) -> None:
    oauth = write_laptop_login(tmp_path, access_token())

    first = login(tmp_path, kubeconfig, "-n", namespace, "--name", "alice")

    assert first.returncode == 0, first.stderr
    assert f"Secret {namespace}/alice-login created (keys: .claude.json, .credentials.json)." in first.stdout
    assert "single-use" in first.stderr
    assert "spec.credentials.secretName: alice-login" in first.stdout
    created, data = secret(core, namespace, "alice-login")
    assert json.loads(data[".credentials.json"]) == {"claudeAiOauth": oauth}
    assert json.loads(data[".claude.json"]) == {"oauthAccount": {"emailAddress": "alice@example.com"}, "userID": "u-1"}
    # Labelled for the resource it names: the operator serves an opted-in login to that resource only.
    assert created.metadata.labels == {
        "app.kubernetes.io/part-of": "claude-code-operator",
        "claudecode.dev/login-kind": "oauth",
        "claudecode.dev/provider": "alice",
    }
    expires = datetime.fromtimestamp(oauth["expiresAt"] / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert created.metadata.annotations == {
        "claudecode.dev/login-expires-at": expires,
        "claudecode.dev/login-written-by": "login-command",
    }
    assert [(f.manager, f.operation) for f in created.metadata.managed_fields] == [(MANAGER, "Apply")]
    for text in (first.stdout, first.stderr):
        assert oauth["accessToken"] not in text
        assert oauth["refreshToken"] not in text

    again = login(tmp_path, kubeconfig, "-n", namespace, "--name", "alice")
    assert again.returncode == 0, again.stderr
    assert f"Secret {namespace}/alice-login unchanged" in again.stdout
    assert secret(core, namespace, "alice-login")[0].metadata.resource_version == created.metadata.resource_version

    # `claude auth login` again on the laptop: the newer login replaces the old one.
    newer = write_laptop_login(tmp_path, access_token(), expires_in=timedelta(hours=9))
    updated = login(tmp_path, kubeconfig, "-n", namespace, "--name", "alice")
    assert updated.returncode == 0, updated.stderr
    assert f"Secret {namespace}/alice-login updated" in updated.stdout
    assert json.loads(secret(core, namespace, "alice-login")[1][".credentials.json"]) == {"claudeAiOauth": newer}

    # The pod refreshed and wrote back a newer login: this machine's older copy does not overwrite it.
    pod_login = {**newer, "refreshToken": "sk-ant-ort01-rotated", "expiresAt": newer["expiresAt"] + 3_600_000}
    core.patch_namespaced_secret(
        "alice-login",
        namespace,
        {
            "metadata": {"annotations": {"claudecode.dev/login-written-by": "pod/1234"}},
            "stringData": {".credentials.json": json.dumps({"claudeAiOauth": pod_login})},
        },
    )
    stale = login(tmp_path, kubeconfig, "-n", namespace, "--name", "alice")
    assert stale.returncode == 1
    assert "newer login" in stale.stderr
    assert "pod/1234" in stale.stderr
    assert json.loads(secret(core, namespace, "alice-login")[1][".credentials.json"]) == {"claudeAiOauth": pod_login}

    # A setup-token instead: the OAuth login goes (the key this command wrote and the one the pod wrote).
    token = access_token()
    switched = login(tmp_path, kubeconfig, "-n", namespace, "--name", "alice", "--token-stdin", stdin=token + "\n")
    assert switched.returncode == 0, switched.stderr
    assert "Removed the previous login's .credentials.json" in switched.stdout
    replaced, data = secret(core, namespace, "alice-login")
    assert data == {"oauth-token": token}
    assert replaced.metadata.labels["claudecode.dev/login-kind"] == "setup-token"
    assert token not in switched.stdout + switched.stderr


def test_apply_writes_a_provider_the_api_server_accepts_and_says_what_next(
    core: client.CoreV1Api,
    api: client.ApiClient,
    namespace: str,
    kubeconfig: Path,
    tmp_path: Path,
    claude_code_crd: None,
) -> None:
    custom = client.CustomObjectsApi(api)
    write_laptop_login(tmp_path, access_token())
    # A platform team's resource already there: the command takes over only credentials and owner.
    custom.create_namespaced_custom_object(
        GROUP,
        VERSION,
        namespace,
        PLURAL,
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "ClaudeCodeProvider",
            "metadata": {"name": "alice"},
            "spec": {"credentials": {"secretName": "hand-made"}, "service": {"port": 8000}},
        },
    )

    done = login(tmp_path, kubeconfig, "-n", namespace, "--name", "alice", "--apply")

    assert done.returncode == 0, done.stderr
    spec = get_ccp(custom, namespace, "alice")["spec"]
    assert spec["credentials"]["secretName"] == "alice-login"
    assert spec["owner"] == "alice@example.com"
    assert spec["service"]["port"] == 8000, "a field the command does not own is kept"
    assert f"kubectl get ccp alice -n {namespace} -w" in done.stdout
    assert f"http://alice.{namespace}.svc:8000/v1" in done.stdout
    assert f"kubectl get secret alice-claude-code-keys -n {namespace}" in done.stdout


def test_refusals_from_the_cluster_say_what_to_do(
    core: client.CoreV1Api, namespace: str, kubeconfig: Path, tmp_path: Path, sa_kubeconfig: Any
) -> None:
    write_laptop_login(tmp_path, access_token())

    forbidden = login(tmp_path, sa_kubeconfig(namespace, "default"), "-n", namespace, "--name", "alice")
    assert forbidden.returncode == 1
    assert "forbidden" in forbidden.stderr
    assert f"kubectl auth can-i patch secrets -n {namespace}" in forbidden.stderr

    missing = login(tmp_path, kubeconfig, "-n", f"{namespace}-absent", "--name", "alice")
    assert missing.returncode == 1
    assert f"kubectl create namespace {namespace}-absent" in missing.stderr

    nowhere = login(tmp_path, tmp_path / "no-kubeconfig", "-n", namespace, "--name", "alice")
    assert nowhere.returncode == 1
    assert "No kubeconfig at" in nowhere.stderr
    assert not core.list_namespaced_secret(namespace, label_selector="claudecode.dev/login-kind").items


def test_kubectl_claude_code_login_runs_as_a_kubectl_plugin(
    cluster: Cluster, core: client.CoreV1Api, namespace: str, kubeconfig: Path, tmp_path: Path
) -> None:
    token = access_token()
    path = f"{BIN}{os.pathsep}{Path(cluster.tool('kubectl')).parent}{os.pathsep}/usr/bin:/bin"

    done = login(
        tmp_path,
        kubeconfig,
        "claude-code", "login", "-n", namespace, "--name", "bob", "--token-stdin",
        stdin=token,
        program=[cluster.tool("kubectl")],
        path=path,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert f"Secret {namespace}/bob-login created (keys: oauth-token)." in done.stdout
    assert secret(core, namespace, "bob-login")[1] == {"oauth-token": token}
    listed = login(tmp_path, kubeconfig, "plugin", "list", program=[cluster.tool("kubectl")], path=path)
    assert str(BIN / "kubectl-claude_code") in listed.stdout


@pytest.mark.parametrize("kind", ["setup-token", "oauth"])
def test_a_login_from_this_machine_reaches_a_working_endpoint_with_one_command(
    kind: str,
    api: client.ApiClient,
    core: client.CoreV1Api,
    namespace: str,
    kubeconfig: Path,
    tmp_path: Path,
    operator: OperatorDeployment,
    pod_runner: PodRunner,
    fake_upstream: FakeAnthropic,
) -> None:
    custom = client.CustomObjectsApi(api)
    operator.start()
    token = access_token()
    if kind == "oauth":
        write_laptop_login(tmp_path, token)  # a `claude auth login` on this machine; the pod gets its access token
    started = time.monotonic()

    stdin_token = ["--token-stdin"] if kind == "setup-token" else []
    done = login(tmp_path, kubeconfig, "-n", namespace, "--name", "carol", "--apply", *stdin_token, stdin=token)

    assert done.returncode == 0, done.stderr
    pod = running_pod(core, pod_runner, namespace, "carol")
    try:
        within(START, custom, namespace, "carol", "Ready", "True")
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\nstatus: {get_ccp(custom, namespace, 'carol').get('status')}") from None
    ready_after = time.monotonic() - started
    fake_upstream.clear()
    fake_upstream.enqueue(TextReply(["Hello from ", "a laptop's login"]))
    assert chat(pod, keys(core, namespace, "carol")["master-key"]) == "Hello from a laptop's login"
    assert [r.bearer_token for r in fake_upstream.messages_requests] == [token]
    for value in (token, *keys(core, namespace, "carol").values()):
        assert value not in done.stdout + done.stderr, "the command printed a secret"
    print(f"{kind}: login --apply to Ready: {ready_after:.1f} s")


def test_a_user_who_may_write_secrets_but_not_read_them_still_logs_in(
    cluster: Cluster, core: client.CoreV1Api, namespace: str, tmp_path: Path, sa_kubeconfig: Any
) -> None:
    cluster.kubectl("create", "role", "login-writer", "--verb=create,patch", "--resource=secrets", "-n", namespace)
    cluster.kubectl(
        "create", "rolebinding", "login-writer", "--role=login-writer", f"--serviceaccount={namespace}:default",
        "-n", namespace,
    )  # fmt: skip
    token = access_token()

    done = login(tmp_path, sa_kubeconfig(namespace, "default"), "--name", "erin", "--token-stdin", stdin=token)

    assert done.returncode == 0, done.stderr
    assert f"Secret {namespace}/erin-login applied" in done.stdout, "the context's namespace, as kubectl uses it"
    assert "cannot be checked" in done.stderr
    assert secret(core, namespace, "erin-login")[1] == {"oauth-token": token}
