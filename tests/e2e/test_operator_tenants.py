"""Among many tenants, a resource is never a key to someone else's login: images only from the operator's
allow-list, a Service beyond the cluster only where the operator allows it and the spec names its clients,
a Secret only when its owner labelled it for the resource, one pod per login judged from pods."""

from __future__ import annotations

from kubernetes import client

from claude_code_devkit.cluster import Cluster
from claude_code_devkit.operator_process import OperatorDeployment
from claude_code_devkit.waiting import wait_until
from tests.e2e.test_operator import (
    DEADLINE,
    GROUP,
    PLURAL,
    VERSION,
    get_ccp,
    login_secret,
    read_pod,
    resource,
    wait_condition,
)

ALLOWED = "ghcr.io/claude-code-operator/claude-code-provider:0.2.0"


def test_an_image_outside_the_allow_list_gets_no_pod_and_no_access_to_the_login(
    api: client.ApiClient, core: client.CoreV1Api, namespace: str, operator: OperatorDeployment
) -> None:
    custom = client.CustomObjectsApi(api)
    operator.start()  # the default list: the project's provider repository
    core.create_namespaced_secret(namespace, login_secret("dave-login"))
    spec = resource("dave", "dave-login", runtime={"image": "evil.example/steal:1"})
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, spec)
    refused = wait_condition(custom, namespace, "dave", "CredentialsValid", "False", "ImageNotAllowed")
    assert refused["message"].startswith(
        "spec.runtime.image 'evil.example/steal:1' is not allowed by the operator's allowedImages (chart value; "
        "--allowed-image), which allows ghcr.io/claude-code-operator/claude-code-provider."
    )
    assert get_ccp(custom, namespace, "dave")["status"]["phase"] == "Invalid"
    assert read_pod(core, namespace, "dave-claude-code") is None
    roles = client.RbacAuthorizationV1Api(api).list_namespaced_role(namespace).items
    assert [r.metadata.name for r in roles] == [], "no Role on the login Secret for a refused image"

    patch = {"spec": {"runtime": {"image": ALLOWED}, "litellm": {"image": ALLOWED}}}
    custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "dave", patch)
    wait_condition(custom, namespace, "dave", "CredentialsValid", "True", "Valid")
    pod = wait_until(lambda: read_pod(core, namespace, "dave-claude-code"), timeout=DEADLINE, what="dave's pod")
    assert [c.image for c in pod.spec.containers] == [ALLOWED, ALLOWED]


def test_a_service_beyond_the_cluster_needs_the_operators_setting_and_ip_block_clients(
    api: client.ApiClient, core: client.CoreV1Api, namespace: str, operator: OperatorDeployment
) -> None:
    custom = client.CustomObjectsApi(api)
    operator.start("--allow-service-type", "NodePort")
    core.create_namespaced_secret(namespace, login_secret("erin-login"))
    core.create_namespaced_secret(namespace, login_secret("finn-login"))
    balanced = resource("erin", "erin-login", service={"type": "LoadBalancer"})
    balanced["spec"]["allowFrom"] = [{"ipBlock": {"cidr": "192.0.2.0/24"}}]
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, balanced)
    custom.create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, resource("finn", "finn-login", service={"type": "NodePort"})
    )
    not_allowed = wait_condition(custom, namespace, "erin", "CredentialsValid", "False", "ServiceTypeNotAllowed")
    assert (
        "spec.service.type LoadBalancer is not allowed by the operator's providerServiceTypes" in not_allowed["message"]
    )
    unguarded = wait_condition(custom, namespace, "finn", "CredentialsValid", "False", "ServiceTypeNotAllowed")
    assert "spec.allowFrom must name the clients allowed there by ipBlock" in unguarded["message"]
    services = {s.metadata.name for s in core.list_namespaced_service(namespace).items}
    assert services.isdisjoint({"erin", "finn"}), "no Service published for a refused resource"
    assert read_pod(core, namespace, "erin-claude-code") is None
    assert read_pod(core, namespace, "finn-claude-code") is None

    patch = {"spec": {"allowFrom": [{"ipBlock": {"cidr": "192.0.2.0/24"}}]}}
    custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "finn", patch)
    wait_condition(custom, namespace, "finn", "CredentialsValid", "True", "Valid")
    assert core.read_namespaced_service("finn", namespace).spec.type == "NodePort"
    wait_until(lambda: read_pod(core, namespace, "finn-claude-code"), timeout=DEADLINE, what="finn's pod")


