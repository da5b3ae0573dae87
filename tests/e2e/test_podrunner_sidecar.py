"""The pod runner runs a whole provider pod: the runtime and its LiteLLM sidecar, as the operator renders it.

The pod is written by hand here (the operator renders the same shape): the official openai client
calls http://<podIP>:4000/v1 -> LiteLLM (listening on "0.0.0.0", i.e. the pod IP) -> the runtime's
completion API at "http://127.0.0.1:8081" (the pod's loopback, i.e. the pod IP) -> the real CLI ->
the fake upstream on 127.0.0.1.
"""

from __future__ import annotations

import secrets

import httpx
import openai
import pytest
import yaml
from kubernetes import client

from claude_code_devkit.fakes.anthropic_api import FakeAnthropic, TextReply
from claude_code_devkit.podrunner import PodRunner, RunningPod
from claude_code_devkit.waiting import wait_until
from claude_code_operator.render.litellm import CUSTOM_AUTH

NAME = "alice"
LOGIN_TOKEN = "sk-ant-oat01-" + "e2e" * 14
HEALTH_PORT, API_PORT = 8080, 4000
LITELLM_START_TIMEOUT = 240  # LiteLLM's import and start-up take seconds, more on a busy 2-core machine


def _secret_env(name: str, secret: str, key: str) -> client.V1EnvVar:
    return client.V1EnvVar(
        name=name,
        value_from=client.V1EnvVarSource(secret_key_ref=client.V1SecretKeySelector(name=secret, key=key)),
    )


def litellm_config() -> str:
    model = {"api_base": "os.environ/CLAUDE_RUNTIME_URL"}
    return yaml.safe_dump(
        {
            "model_list": [
                {"model_name": alias, "litellm_params": {"model": f"claude-code/{alias}", **model}}
                for alias in ("sonnet", "haiku")
            ],
            "litellm_settings": {
                "custom_provider_map": [
                    {"provider": "claude-code", "custom_handler": "claude_code_provider.llm.handler.claude_code_llm"}
                ]
            },
            "router_settings": {"num_retries": 0},
            "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY", "custom_auth": CUSTOM_AUTH},
        }
    )


def provider_pod(name: str) -> client.V1Pod:
    """The operator's pod: the runtime in `claude`, the LiteLLM sidecar in `litellm`."""
    generated = f"{name}-generated"
    claude = client.V1Container(
        name="claude",
        image="example.invalid/claude-code-provider:never-pulled",
        command=["claude-code-runtime"],
        env=[
            client.V1EnvVar(name="CLAUDE_LOGIN_DIR", value="/var/run/claude-login"),
            client.V1EnvVar(name="CLAUDE_CONFIG_DIR", value="/var/lib/claude"),
            client.V1EnvVar(name="HOME", value="/home/claude"),
            client.V1EnvVar(name="TMPDIR", value="/tmp"),
            _secret_env("CLAUDE_RUNTIME_TOKEN", generated, "runtime-token"),
            client.V1EnvVar(name="CLAUDE_RUNTIME_MAX_IN_FLIGHT", value="2"),
        ],
        ports=[client.V1ContainerPort(name="health", container_port=HEALTH_PORT)],
        volume_mounts=[
            client.V1VolumeMount(name="login", mount_path="/var/run/claude-login", read_only=True),
            client.V1VolumeMount(name="config", mount_path="/var/lib/claude"),
            client.V1VolumeMount(name="home", mount_path="/home/claude"),
            client.V1VolumeMount(name="tmp", mount_path="/tmp"),
        ],
    )
    litellm = client.V1Container(
        name="litellm",
        image="example.invalid/claude-code-provider:never-pulled",
        command=["litellm", "--config", "/etc/litellm/config.yaml", "--host", "0.0.0.0", "--port", str(API_PORT)],
        env=[
            _secret_env("LITELLM_MASTER_KEY", generated, "master-key"),
            _secret_env("CLAUDE_RUNTIME_TOKEN", generated, "runtime-token"),
            client.V1EnvVar(name="CLAUDE_RUNTIME_URL", value="http://127.0.0.1:8081"),
            client.V1EnvVar(name="LITELLM_LOCAL_MODEL_COST_MAP", value="True"),
        ],
        ports=[client.V1ContainerPort(name="http", container_port=API_PORT)],
        volume_mounts=[client.V1VolumeMount(name="litellm-config", mount_path="/etc/litellm", read_only=True)],
    )
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=f"{name}-claude-code", labels={"claudecode.dev/provider": name}),
        spec=client.V1PodSpec(
            containers=[claude, litellm],
            volumes=[
                client.V1Volume(
                    name="login",
                    secret=client.V1SecretVolumeSource(
                        secret_name=f"{name}-login", items=[client.V1KeyToPath(key="oauth-token", path="oauth-token")]
                    ),
                ),
                client.V1Volume(name="config", empty_dir=client.V1EmptyDirVolumeSource()),
                client.V1Volume(name="home", empty_dir=client.V1EmptyDirVolumeSource()),
                client.V1Volume(name="tmp", empty_dir=client.V1EmptyDirVolumeSource()),
                client.V1Volume(
                    name="litellm-config", config_map=client.V1ConfigMapVolumeSource(name=f"{name}-litellm")
                ),
            ],
        ),
    )


