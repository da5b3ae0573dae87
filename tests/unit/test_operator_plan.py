"""The plan of a full reconcile: (provider, credentials check, what was observed) -> what to apply and what
to do with the pod, decided without a cluster."""

from __future__ import annotations

import json
from typing import Any

from claude_code_operator.api.resource import Provider
from claude_code_operator.claims import derive_secret_claim
from claude_code_operator.config import OperatorConfig, PodDefaults
from claude_code_operator.credentials import derive_credentials_check
from claude_code_operator.login_facts import LoginSecret, derive_login_facts
from claude_code_operator.observations import Observation, PodFacts
from claude_code_operator.plan import Plan, derive_children, derive_plan
from claude_code_operator.render.pod import render_pod

OAUTH = {".credentials.json": json.dumps({"claudeAiOauth": {"accessToken": "sk-ant-oat01-a"}}).encode()}
SETUP_TOKEN = {"oauth-token": b"sk-ant-oat01-setup"}
KEY = b"alice's fingerprint key"


def provider(**spec: Any) -> Provider:
    body = {
        "metadata": {"name": "alice", "namespace": "team", "uid": "uid-1", "generation": 3},
        "spec": {"credentials": {"secretName": "alice-login"}, **spec},
    }
    return Provider.from_body(body)


def plan_for(
    p: Provider,
    data: dict[str, bytes] | None,
    pod: dict[str, Any] | None = None,
    *,
    pod_read: bool = True,
    login_pods: tuple[dict[str, Any], ...] | None = (),
) -> Plan:
    secret = LoginSecret(data) if data is not None else None
    check = derive_credentials_check(p.spec.credentials, p.namespace, data)
    return derive_plan(p, check, Observation(secret, pod, pod_read, login_pods), PodDefaults(), fingerprint_key=KEY)


def live(pod: dict[str, Any], phase: str = "Running", ready: str = "True", **meta: Any) -> dict[str, Any]:
    out = json.loads(json.dumps(pod))
    out["metadata"].update({"uid": "pod-uid", **meta})
    out["status"] = {"phase": phase, "podIP": "127.100.0.9", "conditions": [{"type": "Ready", "status": ready}]}
    return out


def kinds(plan: Plan) -> list[str]:
    return [m["kind"] for m in plan.children]


def test_children_that_need_no_read_are_the_config_map_service_and_network_policy() -> None:
    children = derive_children(provider(), OperatorConfig())
    assert [(m["kind"], m["metadata"]["name"]) for m in children] == [
        ("ConfigMap", "alice-litellm"),
        ("Service", "alice"),
        ("NetworkPolicy", "alice-claude-code"),
    ]


def test_a_new_resource_creates_its_pod_without_reading_first() -> None:
    p = provider()
    plan = plan_for(p, SETUP_TOKEN, pod_read=False)
    assert (plan.pod_plan, plan.action, plan.facts) == ("run", "create", PodFacts("pending", "alice-claude-code"))
    assert plan.pod == render_pod(p, SETUP_TOKEN, KEY)
    assert kinds(plan) == [], "a setup-token login writes nothing back: no ServiceAccount"


def test_a_credentials_file_login_gets_its_write_back_account_before_the_pod() -> None:
    plan = plan_for(provider(), OAUTH, pod_read=False)
    assert plan.action == "create"
    assert kinds(plan) == ["ServiceAccount", "Role", "RoleBinding"]


def test_an_unchanged_ready_pod_is_kept_and_read_as_it_is() -> None:
    p = provider()
    plan = plan_for(p, SETUP_TOKEN, live(render_pod(p, SETUP_TOKEN, KEY)))
    assert (plan.pod_plan, plan.action) == ("run", "keep")
    assert plan.facts == PodFacts("ready", "alice-claude-code", ip="127.100.0.9")


def test_a_changed_spec_deletes_the_pod_and_waits_for_it_to_go() -> None:
    old = live(render_pod(provider(), SETUP_TOKEN, KEY))
    plan = plan_for(provider(admission={"maxInFlight": 2}), SETUP_TOKEN, old)
    assert (plan.pod_plan, plan.action, plan.facts) == ("run", "delete", PodFacts("replacing", "alice-claude-code"))
    assert plan.pod is None