def held_login_pod(name: str, secret: str) -> client.V1Pod:
    """A provider pod of `secret` on a node whose kubelet is not answering: deleted, it stays terminating
    (as a real pod does through its grace period and final write-back) until it is force-deleted."""
    return client.V1Pod(
        metadata=client.V1ObjectMeta(
            name=name,
            labels={"app.kubernetes.io/managed-by": "claude-code-operator", "claudecode.dev/login-secret": secret},
        ),
        spec=client.V1PodSpec(
            node_name="e2e-node-not-answering",
            containers=[client.V1Container(name="claude", image="example.invalid/never-run")],
            volumes=[client.V1Volume(name="login", secret=client.V1SecretVolumeSource(secret_name=secret))],
        ),
    )


def test_a_login_whose_old_pod_is_still_terminating_starts_no_second_pod(
    api: client.ApiClient, core: client.CoreV1Api, namespace: str, operator: OperatorDeployment
) -> None:
    """The old holder is gone but its pod is still terminating: the next resource naming that login
    waits for the pod, not for the resource, and starts its own once the pod is gone."""
    custom = client.CustomObjectsApi(api)
    operator.start()
    core.create_namespaced_secret(namespace, login_secret("shared-login", provider="hugo"))
    core.create_namespaced_pod(namespace, held_login_pod("gina-claude-code", "shared-login"))
    core.delete_namespaced_pod("gina-claude-code", namespace, grace_period_seconds=300)
    try:
        going = read_pod(core, namespace, "gina-claude-code")
        assert going is not None
        assert going.metadata.deletion_timestamp is not None
        custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, resource("hugo", "shared-login"))
        waiting = wait_condition(custom, namespace, "hugo", "PodReady", "False", "PodStarting")
        assert waiting["message"] == (
            "Pod hugo-claude-code is starting. Waiting for pod gina-claude-code, which runs this login, to go."
        )
        assert read_pod(core, namespace, "hugo-claude-code") is None
    finally:
        core.delete_namespaced_pod("gina-claude-code", namespace, grace_period_seconds=0)
    pod = wait_until(lambda: read_pod(core, namespace, "hugo-claude-code"), timeout=DEADLINE, what="hugo's pod")
    assert pod.metadata.labels["claudecode.dev/login-secret"] == "shared-login"


def test_a_secret_that_did_not_opt_in_is_never_used_and_the_message_gives_the_command(
    cluster: Cluster, api: client.ApiClient, core: client.CoreV1Api, namespace: str, operator: OperatorDeployment
) -> None:
    """A user allowed to create resources but not to read Secrets names a database password: refused
    before anything of it is read; its owner's label is what makes a Secret a login."""
    custom = client.CustomObjectsApi(api)
    operator.start()
    unlabelled = login_secret("ivy-login")
    unlabelled.metadata.labels = {}
    core.create_namespaced_secret(namespace, unlabelled)
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, resource("ivy", "ivy-login"))
    refused = wait_condition(custom, namespace, "ivy", "CredentialsValid", "False", "SecretNotOptedIn")
    assert get_ccp(custom, namespace, "ivy")["status"]["phase"] == "Invalid"
    assert read_pod(core, namespace, "ivy-claude-code") is None
    roles = client.RbacAuthorizationV1Api(api).list_namespaced_role(namespace).items
    assert roles == [], "no Role on a Secret that did not opt in"
    assert ".credentials.json" not in refused["message"], "not even its keys' names reach the status"
    command = cluster.run_quoted(refused["message"], "label it")
    assert command == f"kubectl label secret ivy-login -n {namespace} claudecode.dev/provider=ivy"
    wait_until(lambda: read_pod(core, namespace, "ivy-claude-code"), timeout=DEADLINE, what="ivy's pod")
    wait_condition(custom, namespace, "ivy", "CredentialsValid", "True", "Valid")


