"""Fixtures of the e2e tier: a real control plane, per-test namespaces, the pod runner.

The cluster is started (and, on a fresh machine, built: about 9 minutes) once per session,
before the first test runs, so the build does not count against a test's timeout. If it cannot
start, every e2e test fails with the reason; nothing is skipped.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

try:
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException
except ImportError as exc:  # pragma: no cover - a broken install must not look like a pass
    raise ImportError(
        "the e2e tier needs the `kubernetes` Python client; add it to tests/requirements.txt and `make install`"
    ) from exc

from claude_code_devkit.cluster import (
    Cluster,
    ClusterUnavailable,
    ensure_cluster,
    non_loopback_pod_ips,
    service_account_kubeconfig,
)
from claude_code_devkit.fakes.anthropic_api import FakeAnthropic
from claude_code_devkit.image_runtime import image_mode_refs
from claude_code_devkit.operator_process import OperatorDeployment, install_crd
from claude_code_devkit.podrunner import PodRunner
from claude_code_devkit.waiting import wait_until
from tests.conftest import ENV_BEFORE_ISOLATION

HERE = Path(__file__).parent
#: Program names the pod runner maps to local stand-ins (see podrunner.resolve_program).
STANDIN_PROGRAMS = {"e2e-standin-server": [sys.executable, "-m", "claude_code_devkit.standin_server"]}
#: The session's pod runner runs only the pods of namespaces with this label, which the `pod_runner`
#: fixture puts on its test's namespace: tests that did not ask (and other sessions sharing the
#: cluster) never have their pods run.
SESSION_LABEL = "claudecode.dev/e2e-session"
SESSION_ID = secrets.token_hex(4)
#: Extra env for every container of a namespace's pods (see the `pod_env` fixture).
_POD_ENV: dict[str, dict[str, str]] = {}
#: Host files every container of a namespace's pods sees at the same path (see the `pod_env` fixture).
_POD_FILES: dict[str, list[Path]] = {}


def _is_e2e(item: pytest.Item) -> bool:
    return HERE in Path(str(item.fspath)).parents


def pytest_collection_finish(session: pytest.Session) -> None:
    """Bring the cluster up before the first e2e test, outside any test's timeout."""
    if session.config.option.collectonly or not any(_is_e2e(item) for item in session.items):
        return
    capture = session.config.pluginmanager.getplugin("capturemanager")
    reporter = session.config.pluginmanager.getplugin("terminalreporter")
    if reporter is not None:
        external = os.environ.get("E2E_KUBECONFIG")
        reporter.write_line(
            f"e2e: using the cluster of E2E_KUBECONFIG={external}"
            if external
            else "e2e: bringing up the Kubernetes control plane (devkit/cluster/cluster.sh up)"
        )
    try:
        if capture is not None:
            with capture.global_and_fixture_disabled():
                ensure_cluster(sys.stderr, ENV_BEFORE_ISOLATION)
        else:
            ensure_cluster(sys.stderr, ENV_BEFORE_ISOLATION)
    except ClusterUnavailable as exc:
        if reporter is not None:
            reporter.write_line(f"e2e: NO CLUSTER, every e2e test will fail: {exc}", red=True)


@pytest.fixture(scope="session")
def cluster() -> Cluster:
    try:
        return ensure_cluster(sys.stderr, ENV_BEFORE_ISOLATION)
    except ClusterUnavailable as exc:
        why = str(exc)
    pytest.fail(f"no Kubernetes cluster for the e2e tier: {why}", pytrace=False)


@pytest.fixture(scope="session")
def kubeconfig(cluster: Cluster) -> Path:
    """Path of an admin kubeconfig for the session's cluster."""
    return cluster.kubeconfig


@pytest.fixture(scope="session")
def api(kubeconfig: Path) -> Iterator[client.ApiClient]:
    api_client = config.new_client_from_config(config_file=str(kubeconfig))
    yield api_client
    api_client.close()


@pytest.fixture(scope="session")
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


@pytest.fixture
def custom(api: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api)


