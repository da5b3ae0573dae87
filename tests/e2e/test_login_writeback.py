"""Logins stay alive in pods: a real refresh written back, an in-pod login persisted, no restart for either.

The CLI refreshes its OAuth login at a fixed HTTPS address; `FakeOAuthServer` is the HTTPS proxy the
pod's CLI is given (`HTTPS_PROXY`, a throw-away CA in `NODE_EXTRA_CA_CERTS`), answering only the token
endpoint, on 127.0.0.1, with single-use rotating refresh tokens. The pod runner gives the pod a token of
the ServiceAccount the operator rendered, so the runtime writes back with exactly that Role.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import tempfile
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from lightkube import ApiError, AsyncClient, KubeConfig
from lightkube.resources.core_v1 import Secret
from lightkube.types import PatchType

from claude_code_devkit.fakes.anthropic_api import TextReply
from claude_code_devkit.fakes.oauth_server import FakeOAuthServer, IssuedLogin
from claude_code_devkit.network_analyzer import analyze, egress_traffic
from claude_code_devkit.waiting import wait_until
from claude_code_provider.metrics import Metrics
from claude_code_provider.runtime.writeback import LoginWriter, WriteBackSettings
from tests.e2e.test_operator import GROUP, PLURAL, VERSION, condition, get_ccp, opted_in, read_pod
from tests.e2e.test_operator_runtime import (
    START,
    World,
    chat,
    keys,
    provider,
    running_pod,
    world,  # noqa: F401 (a fixture)
)

WRITTEN_BY = "claudecode.dev/login-written-by"
EXPIRES_AT = "claudecode.dev/login-expires-at"
ACCOUNT = {"oauthAccount": {"accountUuid": "0f7e0000-0000-4000-8000-000000000001", "emailAddress": "c@example.com"}}


@pytest.fixture
def oauth(
    world: World,  # noqa: F811
    tmp_path: Path,
    pod_env: Any,
) -> Iterator[FakeOAuthServer]:
    with FakeOAuthServer(tmp_path) as server:
        server.ca_file.chmod(0o644)  # a CA certificate is public; the pod's user reads it
        pod_env(
            world.namespace,
            {
                "HTTPS_PROXY": server.proxy_url,
                "https_proxy": server.proxy_url,
                "NODE_EXTRA_CA_CERTS": str(server.ca_file),
            },
            files=[server.ca_file],
        )
        yield server


def oauth_secret(name: str, login: IssuedLogin, annotations: Mapping[str, str] | None = None) -> client.V1Secret:
    """Labelled for the resource `name` without `-login` names."""
    return client.V1Secret(
        metadata=client.V1ObjectMeta(
            name=name, annotations=dict(annotations or {}), labels=opted_in(name.removesuffix("-login"))
        ),
        string_data={".credentials.json": json.dumps(login.credentials()), ".claude.json": json.dumps(ACCOUNT)},
    )


def secret_login(core: client.CoreV1Api, ns: str, name: str) -> tuple[dict[str, Any], dict[str, str]]:
    secret = core.read_namespaced_secret(name, ns)
    creds = json.loads(base64.b64decode(secret.data[".credentials.json"]))["claudeAiOauth"]
    return creds, dict(secret.metadata.annotations or {})


def reconciles(metrics: str, trigger: str) -> float:
    prefix = f'claude_code_operator_reconcile_duration_seconds_count{{trigger="{trigger}"}}'
    return sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines() if line.startswith(prefix))


def write_atomically(path: Path, data: bytes, owner: tuple[int, int] | None = None) -> None:
    """As the CLI writes its credentials: a temporary file renamed over the old one, as the container's
    user (`owner`: a container run from its image; else ours, as a local program runs)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(tmp, 0o600)
    if owner is not None:
        os.chown(tmp, *owner)
    os.replace(tmp, path)


def no_secret_anywhere(texts: Mapping[str, str], secrets: list[str]) -> None:
    for where, text in texts.items():
        for value in secrets:
            assert value not in text, f"a token in {where}"