def test_an_older_resource_switching_to_a_colleagues_login_is_refused_and_the_colleague_keeps_their_pod(
    api: client.ApiClient, core: client.CoreV1Api, namespace: str, operator: OperatorDeployment
) -> None:
    custom = client.CustomObjectsApi(api)
    operator.start()
    core.create_namespaced_secret(namespace, login_secret("jan-login"))
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, resource("jan", "jan-login"))
    wait_until(lambda: read_pod(core, namespace, "jan-claude-code"), timeout=DEADLINE, what="jan's pod")
    core.create_namespaced_secret(namespace, login_secret("kim-login"))
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, resource("kim", "kim-login"))
    kims = wait_until(lambda: read_pod(core, namespace, "kim-claude-code"), timeout=DEADLINE, what="kim's pod")

    # jan is the older resource; under "the oldest holds the login" it would take kim's.
    patch = {"spec": {"credentials": {"secretName": "kim-login"}}}
    custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "jan", patch)
    refused = wait_condition(custom, namespace, "jan", "CredentialsValid", "False", "SecretLabelledForOther")
    assert "it is ClaudeCodeProvider kim's, and only kim may use it" in refused["message"]
    wait_until(lambda: read_pod(core, namespace, "jan-claude-code") is None, timeout=DEADLINE, what="jan's pod to go")
    wait_condition(custom, namespace, "kim", "CredentialsValid", "True", "Valid")
    still = read_pod(core, namespace, "kim-claude-code")
    assert still is not None
    assert still.metadata.uid == kims.metadata.uid, "kim's pod is never replaced"
    assert still.metadata.deletion_timestamp is None


def test_a_helm_made_login_secret_created_after_its_resource_starts_the_pod(
    api: client.ApiClient, core: client.CoreV1Api, namespace: str, operator: OperatorDeployment
) -> None:
    custom = client.CustomObjectsApi(api)
    operator.start()
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, resource("lou", "lou-login"))
    wait_condition(custom, namespace, "lou", "CredentialsValid", "False", "SecretNotFound")
    by_helm = login_secret("lou-login")
    by_helm.metadata.labels = {**by_helm.metadata.labels, "app.kubernetes.io/managed-by": "Helm"}
    core.create_namespaced_secret(namespace, by_helm)
    wait_until(lambda: read_pod(core, namespace, "lou-claude-code"), timeout=DEADLINE, what="lou's pod")
    wait_condition(custom, namespace, "lou", "CredentialsValid", "True", "Valid")


def test_secrets_outside_the_selector_never_reach_the_operator(
    api: client.ApiClient, core: client.CoreV1Api, namespace: str, operator: OperatorDeployment
) -> None:
    """The watch's label selector is the API server's: an unrelated Secret is never listed or watched by the
    operator (its debug log names every object its handlers see), an opted-in one is."""
    custom = client.CustomObjectsApi(api)
    unrelated = client.V1Secret(
        metadata=client.V1ObjectMeta(name="unrelated-before"), string_data={"password": "hunter2"}
    )
    core.create_namespaced_secret(namespace, unrelated)
    proc = operator.start("--verbose")
    unrelated.metadata.name = "unrelated-after"
    core.create_namespaced_secret(namespace, unrelated)
    core.create_namespaced_secret(namespace, login_secret("max-login"))
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, resource("max", "max-login"))
    wait_until(lambda: read_pod(core, namespace, "max-claude-code"), timeout=DEADLINE, what="max's pod")
    wait_until(lambda: "max-login" in proc.logs(), timeout=DEADLINE, what="the opted-in Secret in the log")
    assert "unrelated-before" not in proc.logs()
    assert "unrelated-after" not in proc.logs()