def test_a_changed_login_deletes_the_pod() -> None:
    p = provider()
    old = live(render_pod(p, SETUP_TOKEN, KEY))
    plan = plan_for(p, {"oauth-token": b"sk-ant-oat01-other"}, old)
    assert (plan.action, plan.facts.state) == ("delete", "replacing")


def test_a_stopped_pod_is_deleted_and_reported_failed_with_its_reason() -> None:
    p = provider()
    stopped = live(render_pod(p, SETUP_TOKEN, KEY), phase="Failed")
    stopped["status"]["reason"] = "Evicted"
    plan = plan_for(p, SETUP_TOKEN, stopped)
    assert (plan.action, plan.facts) == ("delete", PodFacts("failed", "alice-claude-code", detail="Evicted"))


def test_a_pod_going_away_is_waited_for() -> None:
    p = provider()
    going = live(render_pod(p, SETUP_TOKEN, KEY), deletionTimestamp="2026-01-01T00:00:00Z")
    plan = plan_for(p, SETUP_TOKEN, going)
    assert (plan.action, plan.facts) == ("wait", PodFacts("replacing", "alice-claude-code"))


def test_a_pod_of_that_name_owned_by_another_is_left_alone() -> None:
    p = provider()
    foreign = live(render_pod(p, SETUP_TOKEN, KEY))
    foreign["metadata"]["ownerReferences"] = [{"uid": "someone-else"}]
    plan = plan_for(p, SETUP_TOKEN, foreign)
    assert plan.action == "wait"
    assert plan.facts == PodFacts(
        "failed", "alice-claude-code", detail="a pod named alice-claude-code exists that this resource does not own"
    )


def test_another_pod_of_the_login_must_go_before_ours_is_created_terminating_ones_too() -> None:
    going = {"metadata": {"name": "bob-claude-code", "deletionTimestamp": "2026-01-02T03:04:05Z"}}
    plan = plan_for(provider(), SETUP_TOKEN, None, login_pods=(going,))
    assert (plan.pod_plan, plan.action) == ("run", "wait")
    assert plan.facts == PodFacts(
        "pending", "alice-claude-code", detail="Waiting for pod bob-claude-code, which runs this login, to go."
    )
    assert plan_for(
        provider(), SETUP_TOKEN, None, login_pods=({"metadata": {"name": "alice-claude-code"}},)
    ).action == ("create"), "our own pod, gone since it was listed, is in nobody's way"


def test_the_logins_pods_are_listed_before_a_pod_is_created() -> None:
    plan = plan_for(provider(), SETUP_TOKEN, None, login_pods=None)
    assert (plan.pod_plan, plan.action, plan.facts) == ("run", "list", PodFacts("pending", "alice-claude-code"))


def test_suspend_deletes_the_running_pod() -> None:
    p = provider(suspend=True)
    plan = plan_for(p, SETUP_TOKEN, live(render_pod(provider(), SETUP_TOKEN, KEY)))
    assert (plan.pod_plan, plan.action, plan.facts) == ("remove", "delete", PodFacts("suspended"))


def test_no_usable_login_removes_the_pod_and_a_new_resource_reads_it_first() -> None:
    p = provider()
    assert (plan_for(p, None, pod_read=False).action, plan_for(p, None).action) == ("read", "wait")
    plan = plan_for(p, {"oauth-token": b"sk-ant-api03-key"}, live(render_pod(p, SETUP_TOKEN, KEY)))
    assert (plan.pod_plan, plan.action, plan.facts) == ("remove", "delete", PodFacts("withheld"))