def test_a_real_refresh_is_written_back_survives_a_pod_restart_and_does_not_restart_the_pod(
    world: World,  # noqa: F811
    oauth: FakeOAuthServer,
    tmp_path: Path,
) -> None:
    core, custom, ns, fake = world.core, world.custom, world.namespace, world.fake_upstream
    # The local control plane publishes no default/kubernetes EndpointSlice (loopback addresses are not
    # allowed in one): its real address is given as the chart's apiServer.endpoints would.
    api_server = urlsplit(world.api.configuration.host)
    address, port = api_server.hostname, api_server.port
    assert address == "127.0.0.1", world.api.configuration.host
    assert port is not None, world.api.configuration.host
    assert port != 443, "the local API server listens elsewhere than its Service's port, as on kubeadm"
    proc = world.operator.start("--api-server-endpoint", f"{address}:{port}")
    expired = oauth.issue(expires_in=-60)  # the CLI refreshes at once (its warm processes start with it)
    core.create_namespaced_secret(ns, oauth_secret("carol-login", expired))
    # No Secret event reconciles before the resource names the Secret: any later one is the write-back's.
    before = reconciles(proc.metrics(), "secret")
    custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, provider("carol", "carol-login"))
    pod = running_pod(core, world.pod_runner, ns, "carol")

    # The write-back access the operator rendered: that one Secret, get and patch, for this pod alone.
    rbac = client.RbacAuthorizationV1Api(world.api)
    role = rbac.read_namespaced_role("carol-claude-code", ns)
    assert [(r.resource_names, r.verbs) for r in role.rules] == [(["carol-login"], ["get", "patch"])]
    assert rbac.read_namespaced_role_binding("carol-claude-code", ns).subjects[0].name == "carol-claude-code"
    spec = core.read_namespaced_pod("carol-claude-code", ns).spec
    # Its API token is the `claude` container's alone: the pod automounts none (so the API server added
    # none), the sidecar mounts no token volume and its process gets no kubeconfig.
    assert (spec.service_account_name, spec.automount_service_account_token) == ("carol-claude-code", False)
    tokens = [v.name for v in spec.volumes if v.projected and any(s.service_account_token for s in v.projected.sources)]
    assert tokens == ["api-access"]
    mounts = {c.name: sorted(m.name for m in c.volume_mounts or []) for c in spec.containers}
    assert mounts == {
        "claude": ["api-access", "claude-config", "claude-home", "claude-tmp", "login"],
        "litellm": ["litellm-config", "litellm-tmp"],
    }
    claude, litellm = pod.container("claude"), pod.container("litellm")
    if claude.image:  # from its image: the projected token where the pod mounts it, in `claude` alone
        assert "api-access" in {source.name for source in claude.mounts.values()}, pod.describe()
        assert "api-access" not in {source.name for source in litellm.mounts.values()}, pod.describe()
    else:  # a local program: a kubeconfig holding that token
        assert "KUBECONFIG" in claude.env
    assert "KUBECONFIG" not in litellm.env
    # Its egress reaches the API server at its real address and port, and nothing else of its host.
    net = client.NetworkingV1Api(world.api)
    policies = [world.api.sanitize_for_serialization(p) for p in net.list_namespaced_network_policy(ns).items]
    assert sorted(p["metadata"]["name"] for p in policies) == ["carol-claude-code", "carol-claude-code-api"]
    pod_doc = world.api.sanitize_for_serialization(core.read_namespaced_pod("carol-claude-code", ns))
    namespace_doc = world.api.sanitize_for_serialization(core.read_namespace(ns))
    for doc, kind in ((pod_doc, "Pod"), (namespace_doc, "Namespace")):
        doc.update(apiVersion="v1", kind=kind)
    for doc in policies:  # a list's items come without their kind, which nca needs
        doc.update(apiVersion="networking.k8s.io/v1", kind="NetworkPolicy")
    labels = {"claudecode.dev/provider": "carol"}
    verdicts: dict[Literal["permits", "forbids"], dict[str, Any]] = {
        "permits": egress_traffic("must-pass", ns, labels, [("127.0.0.1/32", port)]),
        "forbids": egress_traffic("must-not-pass", ns, labels, [("127.0.0.1/32", port + 1), ("127.0.0.2/32", port)]),
    }
    for query, traffic in verdicts.items():
        (tmp_path / query).mkdir()
        answer = analyze(query, traffic, policies, [namespace_doc, pod_doc], tmp_path / query)
        assert answer["numerical_result"] == 0, json.dumps([answer, policies], indent=1)

    master_key = keys(core, ns, "carol")["master-key"]
    fake.clear()
    fake.default_reply = TextReply(["Refreshed and ", "served"])
    assert chat(pod, master_key) == "Refreshed and served"
    refreshes = oauth.accepted()
    assert [r.refresh_token for r in refreshes] == [expired.refresh_token], oauth.refreshes
    rotated_access = fake.messages_requests[-1].bearer_token
    assert rotated_access not in (None, expired.access_token)

    # Written back by the pod itself, with the rotated refresh token.

    def written_back() -> tuple[dict[str, Any], dict[str, str]] | None:
        creds, annotations = secret_login(core, ns, "carol-login")
        return (creds, annotations) if creds["accessToken"] == rotated_access else None

    creds, annotations = wait_until(written_back, timeout=30, what="the refreshed login in the Secret")
    assert annotations[WRITTEN_BY] == f"pod/{pod.uid}"
    assert creds["refreshToken"] != expired.refresh_token
    assert oauth.usable(creds["refreshToken"]), "the Secret holds the live refresh token"
    expires = datetime.fromisoformat(annotations[EXPIRES_AT].replace("Z", "+00:00"))
    assert abs(expires.timestamp() * 1000 - creds["expiresAt"]) < 1000
    assert expires > datetime.now(UTC) + timedelta(hours=7)

    # The operator saw the change and kept the pod: it already runs that login.
    wait_until(lambda: reconciles(proc.metrics(), "secret") > before, timeout=30, what="a reconcile for the Secret")
    live = read_pod(core, ns, "carol-claude-code")
    assert live is not None
    assert (live.metadata.uid, live.metadata.deletion_timestamp) == (pod.uid, None), "the pod was replaced"
    assert pod.alive()
    assert chat(pod, master_key) == "Refreshed and served"
    status = get_ccp(custom, ns, "carol")["status"]
    assert status["auth"]["loginKind"] == "oauth"
    assert status["auth"]["writeBack"] is True
    assert "loginExpiresAt" not in status["auth"] or status["auth"]["loginExpiresAt"] is None
    assert condition({"status": status}, "LoginExpiring")["reason"] == "RefreshedInPod"  # type: ignore[index]

    # A pod restart: the next pod starts from the Secret, i.e. the rotated login, and works.
    core.delete_namespaced_pod("carol-claude-code", ns)
    second = running_pod(core, world.pod_runner, ns, "carol", old_uid=pod.uid)
    fake.clear()
    assert chat(second, master_key) == "Refreshed and served"
    assert [r.bearer_token for r in fake.messages_requests] == [rotated_access]
    assert [r.accepted for r in oauth.refreshes] == [True], "no refresh token was ever used twice"
    assert oauth.usable(secret_login(core, ns, "carol-login")[0]["refreshToken"])

    # A foreign change (a new login from a laptop) replaces the pod; the new pod serves the new login.
    fresh = oauth.issue()
    core.replace_namespaced_secret("carol-login", ns, oauth_secret("carol-login", fresh, {WRITTEN_BY: "login-command"}))
    third = running_pod(core, world.pod_runner, ns, "carol", old_uid=second.uid)
    fake.clear()
    assert chat(third, master_key) == "Refreshed and served"
    assert [r.bearer_token for r in fake.messages_requests] == [fresh.access_token]

    tokens = [expired.access_token, expired.refresh_token, rotated_access, creds["refreshToken"], fresh.refresh_token]
    events = json.dumps([e.to_dict() for e in core.list_namespaced_event(ns).items], default=str)
    runtime_logs = "".join(p.container("claude").output() for p in (pod, second, third))
    no_secret_anywhere(
        {"status": json.dumps(get_ccp(custom, ns, "carol")), "events": events, "operator logs": proc.logs(),
         "runtime logs": runtime_logs},
        tokens,
    )  # fmt: skip
    written = [
        json.loads(line) for line in pod.container("claude").output().splitlines() if '"Login written back"' in line
    ]
    assert len(written) == 1, "one refresh, one write"
    latency = datetime.fromisoformat(written[0]["time"]).timestamp() - refreshes[0].at
    print(f"refresh -> Secret written back: {latency:.2f} s")
    assert 0 < latency < 15, "file events, not a slow poll"


