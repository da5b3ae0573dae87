"""The pod runner: a kwok pod's containers become local processes on the pod's IP."""

from __future__ import annotations

import base64
import urllib.error
import urllib.request

from kubernetes import client, config

from claude_code_devkit.podrunner import RUNTIME_PROGRAM, PodRunner, RunningPod, is_loopback, runtime_available
from claude_code_devkit.waiting import wait_until

SECRET_BYTES = b"token-\x00\xff-" + base64.b64encode(b"not a real credential")
PORT = 8080


# tests/conftest.py points HTTP(S)_PROXY at a closed port for everything but 127.0.0.1; pod IPs
# are other loopback addresses, dialled directly.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _get(url: str) -> bytes:
    with _DIRECT.open(url, timeout=5) as response:
        return response.read()


def test_pod_runner_serves_the_secret_and_stops_with_the_pod(
    core: client.CoreV1Api, namespace: str, pod_runner: PodRunner
) -> None:
    core.create_namespaced_secret(
        namespace,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name="login"),
            data={
                "credentials.json": base64.b64encode(SECRET_BYTES).decode(),
                "api-key": base64.b64encode(b"sk-fake").decode(),
            },
        ),
    )
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name="claude-0", labels={"app": "claude"}),
        spec=client.V1PodSpec(
            containers=[
                client.V1Container(
                    name="claude",
                    image="example.invalid/claude:never-pulled",
                    command=["/usr/local/bin/e2e-standin-server"],
                    ports=[client.V1ContainerPort(container_port=PORT)],
                    env=[
                        client.V1EnvVar(name="PORT", value=str(PORT)),
                        client.V1EnvVar(name="SERVE_FILE", value="/var/run/claude-login/creds"),
                        client.V1EnvVar(name="CLAUDE_CONFIG_DIR", value="/home/claude/.claude"),
                        client.V1EnvVar(name="CLAUDE_RUNTIME_LISTEN_HOST", value="0.0.0.0"),
                        client.V1EnvVar(name="SIBLING_URL", value="http://127.0.0.1:8081/v1"),
                        client.V1EnvVar(name="NOT_THIS_POD", value="127.0.0.10,10.127.0.0.1"),
                        client.V1EnvVar(
                            name="API_KEY",
                            value_from=client.V1EnvVarSource(
                                secret_key_ref=client.V1SecretKeySelector(name="login", key="api-key")
                            ),
                        ),
                    ],
                    volume_mounts=[
                        client.V1VolumeMount(name="login", mount_path="/var/run/claude-login", read_only=True),
                        client.V1VolumeMount(name="config", mount_path="/home/claude/.claude"),
                    ],
                ),
                # Nothing to run here: no command (the image's entrypoint), or a program with no local twin.
                client.V1Container(name="pause", image="registry.k8s.io/pause:3.10"),
                client.V1Container(name="shell", image="busybox", command=["sh", "-c", "sleep 3600"]),
            ],
            volumes=[
                client.V1Volume(
                    name="login",
                    secret=client.V1SecretVolumeSource(
                        secret_name="login",
                        items=[client.V1KeyToPath(key="credentials.json", path="creds")],
                    ),
                ),
                client.V1Volume(name="config", empty_dir=client.V1EmptyDirVolumeSource()),
            ],
        ),
    )
    core.create_namespaced_pod(namespace, pod)

    running = wait_until(
        lambda: pod_runner.find(namespace, "claude-0"),
        timeout=60,
        what="the pod runner to start claude-0",
    )
    assert pod_runner.failures() == {}
    assert running.alive(), running.describe()
    assert sorted(running.containers) == ["claude"]
    assert "no command" in running.skipped["pause"]
    assert "no local program for 'sh'" in running.skipped["shell"]
    assert "container shell: not run" in pod_runner.describe(namespace, "claude-0")
    standin = running.container("claude")
    pod_ip = core.read_namespaced_pod("claude-0", namespace).status.pod_ip
    assert running.pod_ip == pod_ip
    assert is_loopback(pod_ip)
    assert pod_ip != "127.0.0.1"

    # The pod's environment, with in-pod paths rewritten and the pod's own addresses now its IP.
    login_dir = standin.mounts["/var/run/claude-login"]
    assert standin.env["SERVE_FILE"] == f"{login_dir}/creds"
    assert standin.env["API_KEY"] == "sk-fake"
    assert standin.env["POD_IP"] == pod_ip
    assert standin.env["CLAUDE_RUNTIME_LISTEN_HOST"] == pod_ip
    assert standin.env["SIBLING_URL"] == f"http://{pod_ip}:8081/v1"
    assert standin.env["NOT_THIS_POD"] == "127.0.0.10,10.127.0.0.1"
    config_dir = standin.mounts["/home/claude/.claude"]
    assert standin.env["CLAUDE_CONFIG_DIR"] == str(config_dir)
    assert config_dir.is_dir()
    assert (config_dir.stat().st_mode & 0o200) != 0, "the emptyDir must be writable"
    # Only the listed item, read-only for the owner.
    assert sorted(p.name for p in login_dir.iterdir()) == ["creds"]
    assert ((login_dir / "creds").stat().st_mode & 0o777) == 0o400

    # A probe to the pod IP and container port reaches the process, which serves the Secret's bytes.
    def answer() -> bytes:
        assert running.alive(), f"the stand-in exited: {running.describe()}"
        return _get(f"http://{pod_ip}:{PORT}/")

    body = wait_until(answer, timeout=30, what="the stand-in to answer", ignore=(OSError,))
    assert body == SECRET_BYTES
    assert _get(f"http://{pod_ip}:{PORT}/healthz") == b"ok"

    core.delete_namespaced_pod("claude-0", namespace)
    wait_until(running.stopped, timeout=60, what="the process to stop after the pod was deleted")
    assert running.stopped_because == "pod deleted or no longer Running"

    def port_closed() -> bool:
        try:
            _get(f"http://{pod_ip}:{PORT}/healthz")
        except OSError:
            return True
        return False

    wait_until(port_closed, timeout=10, what=f"{pod_ip}:{PORT} to stop answering")


