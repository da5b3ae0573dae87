"""The operator's probe against the real runtime: the pod runner starts the `claude` container of the
pod the operator made; its /auth/status at the pod IP drives Authenticated and Ready."""

from __future__ import annotations

from kubernetes import client

from claude_code_devkit.operator_process import OperatorDeployment
from claude_code_devkit.podrunner import PodRunner
from tests.e2e.test_operator import GROUP, PLURAL, VERSION, get_ccp, opted_in, resource, wait_condition


def test_a_setup_token_login_served_by_the_runtime_becomes_authenticated_and_ready(
    core: client.CoreV1Api,
    api: client.ApiClient,
    namespace: str,
    operator: OperatorDeployment,
    pod_runner: PodRunner,
) -> None:
    operator.start()
    custom = client.CustomObjectsApi(api)
    core.create_namespaced_secret(
        namespace,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name="tok", labels=opted_in("tina")),
            string_data={"oauth-token": "sk-ant-oat01-e2e"},
        ),
    )
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, resource("tina", "tok"))
    auth = wait_condition(custom, namespace, "tina", "Authenticated", "True", "LoggedIn")
    assert auth["message"]
    obj = get_ccp(custom, namespace, "tina")
    assert obj["status"]["auth"]["loggedIn"] is True
    assert obj["status"]["phase"] == "Ready"
    ready = wait_condition(custom, namespace, "tina", "Ready", "True", "Ready")
    assert ready["observedGeneration"] == obj["metadata"]["generation"]
    assert "sk-ant-oat01-e2e" not in str(obj)