def test_warm_and_in_flight_processes_of_a_pod_refresh_once_and_write_back_once(
    world: World,  # noqa: F811
    oauth: FakeOAuthServer,
    pod_env: Any,
) -> None:
    """Four warm spares and four more requests, each in a CLI process of its own, when the access token falls
    due: one refresh, accepted, none refused, every request served, and one write-back of the rotated login."""
    core, custom, ns, fake = world.core, world.custom, world.namespace, world.fake_upstream
    world.operator.start()
    pod_env(ns, {"CLAUDE_CODE_POOL_SIZE": "4", "CLAUDE_CODE_POOL_WARM_MODELS": "sonnet"})
    buffer_s, lead_s = 300, 60  # the CLI refreshes within 5 minutes of expiry; time to start the pod first
    login = oauth.issue(expires_in=buffer_s + lead_s)
    due = login.expires_at_ms / 1000 - buffer_s
    core.create_namespaced_secret(ns, oauth_secret("hal-login", login))
    body = provider("hal", "hal-login")
    body["spec"]["admission"] = {"maxInFlight": 8}
    custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, body)
    pod = running_pod(core, world.pod_runner, ns, "hal")
    master_key = keys(core, ns, "hal")["master-key"]

    def warm() -> bool:
        metrics = httpx.get(f"http://{pod.pod_ip}:8080/metrics", timeout=5, trust_env=False).text
        return "claude_code_pool_ready_processes 4.0" in metrics

    wait_until(warm, timeout=due - time.time(), what="4 warm processes before the token falls due")
    assert oauth.refreshes == []
    fake.clear()
    fake.default_reply = TextReply("fresh", first_delay_s=0.3)
    wait_until(lambda: time.time() >= due + 1, timeout=lead_s + 5, what="the token to fall due")
    with ThreadPoolExecutor(8) as threads:
        answers = list(threads.map(lambda i: chat(pod, master_key, f"question {i}"), range(8)))
    assert answers == ["fresh"] * 8

    assert [(r.refresh_token, r.accepted) for r in oauth.refreshes] == [(login.refresh_token, True)]
    bearers = {r.bearer_token for r in fake.messages_requests}
    assert len(bearers) == 1, "all with the one rotated token"
    assert login.access_token not in bearers

    def written_back() -> dict[str, Any] | None:
        creds, annotations = secret_login(core, ns, "hal-login")
        return creds if creds["accessToken"] in bearers and annotations.get(WRITTEN_BY) == f"pod/{pod.uid}" else None

    creds = wait_until(written_back, timeout=30, what="the rotated login in the Secret")
    assert oauth.usable(creds["refreshToken"]), "the Secret holds the live refresh token"
    fake.wait_quiet()
    written = [line for line in pod.container("claude").output().splitlines() if '"Login written back"' in line]
    assert len(written) == 1, "one refresh, one write"