@pytest.fixture
def namespace(request: pytest.FixtureRequest, cluster: Cluster, core: client.CoreV1Api) -> Iterator[str]:
    """A fresh namespace for one test, deleted (and waited for) afterwards."""
    stem = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    name = f"e2e-{stem}-{secrets.token_hex(3)}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    wait_until(
        lambda: core.list_namespaced_service_account(name, field_selector="metadata.name=default").items,
        timeout=60,
        what=f"the default ServiceAccount of {name}",
    )
    yield name
    bad = non_loopback_pod_ips(core.list_namespaced_pod(name).items) if cluster.local else []
    core.delete_namespace(name)

    def gone() -> bool:
        try:
            core.read_namespace(name)
        except ApiException as exc:
            if exc.status == 404:
                return True
            raise
        return False

    wait_until(gone, timeout=120, interval=0.5, what=f"namespace {name} to be deleted")
    if bad:
        pytest.fail(f"pods got IPs outside 127.0.0.0/8: {bad}; kwok's cidr is wrong", pytrace=False)


@pytest.fixture(scope="session")
def session_pod_runner(cluster: Cluster, api: client.ApiClient) -> Iterator[PodRunner]:
    """Runs the containers of Running pods in namespaces labelled for this session (local cluster only)."""
    if not cluster.local:
        pytest.skip("E2E_KUBECONFIG is set: real containers run there, the pod runner is off")
    runner = PodRunner(
        api,
        programs=STANDIN_PROGRAMS,
        namespace_selector=f"{SESSION_LABEL}={SESSION_ID}",
        pod_overrides=lambda pod: _POD_ENV.get(pod.metadata.namespace, {}),
        pod_files=lambda pod: _POD_FILES.get(pod.metadata.namespace, []),
        images=image_mode_refs(),
    ).start()
    try:
        yield runner
    finally:
        running = runner.running()
        runner.close()
        leftovers = [p for p in running.values() if p.alive()]
        assert not leftovers, f"pod runner left processes behind: {[p.pid for p in leftovers]}"
        if runner.loop_error is not None:
            raise runner.loop_error


def run_pods_in(core: client.CoreV1Api, namespace: str) -> None:
    """Have the session's pod runner run the pods of `namespace` (one the test made, or watched being made)."""
    core.patch_namespace(namespace, {"metadata": {"labels": {SESSION_LABEL: SESSION_ID}}})


@pytest.fixture
def pod_runner(session_pod_runner: PodRunner, core: client.CoreV1Api, namespace: str) -> PodRunner:
    """The pod runner, running the pods of this test's namespace."""
    run_pods_in(core, namespace)
    return session_pod_runner


@pytest.fixture
def sa_kubeconfig(cluster: Cluster, tmp_path: Path):  # type: ignore[no-untyped-def]
    """`sa_kubeconfig(namespace, service_account)` -> a kubeconfig holding a fresh token for it."""

    def make(namespace: str, service_account: str) -> Path:
        path = tmp_path / f"{namespace}-{service_account}.kubeconfig"
        return service_account_kubeconfig(cluster, namespace, service_account, path)

    return make


@pytest.fixture
def pod_env() -> Iterator[Callable[..., None]]:
    """`pod_env(namespace, env, files=())`: the pod runner adds `env` (as is) to every container of that
    namespace's pods, and shows them the host `files` at the same paths (read-only; a test's CA)."""
    touched: set[str] = set()

    def add(namespace: str, env: Mapping[str, str], files: Sequence[Path] = ()) -> None:
        touched.add(namespace)
        _POD_ENV.setdefault(namespace, {}).update(env)
        _POD_FILES.setdefault(namespace, []).extend(files)

    yield add
    for namespace in touched:
        _POD_ENV.pop(namespace, None)
        _POD_FILES.pop(namespace, None)


@pytest.fixture
def fake_upstream(namespace: str, pod_env: Callable[[str, Mapping[str, str]], None]) -> Iterator[FakeAnthropic]:
    """Anthropic's API faked on 127.0.0.1: the upstream of every pod the runner starts in `namespace`."""
    with FakeAnthropic() as fake:
        # The CLI's own retries would only slow the error cases down.
        pod_env(namespace, {"ANTHROPIC_BASE_URL": fake.base_url, "CLAUDE_CODE_MAX_RETRIES": "0"})
        yield fake


@pytest.fixture(scope="session")
def claude_code_crd(cluster: Cluster) -> None:
    """The ClaudeCodeProvider CRD from crds/, applied once per session."""
    install_crd(cluster)


@pytest.fixture
def operator(cluster: Cluster, namespace: str, tmp_path: Path, claude_code_crd: None) -> Iterator[OperatorDeployment]:
    """The chart's ServiceAccount and RBAC in the test's namespace; `operator.start()` runs
    `claude-code-operator run` as a process with that ServiceAccount's token (never admin)."""
    deployment = OperatorDeployment(cluster, namespace, tmp_path, release=f"cco-{namespace[-6:]}")
    try:
        yield deployment
    finally:
        deployment.close()