def test_pod_runner_runs_the_real_runtime_on_the_pod_ip(
    core: client.CoreV1Api, namespace: str, pod_runner: PodRunner
) -> None:
    """The hook in use: a pod naming `claude-code-runtime` runs provider/'s console script."""
    assert runtime_available(), f"{RUNTIME_PROGRAM} is not installed in .venv/bin (make install)"
    # A login Secret that is not a Claude Code login: the runtime serves, but is not ready.
    core.create_namespaced_secret(
        namespace,
        client.V1Secret(metadata=client.V1ObjectMeta(name="login"), string_data={".credentials.json": "{}"}),
    )
    core.create_namespaced_pod(
        namespace,
        client.V1Pod(
            metadata=client.V1ObjectMeta(name="runtime-0"),
            spec=client.V1PodSpec(
                containers=[
                    client.V1Container(
                        name="claude",
                        image="example.invalid/claude-code-runtime:never-pulled",
                        command=[RUNTIME_PROGRAM],
                        ports=[client.V1ContainerPort(container_port=PORT)],
                        env=[
                            client.V1EnvVar(name="CLAUDE_RUNTIME_LISTEN_HOST", value="0.0.0.0"),
                            client.V1EnvVar(name="CLAUDE_RUNTIME_PORT", value=str(PORT)),
                            client.V1EnvVar(name="CLAUDE_LOGIN_DIR", value="/var/run/claude-login"),
                            client.V1EnvVar(name="CLAUDE_CONFIG_DIR", value="/home/claude/.claude"),
                            # Without the completion API's shared secret the runtime would not start.
                            client.V1EnvVar(name="CLAUDE_RUNTIME_TOKEN", value="runtime-token-of-this-pod"),
                        ],
                        volume_mounts=[
                            client.V1VolumeMount(name="login", mount_path="/var/run/claude-login", read_only=True),
                            client.V1VolumeMount(name="config", mount_path="/home/claude/.claude"),
                        ],
                    )
                ],
                volumes=[
                    client.V1Volume(name="login", secret=client.V1SecretVolumeSource(secret_name="login")),
                    client.V1Volume(name="config", empty_dir=client.V1EmptyDirVolumeSource()),
                ],
            ),
        ),
    )
    running = wait_until(
        lambda: pod_runner.find(namespace, "runtime-0"), timeout=60, what="the pod runner to start runtime-0"
    )
    assert running.container("claude").argv[0].endswith(f"/.venv/bin/{RUNTIME_PROGRAM}")
    pod_ip = running.pod_ip

    def status(path: str) -> int:
        assert running.alive(), f"the runtime exited: {running.describe()}"
        try:
            with _DIRECT.open(f"http://{pod_ip}:{PORT}{path}", timeout=5) as response:
                return response.status
        except urllib.error.HTTPError as err:
            return err.code

    assert wait_until(lambda: status("/healthz"), timeout=60, what="/healthz", ignore=(OSError,)) == 200
    assert status("/readyz") == 503, "a broken login must not be ready"
    assert status("/auth/status") == 200

    core.delete_namespaced_pod("runtime-0", namespace)
    wait_until(running.stopped, timeout=60, what="the runtime to stop after the pod was deleted")


def _standin_pod(name: str, service_account: str | None, automount: bool) -> client.V1Pod:
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1PodSpec(
            service_account_name=service_account,
            automount_service_account_token=automount,
            containers=[
                client.V1Container(
                    name="main",
                    image="example.invalid/standin:never-pulled",
                    command=["e2e-standin-server"],
                    env=[client.V1EnvVar(name="PORT", value=str(PORT)), client.V1EnvVar(name="SERVE_FILE", value="/")],
                )
            ],
        ),
    )


def test_a_pod_with_a_service_account_token_gets_a_kubeconfig_for_that_account_alone(
    core: client.CoreV1Api, namespace: str, pod_runner: PodRunner
) -> None:
    """No in-cluster mount here: the runner's KUBECONFIG carries a TokenRequest token of the pod's
    ServiceAccount, so code in the pod has exactly that account's RBAC."""
    core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="writer"))
    )
    core.create_namespaced_pod(namespace, _standin_pod("with-token", "writer", automount=True))
    core.create_namespaced_pod(namespace, _standin_pod("without-token", None, automount=False))

    def started(name: str) -> RunningPod | None:
        return next((p for p in pod_runner.running().values() if (p.namespace, p.name) == (namespace, name)), None)

    with_token = wait_until(lambda: started("with-token"), timeout=60, what="the pod with a token to run")
    without = wait_until(lambda: started("without-token"), timeout=60, what="the pod without a token to run")
    assert "KUBECONFIG" not in without.container("main").env
    kubeconfig = with_token.container("main").env["KUBECONFIG"]
    pod_api = config.new_client_from_config(config_file=kubeconfig)
    try:
        review = client.AuthenticationV1Api(pod_api).create_self_subject_review(
            client.V1SelfSubjectReview(metadata=client.V1ObjectMeta())
        )
        assert review.status.user_info.username == f"system:serviceaccount:{namespace}:writer"
    finally:
        pod_api.close()