def test_a_login_refreshed_again_and_again_stays_live_across_a_restart(
    world: World,  # noqa: F811
    oauth: FakeOAuthServer,
) -> None:
    """Access tokens of 200 s: the CLI (which refreshes within 5 minutes of expiry) refreshes at nearly
    every request, in both pods. Every refresh must be accepted: the next pod refreshes with the token the
    previous one wrote back, and no refresh token is ever spent twice."""
    core, custom, ns = world.core, world.custom, world.namespace
    world.operator.start()
    oauth.access_seconds = 200
    core.create_namespaced_secret(ns, oauth_secret("gus-login", oauth.issue(expires_in=-60)))
    custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, provider("gus", "gus-login"))
    pod = running_pod(core, world.pod_runner, ns, "gus")
    master_key = keys(core, ns, "gus")["master-key"]
    for _ in range(3):
        assert chat(pod, master_key) == TextReply().full_text

    wait_until(caught_up_for(core, ns, oauth, pod.uid), timeout=30, what="the Secret to hold the live refresh token")
    before_restart = len(oauth.refreshes)
    assert before_restart >= 1
    core.delete_namespaced_pod("gus-claude-code", ns)
    second = running_pod(core, world.pod_runner, ns, "gus", old_uid=pod.uid)
    assert chat(second, master_key) == TextReply().full_text
    wait_until(lambda: len(oauth.refreshes) > before_restart, timeout=30, what="the new pod to refresh")
    assert all(r.accepted for r in oauth.refreshes), oauth.refreshes
    wait_until(caught_up_for(core, ns, oauth, second.uid), timeout=30, what="the new pod's write-back")
    print(f"refreshes, all accepted: {before_restart} in the first pod, {len(oauth.refreshes) - before_restart} after")


