"""A Secret is used only when it opted in: labelled `claudecode.dev/provider: <the resource's name>`.
The label is also the login's holder, so a resource naming a colleague's Secret is refused whatever the
creation times, and the refusal gives the exact command that fixes it."""

from __future__ import annotations

from typing import Any

import pytest

from claude_code_operator.api.resource import Provider
from claude_code_operator.claims import derive_claims, derive_secret_claim
from claude_code_operator.credentials import derive_credentials_check
from claude_code_operator.login.validate import ExistingSecret, derive_relabel_refusal

LABEL = "claudecode.dev/provider"


def provider(**spec: Any) -> Provider:
    body = {
        "metadata": {"name": "alice", "namespace": "team", "uid": "uid-1", "generation": 1},
        "spec": {"credentials": {"secretName": "alice-login"}, **spec},
    }
    return Provider.from_body(body)


def test_a_secret_labelled_for_the_resource_is_used_whatever_else_labels_it() -> None:
    assert derive_secret_claim("team", "alice", "alice-login", {LABEL: "alice"}) is None
    helm = {LABEL: "alice", "app.kubernetes.io/managed-by": "Helm"}
    assert derive_secret_claim("team", "alice", "alice-login", helm) is None


def test_a_missing_secret_is_left_to_the_login_check_which_says_how_to_label_it() -> None:
    assert derive_secret_claim("team", "alice", "alice-login", None) is None
    p = provider()
    check = derive_credentials_check(p.spec.credentials, p.namespace, None, resource=p.name)
    assert (check.valid, check.reason) == (False, "SecretNotFound")
    assert check.message.endswith(
        "Then label it for this resource: `kubectl label secret alice-login -n team claudecode.dev/provider=alice`."
    )


def test_an_unlabelled_secret_is_refused_with_the_command_that_opts_it_in() -> None:
    check = derive_secret_claim("team", "alice", "db-creds", {"app": "postgres"})
    assert check is not None
    assert (check.valid, check.reason) == (False, "SecretNotOptedIn")
    assert "Secret team/db-creds (spec.credentials.secretName) is not labelled for this resource" in check.message
    assert "`kubectl label secret db-creds -n team claudecode.dev/provider=alice`" in check.message
    assert check.login is None  # nothing of the Secret was looked at


def test_a_colleagues_secret_is_refused_and_names_its_holder() -> None:
    check = derive_secret_claim("team", "alice", "bob-login", {LABEL: "bob"})
    assert check is not None
    assert (check.valid, check.reason) == (False, "SecretLabelledForOther")
    assert "labelled claudecode.dev/provider=bob: it is ClaudeCodeProvider bob's, and only bob may use it" in (
        check.message
    )
    assert "`kubectl label secret bob-login -n team claudecode.dev/provider=alice --overwrite`" in check.message


def test_the_operators_own_secrets_are_never_a_login() -> None:
    generated = {LABEL: "alice", "app.kubernetes.io/managed-by": "claude-code-operator"}
    check = derive_secret_claim("team", "alice", "alice-litellm-keys", generated)
    assert check is not None
    assert check.reason == "SecretNotOptedIn"
    assert "one the operator generates" in check.message


@pytest.mark.parametrize(
    ("master_key_labels", "reason"),
    [
        ({LABEL: "alice"}, None),
        ({}, "SecretNotOptedIn"),
        ({LABEL: "bob"}, "SecretLabelledForOther"),
        (None, "SecretNotFound"),
    ],
)
def test_a_named_master_key_secret_must_be_labelled_too(
    master_key_labels: dict[str, str] | None, reason: str | None
) -> None:
    p = provider(masterKeySecret={"name": "keys", "key": "master"})
    check = derive_claims(p, {LABEL: "alice"}, (True, master_key_labels))
    assert (check.reason if check is not None else None) == reason
    if check is not None:
        assert "Secret team/keys (spec.masterKeySecret)" in check.message


def test_the_login_is_judged_before_the_master_key_and_an_unread_master_key_is_not_judged() -> None:
    p = provider(masterKeySecret={"name": "keys", "key": "master"})
    login_refused = derive_claims(p, {}, (True, {LABEL: "bob"}))
    assert login_refused is not None
    assert "spec.credentials.secretName" in login_refused.message
    assert derive_claims(p, {LABEL: "alice"}, (False, None)) is None
    assert derive_claims(provider(), {LABEL: "alice"}, (False, None)) is None


def test_the_login_command_never_relabels_a_colleagues_secret() -> None:
    assert derive_relabel_refusal(None, "alice") is None
    assert derive_relabel_refusal(ExistingSecret({}, {}, labels={LABEL: "alice"}), "alice") is None
    refusal = derive_relabel_refusal(ExistingSecret({}, {}, labels={LABEL: "bob"}), "alice")
    assert refusal is not None
    assert refusal.startswith("The Secret is the login of ClaudeCodeProvider bob")
    assert "Nothing was written" in refusal
    assert "--force" in refusal