def test_a_login_labelled_for_another_resource_withholds_the_pod_and_applies_nothing() -> None:
    p = provider()
    check = derive_secret_claim("team", "alice", "alice-login", {"claudecode.dev/provider": "bob"})
    assert check is not None
    assert (check.valid, check.reason) == (False, "SecretLabelledForOther")
    plan = derive_plan(
        p, check, Observation(None, live(render_pod(p, SETUP_TOKEN, KEY)), True), PodDefaults(), fingerprint_key=None
    )
    assert (plan.pod_plan, plan.action, plan.facts, plan.children) == ("remove", "delete", PodFacts("withheld"), ())


def test_rotated_keys_replace_the_pod_and_unknown_ones_keep_it() -> None:
    p = provider()
    pod = live(render_pod(p, SETUP_TOKEN, KEY, keys_digest="digest-1"))
    check = derive_credentials_check(p.spec.credentials, p.namespace, SETUP_TOKEN)
    seen = Observation(LoginSecret(SETUP_TOKEN), pod, True)
    assert derive_plan(p, check, seen, PodDefaults(), "digest-1", fingerprint_key=KEY).action == "keep"
    assert derive_plan(p, check, seen, PodDefaults(), None, fingerprint_key=KEY).action == "keep"
    rotated = derive_plan(p, check, seen, PodDefaults(), "digest-2", fingerprint_key=KEY)
    assert (rotated.action, rotated.facts, rotated.why) == (
        "delete",
        PodFacts("replacing", "alice-claude-code"),
        "its keys were rotated",
    )


def test_a_pod_only_a_new_operator_renders_differently_is_replaced_gradually_a_spec_change_at_once() -> None:
    p = provider()
    old_operator = PodDefaults(runtime={"requests": {"memory": "1Gi"}})  # type: ignore[arg-type]
    pod = live(render_pod(p, SETUP_TOKEN, KEY, defaults=old_operator))
    check = derive_credentials_check(p.spec.credentials, p.namespace, SETUP_TOKEN)
    seen = Observation(LoginSecret(SETUP_TOKEN), pod, True)
    upgrade = derive_plan(p, check, seen, PodDefaults(), fingerprint_key=KEY)
    assert (upgrade.action, upgrade.gradual, upgrade.why) == ("delete", True, "the operator renders it anew")
    assert upgrade.facts == PodFacts("ready", "alice-claude-code", ip="127.100.0.9"), "it serves until its turn"
    changed = provider(admission={"maxQueued": 3})
    spec_change = derive_plan(changed, check, seen, PodDefaults(), fingerprint_key=KEY)
    assert (spec_change.action, spec_change.gradual, spec_change.why) == ("delete", False, "its spec changed")
    assert derive_plan(p, check, seen, old_operator, fingerprint_key=KEY).action == "keep", (
        "the same operator changes nothing"
    )


def test_a_pod_with_the_bare_login_hashes_of_an_older_operator_is_replaced_gradually() -> None:
    """Pods started before the hashes were keyed carry them bare and no input hash: an upgrade replaces
    them one at a time, not all at once as if every login had changed."""
    p = provider()
    facts = derive_login_facts(p.spec.credentials, LoginSecret(SETUP_TOKEN))
    pod = live(render_pod(p, SETUP_TOKEN, KEY, defaults=PodDefaults(runtime={"requests": {"memory": "1Gi"}})))  # type: ignore[arg-type]
    annotations = pod["metadata"]["annotations"]
    del annotations["claudecode.dev/input-hash"]
    annotations["claudecode.dev/login-digest"] = facts.digest
    annotations["claudecode.dev/login-identity"] = facts.identity
    check = derive_credentials_check(p.spec.credentials, p.namespace, SETUP_TOKEN)
    upgrade = derive_plan(
        p, check, Observation(LoginSecret(SETUP_TOKEN), pod, True), PodDefaults(), fingerprint_key=KEY
    )
    assert (upgrade.action, upgrade.gradual, upgrade.why) == ("delete", True, "the operator renders it anew")
    annotations["claudecode.dev/login-digest"] = "0" * 64
    changed = derive_plan(
        p, check, Observation(LoginSecret(SETUP_TOKEN), pod, True), PodDefaults(), fingerprint_key=KEY
    )
    assert (changed.action, changed.gradual, changed.why) == ("delete", False, "its login changed")