def caught_up_for(core: client.CoreV1Api, ns: str, oauth: FakeOAuthServer, uid: str) -> Any:
    """The Secret holds the live refresh token, written by the pod `uid`."""

    def check() -> bool:
        creds, annotations = secret_login(core, ns, "gus-login")
        return oauth.usable(creds["refreshToken"]) and annotations.get(WRITTEN_BY) == f"pod/{uid}"

    return check


def test_an_in_pod_login_is_persisted_without_a_restart(
    world: World,  # noqa: F811
    oauth: FakeOAuthServer,
) -> None:
    core, custom, ns, fake = world.core, world.custom, world.namespace, world.fake_upstream
    proc = world.operator.start()
    first = oauth.issue()
    core.create_namespaced_secret(ns, oauth_secret("dave-login", first))
    custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, provider("dave", "dave-login"))
    pod = running_pod(core, world.pod_runner, ns, "dave")
    master_key = keys(core, ns, "dave")["master-key"]
    assert chat(pod, master_key) == TextReply().full_text

    # `kubectl exec -it dave-claude-code -c claude -- claude auth login` replaces the credentials file.
    relogin = oauth.issue(expires_in=9 * 3600)
    claude = pod.container("claude")
    config_dir = claude.mounts["/var/lib/claude"]
    before = reconciles(proc.metrics(), "secret")
    write_atomically(config_dir / ".credentials.json", json.dumps(relogin.credentials()).encode(), claude.user)

    def persisted() -> dict[str, str] | None:
        creds, annotations = secret_login(core, ns, "dave-login")
        return annotations if creds["refreshToken"] == relogin.refresh_token else None

    annotations = wait_until(persisted, timeout=30, what="the in-pod login in the Secret")
    assert annotations[WRITTEN_BY] == f"pod/{pod.uid}"
    wait_until(lambda: reconciles(proc.metrics(), "secret") > before, timeout=30, what="a reconcile for the Secret")
    live = read_pod(core, ns, "dave-claude-code")
    assert live is not None
    assert (live.metadata.uid, live.metadata.deletion_timestamp) == (pod.uid, None), "the pod was replaced"

    # A blank credentials file (what a rejected refresh leaves) is never written over the login.
    write_atomically(config_dir / ".credentials.json", b"{}", claude.user)
    wait_until(
        lambda: re.search(r'"outcome": "invalid"', pod.container("claude").output()),
        timeout=30,
        what="the runtime to refuse the blank login",
    )
    creds, _ = secret_login(core, ns, "dave-login")
    assert creds["refreshToken"] == relogin.refresh_token
    assert fake.messages_requests, "the pod served"


