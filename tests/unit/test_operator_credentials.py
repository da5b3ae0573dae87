"""Login Secret validation: each problem has its own reason and a fix, and no value is ever echoed."""

from __future__ import annotations

import json

import pytest

from claude_code_operator.api.spec import Credentials
from claude_code_operator.credentials import derive_credentials_check

CREDS = Credentials(secret_name="alice-login")
SECRET_VALUE = "sk-ant-oat01-SECRET-VALUE-1234"


def login(token: str = SECRET_VALUE) -> bytes:
    return json.dumps({"claudeAiOauth": {"accessToken": token, "refreshToken": "sk-ant-ort01-REFRESH"}}).encode()


@pytest.mark.parametrize(
    ("data", "reason", "hint"),
    [
        (None, "SecretNotFound", "kubectl create secret generic alice-login -n team"),
        ({}, "SecretEmpty", "claude setup-token"),
        ({"other": b"x"}, "MissingKeys", "its keys: other"),
        ({".credentials.json": b"{not json " + SECRET_VALUE.encode()}, "MalformedCredentials", "--from-file"),
        ({".credentials.json": b'{"foo": 1}'}, "NotAClaudeLogin", "claude auth login"),
        ({".credentials.json": login("sk-ant-api03-" + SECRET_VALUE)}, "ApiKeyNotAllowed", "setup-token"),
        ({"oauth-token": ("sk-ant-api03-" + SECRET_VALUE).encode()}, "ApiKeyNotAllowed", "setup-token"),
        ({"oauth-token": b"  \n"}, "MissingKeys", "is empty"),
        ({".credentials.json": login(), ".claude.json": b"[oops"}, "MalformedCredentials", ".claude.json"),
        (
            {".credentials.json": login(), ".claude.json": json.dumps({"primaryApiKey": SECRET_VALUE}).encode()},
            "ApiKeyNotAllowed",
            ".claude.json",
        ),
    ],
)
def test_problem_has_reason_and_fix_without_contents(data: dict[str, bytes] | None, reason: str, hint: str) -> None:
    check = derive_credentials_check(CREDS, "team", data)
    assert not check.valid
    assert check.reason == reason
    assert hint in check.message
    assert "alice-login" in check.message
    assert "SECRET-VALUE" not in check.message
    assert "REFRESH" not in check.message


@pytest.mark.parametrize(
    "data",
    [
        {".credentials.json": login()},
        {".credentials.json": login(), ".claude.json": b'{"userID": "u"}'},
        {"oauth-token": b"sk-ant-oat01-abc\n"},
    ],
)
def test_working_logins_are_valid(data: dict[str, bytes]) -> None:
    check = derive_credentials_check(CREDS, "team", data)
    assert check.valid, check
    assert check.reason == "Valid"


def test_custom_key_names_are_honoured() -> None:
    creds = Credentials(secret_name="s", credentials_key="creds")
    assert derive_credentials_check(creds, "ns", {"creds": login()}).valid
    missing = derive_credentials_check(creds, "ns", {".credentials.json": login()})
    assert missing.reason == "MissingKeys"
    assert "'creds'" in missing.message


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        ("sk-ant-oat01-abc".encode("utf-16"), "it is UTF-16 text (it starts with a UTF-16 byte-order mark)"),
        (b"\xef\xbb\xbfsk-ant-oat01-abc", "it starts with a UTF-8 byte-order mark"),
        ("sk-ant-oat01-abc\u00e9".encode(), "it holds bytes that are not ASCII text"),
        (b"sk-ant-oat01-abc sk-ant-oat01-def", "it holds more than one word, or control characters"),
    ],
)
def test_a_setup_token_the_runtime_could_not_read_is_malformed(token: bytes, problem: str) -> None:
    check = derive_credentials_check(CREDS, "team", {"oauth-token": token})
    assert (check.valid, check.reason) == (False, "MalformedCredentials")
    assert check.message == (
        f"Key 'oauth-token' of Secret team/alice-login is not a token as `claude setup-token` prints it: {problem}. "
        "Store it again with `--from-literal=oauth-token=<the token>` (or `claude-code-operator login "
        "--token-stdin`), not from a file saved by an editor or PowerShell."
    )


def test_a_setup_token_with_a_trailing_newline_is_fine() -> None:
    assert derive_credentials_check(CREDS, "team", {"oauth-token": b"sk-ant-oat01-abc\n"}).reason == "Valid"