def wait_for_litellm(pod: RunningPod, timeout: float = LITELLM_START_TIMEOUT) -> None:
    with httpx.Client(trust_env=False, timeout=5) as http:

        def live() -> bool:
            assert pod.alive(), pod.describe()
            return http.get(f"http://{pod.pod_ip}:{API_PORT}/health/liveliness").status_code == 200

        try:
            wait_until(live, timeout=timeout, interval=0.5, what="LiteLLM to answer", ignore=(httpx.TransportError,))
        except TimeoutError as exc:
            raise AssertionError(f"{exc}\n{pod.describe()}") from None


def test_a_provider_pod_serves_the_openai_api_through_both_containers(
    core: client.CoreV1Api, namespace: str, pod_runner: PodRunner, fake_upstream: FakeAnthropic
) -> None:
    master_key = "sk-" + secrets.token_hex(16)
    core.create_namespaced_secret(
        namespace,
        client.V1Secret(metadata=client.V1ObjectMeta(name=f"{NAME}-login"), string_data={"oauth-token": LOGIN_TOKEN}),
    )
    core.create_namespaced_secret(
        namespace,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name=f"{NAME}-generated"),
            string_data={"master-key": master_key, "runtime-token": secrets.token_urlsafe(32)},
        ),
    )
    core.create_namespaced_config_map(
        namespace,
        client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name=f"{NAME}-litellm"), data={"config.yaml": litellm_config()}
        ),
    )
    core.create_namespaced_pod(namespace, provider_pod(NAME))
    pod_name = f"{NAME}-claude-code"
    running = wait_until(
        lambda: pod_runner.find(namespace, pod_name), timeout=60, what=f"the pod runner to start {pod_name}"
    )
    assert sorted(running.containers) == ["claude", "litellm"], running.describe()
    ip = running.pod_ip
    litellm = running.container("litellm")
    assert litellm.argv[-4:] == ["--host", ip, "--port", str(API_PORT)]
    assert litellm.env["CLAUDE_RUNTIME_URL"] == f"http://{ip}:8081"
    assert "/var/run/claude-login" not in running.container("claude").env.values()
    assert not any(path.startswith("/var/run/claude-login") for path in litellm.mounts), (
        "the sidecar never mounts the login"
    )

    wait_for_litellm(running)
    fake_upstream.clear()
    fake_upstream.enqueue(TextReply(["Hello from ", "the pod"]))
    with httpx.Client(trust_env=False) as http:
        openai_client = openai.OpenAI(
            base_url=f"http://{ip}:{API_PORT}/v1", api_key=master_key, http_client=http, max_retries=0, timeout=120
        )
        reply = openai_client.chat.completions.create(
            model="sonnet", messages=[{"role": "user", "content": "Say hello"}]
        )
        assert reply.choices[0].message.content == "Hello from the pod"
        requests = fake_upstream.messages_requests
        assert len(requests) == 1
        assert requests[0].bearer_token == LOGIN_TOKEN, "the CLI must spend the login from the pod's Secret"
        assert "Say hello" in str(requests[0].chat_messages)

        stranger = openai.OpenAI(
            base_url=f"http://{ip}:{API_PORT}/v1", api_key="sk-wrong", http_client=http, max_retries=0, timeout=60
        )
        # A key that is not the master key is a 401 that says so (not LiteLLM's 400 "No connected db.").
        with pytest.raises(openai.AuthenticationError) as refused:
            stranger.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": "hi"}])
        assert "The API key is wrong" in str(refused.value), refused.value
        # The runtime's completion API, on the pod's loopback, wants the pod's runtime token.
        refused_runtime = http.post(f"http://{ip}:8081/v1/complete", json={}, timeout=30)
        assert refused_runtime.status_code == 401, refused_runtime.text
    assert len(fake_upstream.messages_requests) == 1, "a caller without the master key must not reach the login"

    core.delete_namespaced_pod(pod_name, namespace)
    wait_until(running.stopped, timeout=60, what="both containers to stop after the pod was deleted")
    assert running.stopped_because == "pod deleted or no longer Running"