def test_a_stale_writer_loses_to_a_newer_login_under_resource_version_conflicts(
    world: World,  # noqa: F811
    sa_kubeconfig: Any,
    tmp_path: Path,
) -> None:
    """Two writers race: while the pod's write-back is between its read and its patch, a newer login lands
    (as `claude-code-operator login` writes it). The pod's patch gets 409, it reads again, sees a login that is
    not its own lineage (a newer one) and writes nothing. Runs the runtime's writer against the API server with
    the rendered Role's token."""
    core, custom, ns = world.core, world.custom, world.namespace
    world.operator.start()
    with FakeOAuthServer(tmp_path) as oauth:
        old = oauth.issue()
        core.create_namespaced_secret(ns, oauth_secret("erin-login", old))
        body = provider("erin", "erin-login")
        body["spec"]["suspend"] = True  # no pod: this test is the only writer besides the "laptop"
        custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, body)

        def role_exists() -> bool:
            try:
                client.RbacAuthorizationV1Api(world.api).read_namespaced_role_binding("erin-claude-code", ns)
            except ApiException as exc:
                if exc.status == 404:
                    return False
                raise
            return True

        wait_until(role_exists, timeout=60, what="the rendered write-back Role")
        kubeconfig = sa_kubeconfig(ns, "erin-claude-code")
        newer = oauth.issue(expires_in=10 * 3600)
        stale = oauth.issue(expires_in=9 * 3600)  # newer than the Secret's now, older than the laptop's
        config_dir = tmp_path / "config"
        config_dir.mkdir()
        (config_dir / ".credentials.json").write_text(json.dumps(stale.credentials()))
        admin = client.CoreV1Api(world.api)
        raced: list[int] = []

        class RacingClient(AsyncClient):
            async def patch(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
                if not raced:  # the laptop's login lands between the pod's read and its patch
                    raced.append(1)
                    admin.replace_namespaced_secret(
                        "erin-login", ns, oauth_secret("erin-login", newer, {WRITTEN_BY: "login-command"})
                    )
                return await super().patch(*args, **kwargs)

        settings = WriteBackSettings(secret_name="erin-login", namespace=ns, pod_uid="stale-pod")
        metrics = Metrics()
        writer = LoginWriter(
            settings,
            config_dir,
            metrics,
            client_factory=lambda: RacingClient(KubeConfig.from_file(kubeconfig), trust_env=False),
        )
        # After the 409 the Secret holds a login of another lineage than the one this writer tried to write.
        assert asyncio.run(writer.write_back()) == "superseded"
        assert metrics.login_write_backs.labels(outcome="conflict")._value.get() == 1
        creds, annotations = secret_login(core, ns, "erin-login")
        assert (creds["refreshToken"], annotations[WRITTEN_BY]) == (newer.refresh_token, "login-command")

        # The Role allows that Secret only: the same token cannot touch another one.
        core.create_namespaced_secret(ns, oauth_secret("other-login", old))

        async def patch_other() -> None:
            api = AsyncClient(KubeConfig.from_file(kubeconfig), trust_env=False)
            try:
                await api.patch(Secret, "other-login", {"metadata": {"labels": {"x": "y"}}}, namespace=ns,
                                patch_type=PatchType.MERGE)  # fmt: skip
            finally:
                await api.close()

        with pytest.raises(ApiError) as refused:
            asyncio.run(patch_other())
        assert refused.value.status.code == 403


def test_a_setup_token_expiry_is_warned_and_the_warning_clears_when_renewed(
    world: World,  # noqa: F811
) -> None:
    core, custom, ns = world.core, world.custom, world.namespace
    proc = world.operator.start()
    token = "sk-ant-oat01-" + "x" * 40
    soon = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    core.create_namespaced_secret(
        ns,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name="fay-login", annotations={EXPIRES_AT: soon}, labels=opted_in("fay")),
            string_data={"oauth-token": token},
        ),
    )
    custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, provider("fay", "fay-login"))
    pod = running_pod(core, world.pod_runner, ns, "fay")

    def expiring(reason: str) -> dict[str, Any] | None:
        found = condition(get_ccp(custom, ns, "fay"), "LoginExpiring")
        return found if found is not None and found["reason"] == reason else None

    warned = wait_until(lambda: expiring("LoginExpiresSoon"), timeout=START, what="LoginExpiring=True")
    assert warned["status"] == "True"
    assert soon in warned["message"]
    assert f"claude-code-operator login --namespace {ns} --name fay --token-stdin" in warned["message"]
    status = get_ccp(custom, ns, "fay")["status"]["auth"]
    assert (status["loginKind"], status["loginExpiresAt"], status["writeBack"]) == ("setup-token", soon, False)
    spec = core.read_namespaced_pod("fay-claude-code", ns).spec
    assert spec.automount_service_account_token is False, "a setup-token login never gets an API token"

    def warning_event() -> list[Any]:
        return [e for e in core.list_namespaced_event(ns).items if e.reason == "LoginExpiresSoon"]

    events = wait_until(warning_event, timeout=30, what="the LoginExpiresSoon Event")
    assert [e.type for e in events] == ["Warning"]

    # Renewed (a new year-long token's expiry): the warning clears, the same pod keeps serving.
    later = (datetime.now(UTC) + timedelta(days=300)).strftime("%Y-%m-%dT%H:%M:%SZ")
    core.patch_namespaced_secret("fay-login", ns, {"metadata": {"annotations": {EXPIRES_AT: later}}})
    cleared = wait_until(lambda: expiring("NotExpiringSoon"), timeout=30, what="LoginExpiring=False")
    assert cleared["status"] == "False"
    assert len(warning_event()) == 1, "one Event per warning"
    live = read_pod(core, ns, "fay-claude-code")
    assert live is not None
    assert live.metadata.uid == pod.uid, "an expiry annotation alone does not replace the pod"
    text = json.dumps(get_ccp(custom, ns, "fay")) + json.dumps(
        [e.to_dict() for e in core.list_namespaced_event(ns).items], default=str
    )
    no_secret_anywhere({"status and events": text, "operator logs": proc.logs()}, [token])
