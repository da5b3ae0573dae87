"""What `claude-code-operator login` accepts and refuses before it contacts a cluster, what `--dry-run`
prints, and that no token ever appears in what it prints."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.unit.test_login_sources import FakeKeychain, kubeconfig

from claude_code_operator.api.spec import ClaudeCodeProviderSpec
from claude_code_operator.cli import build_parser, build_plugin_parser
from claude_code_operator.login.command import Machine, run_login
from claude_code_operator.login.errors import LoginRefused
from claude_code_operator.login.sources import LocalLogin
from claude_code_operator.login.validate import (
    ExistingSecret,
    derive_expiry,
    derive_login,
    derive_overwrite_refusal,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ACCESS = "sk-ant-oat01-ACCESS-" + "a" * 30
REFRESH = "sk-ant-ort01-REFRESH-" + "r" * 30
SETUP_TOKEN = "sk-ant-oat01-SETUP-" + "s" * 40
API_KEY = "sk-ant-api03-KEY-" + "k" * 30
MCP_SECRET = "mcp-token-that-stays-here"
PROMPT = "a prompt from this laptop's history"
SECRETS = (ACCESS, REFRESH, SETUP_TOKEN, API_KEY, MCP_SECRET, PROMPT)


def oauth(**changes: Any) -> dict[str, Any]:
    login = {
        "accessToken": ACCESS,
        "refreshToken": REFRESH,
        "expiresAt": int((NOW + timedelta(hours=8)).timestamp() * 1000),
        "scopes": ["user:inference", "user:profile"],
        "subscriptionType": "max",
    }
    login.update(changes)
    return {k: v for k, v in login.items() if v is not None}


def credentials(**changes: Any) -> bytes:
    return json.dumps({"claudeAiOauth": oauth(**changes), "mcpOAuth": {"srv": {"accessToken": MCP_SECRET}}}).encode()


STATE = json.dumps(
    {
        "oauthAccount": {"emailAddress": "alice@example.com", "accountUuid": "acc-1"},
        "userID": "user-1",
        "hasCompletedOnboarding": True,
        "projects": {"/home/alice/code": {"history": [{"display": PROMPT}]}},
    }
).encode()


def found_oauth(secret: bytes | None = None, state: bytes | None = STATE) -> LocalLogin:
    return LocalLogin(
        "oauth", "/home/alice/.claude/.credentials.json", secret or credentials(), state, "/home/alice/.claude.json"
    )


def found_token(token: str, source: str = "standard input (--token-stdin)") -> LocalLogin:
    return LocalLogin("setup-token", source, token.encode())


def assert_no_secret(text: str) -> None:
    for value in SECRETS:
        assert value not in text


def test_oauth_login_keeps_only_what_the_pod_needs() -> None:
    login = derive_login(found_oauth(), NOW)

    assert login.kind == "oauth"
    assert login.owner == "alice@example.com"
    assert login.expires_at == NOW + timedelta(hours=8)
    assert json.loads(login.data[".credentials.json"]) == {"claudeAiOauth": oauth()}, "no MCP servers' tokens"
    assert json.loads(login.data[".claude.json"]) == {
        "oauthAccount": {"emailAddress": "alice@example.com", "accountUuid": "acc-1"},
        "userID": "user-1",
        "hasCompletedOnboarding": True,
    }, "no project history"
    assert any("single-use" in note and "claude setup-token" in note for note in login.notes)


def test_expired_access_token_with_a_refresh_token_is_usable_and_said_so() -> None:
    expired = int((NOW - timedelta(days=2)).timestamp() * 1000)
    login = derive_login(found_oauth(credentials(expiresAt=expired)), NOW)
    assert login.expires_at is not None
    assert login.expires_at < NOW
    assert any("expired" in note and "still usable" in note for note in login.notes)


@pytest.mark.parametrize(
    ("secret", "named"),
    [
        (b"not json " + ACCESS.encode(), "not a JSON object"),
        (json.dumps({"other": {"accessToken": ACCESS}}).encode(), "no claudeAiOauth"),
        (credentials(refreshToken=None), "refreshToken"),
        (credentials(accessToken=""), "accessToken"),
        (credentials(expiresAt=int(NOW.timestamp())), "expiresAt"),  # seconds, not milliseconds
        (credentials(expiresAt="soon"), "expiresAt"),
        (credentials(scopes="user:inference"), "scopes"),
        (credentials(scopes=["user:profile", "org:create_api_key"]), "user:inference scope"),
    ],
)
def test_malformed_or_unusable_oauth_login_is_refused_naming_the_problem(secret: bytes, named: str) -> None:
    with pytest.raises(LoginRefused) as caught:
        derive_login(found_oauth(secret), NOW)
    assert named in str(caught.value)
    assert "claude setup-token" in str(caught.value)
    assert_no_secret(str(caught.value))


@pytest.mark.parametrize(
    "found",
    [
        found_oauth(credentials(accessToken=API_KEY)),
        found_oauth(state=json.dumps({"primaryApiKey": API_KEY}).encode()),
        found_token(API_KEY),
        found_token(API_KEY, "the environment variable CLAUDE_CODE_OAUTH_TOKEN"),
    ],
)
def test_an_api_key_is_refused_everywhere_pointing_at_litellms_anthropic_provider(found: LocalLogin) -> None:
    with pytest.raises(LoginRefused) as caught:
        derive_login(found, NOW)
    message = str(caught.value)
    assert "API key" in message
    assert "`anthropic/`" in message
    assert_no_secret(message)


def test_setup_token_is_one_key_and_surrounding_whitespace_is_dropped() -> None:
    login = derive_login(found_token(f"  {SETUP_TOKEN}\n"), NOW)
    assert (login.kind, dict(login.data), login.owner) == ("setup-token", {"oauth-token": SETUP_TOKEN.encode()}, None)
    assert login.notes == (), "no refresh warning: setup-tokens never refresh"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("", "No token"),
        (f"{SETUP_TOKEN} {SETUP_TOKEN}", "one token"),
        (REFRESH, "refresh token"),
        ("hunter2", "sk-ant-oat01-"),
    ],
)
def test_what_is_not_a_setup_token_is_refused(text: str, named: str) -> None:
    with pytest.raises(LoginRefused) as caught:
        derive_login(found_token(text), NOW)
    assert named in str(caught.value)
    assert_no_secret(str(caught.value))


def test_an_expired_setup_token_is_refused() -> None:
    with pytest.raises(LoginRefused) as caught:
        derive_login(found_token(SETUP_TOKEN), NOW, token_expires_at=NOW - timedelta(days=1))
    assert "expired" in str(caught.value)
    assert "claude setup-token" in str(caught.value)
    login = derive_login(found_token(SETUP_TOKEN), NOW, token_expires_at=NOW + timedelta(days=3))
    assert derive_expiry(login, None, NOW) == (NOW + timedelta(days=3), None)


def existing(token: str, expires: str) -> ExistingSecret:
    return ExistingSecret({"oauth-token": token.encode()}, {"claudecode.dev/login-expires-at": expires}, "7")


def test_setup_token_expiry_is_assumed_a_year_then_kept_for_the_same_token() -> None:
    login = derive_login(found_token(SETUP_TOKEN), NOW)

    first, note = derive_expiry(login, None, NOW)
    assert first == NOW + timedelta(days=365)
    assert note is not None
    assert "--token-expires-at" in note
    later = NOW + timedelta(days=30)
    assert derive_expiry(login, existing(SETUP_TOKEN, "2027-06-01T12:00:00Z"), later) == (first, None)
    other, _ = derive_expiry(login, existing("sk-ant-oat01-other", "2026-07-01T00:00:00Z"), later)
    assert other == later + timedelta(days=365), "a new token's expiry is not taken from the old one"
    with pytest.raises(LoginRefused, match="expired at 2026-05-01T00:00:00Z"):
        derive_expiry(login, existing(SETUP_TOKEN, "2026-05-01T00:00:00Z"), NOW)


def in_secret(**changes: Any) -> ExistingSecret:
    data = {".credentials.json": json.dumps({"claudeAiOauth": oauth(**changes)}).encode()}
    return ExistingSecret(data, {"claudecode.dev/login-written-by": "pod/uid-1"})


def test_an_older_copy_does_not_overwrite_the_login_the_pod_refreshed() -> None:
    login = derive_login(found_oauth(), NOW)
    newer = int((NOW + timedelta(hours=20)).timestamp() * 1000)

    refusal = derive_overwrite_refusal(login, in_secret(refreshToken="sk-ant-ort01-rotated", expiresAt=newer))

    assert refusal is not None
    assert "pod/uid-1" in refusal
    assert "--force" in refusal
    assert_no_secret(refusal)
    assert (
        derive_overwrite_refusal(login, in_secret(refreshToken="sk-ant-ort01-old", expiresAt=1_700_000_000_000)) is None
    )
    assert derive_overwrite_refusal(login, in_secret(expiresAt=newer)) is None, "the same login, only re-read"
    assert derive_overwrite_refusal(login, None) is None


def machine(tmp_path: Path, env: dict[str, str] | None = None, stdin: str = "") -> Machine:
    return Machine(env or {}, tmp_path, "linux", io.StringIO(stdin), io.StringIO(), io.StringIO(), FakeKeychain())


def output(m: Machine) -> tuple[str, str]:
    assert isinstance(m.stdout, io.StringIO)
    assert isinstance(m.stderr, io.StringIO)
    return m.stdout.getvalue(), m.stderr.getvalue()


def test_dry_run_prints_masked_manifests_the_api_would_accept_and_contacts_nothing(tmp_path: Path) -> None:
    (tmp_path / ".claude").mkdir()
    (tmp_path / ".claude" / ".credentials.json").write_bytes(credentials())
    (tmp_path / ".claude.json").write_bytes(STATE)
    m = machine(tmp_path, {"KUBECONFIG": str(tmp_path / "absent")})
    args = build_parser().parse_args(["login", "-n", "team", "--name", "alice", "--apply", "--dry-run"])

    assert run_login(args, m, NOW) == 0

    stdout, stderr = output(m)
    assert_no_secret(stdout + stderr)
    secret, resource = yaml.safe_load_all(stdout)
    assert secret["metadata"] == {
        "name": "alice-login",
        "namespace": "team",
        "labels": {
            "app.kubernetes.io/part-of": "claude-code-operator",
            "claudecode.dev/login-kind": "oauth",
            "claudecode.dev/provider": "alice",  # the one resource that may use it
        },
        "annotations": {
            "claudecode.dev/login-expires-at": "2026-06-01T20:00:00Z",
            "claudecode.dev/login-written-by": "login-command",
        },
    }
    sizes = {key: len(value) for key, value in derive_login(found_oauth(), NOW).data.items()}
    assert secret["data"] == {key: f"<masked: {size} bytes>" for key, size in sizes.items()}
    assert resource["kind"] == "ClaudeCodeProvider"
    assert resource["metadata"] == {"name": "alice", "namespace": "team"}
    spec = ClaudeCodeProviderSpec.model_validate(resource["spec"])
    assert (spec.credentials.secret_name, spec.owner) == ("alice-login", "alice@example.com")
    assert resource["spec"]["credentials"] == {
        "secretName": "alice-login",
        "credentialsKey": ".credentials.json",
        "claudeJsonKey": ".claude.json",
        "oauthTokenKey": "oauth-token",
    }, "the key names the Secret uses, nothing else of spec.credentials"
    assert set(resource["spec"]) == {"credentials", "owner"}, "fields it does not own are left alone"
    assert "single-use" in stderr
    assert "nothing was written" in stderr


def test_dry_run_of_a_setup_token_from_stdin(tmp_path: Path) -> None:
    m = machine(tmp_path, stdin=SETUP_TOKEN + "\n")
    args = build_plugin_parser().parse_args(["login", "--name", "bob", "--token-stdin", "--dry-run"])

    assert run_login(args, m, NOW) == 0

    stdout, stderr = output(m)
    assert_no_secret(stdout + stderr)
    (secret,) = yaml.safe_load_all(stdout)
    assert secret["metadata"]["namespace"] == "default", "no kubeconfig: kubectl's default namespace"
    assert secret["metadata"]["labels"]["claudecode.dev/login-kind"] == "setup-token"
    assert secret["data"] == {"oauth-token": f"<masked: {len(SETUP_TOKEN)} bytes>"}
    assert "single-use" not in stderr


def test_refusal_exits_1_with_the_reason_on_stderr(tmp_path: Path) -> None:
    m = machine(tmp_path, {"CLAUDE_CODE_OAUTH_TOKEN": API_KEY})
    args = build_parser().parse_args(["login", "--name", "carol", "--dry-run"])

    assert run_login(args, m, NOW) == 1

    stdout, stderr = output(m)
    assert stdout == ""
    assert stderr.startswith("error: The environment variable CLAUDE_CODE_OAUTH_TOKEN holds an Anthropic API key")
    assert_no_secret(stderr)


def test_help_states_the_order_of_sources_and_the_single_use_refresh_token(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["login", "--help"])
    text = capsys.readouterr().out
    order = ["--token-stdin", "CLAUDE_CODE_OAUTH_TOKEN", "Keychain", ".credentials.json"]
    positions = [text.index(word) for word in order]
    assert positions == sorted(positions)
    assert "single-use" in text
    assert "kubectl claude-code login" in text


def test_dry_run_namespace_defaults_to_the_kubeconfig_context_like_kubectl(tmp_path: Path) -> None:
    config = tmp_path / "kubeconfig"
    config.write_text(kubeconfig("https://127.0.0.1:1", "work", "ca.crt", namespace="team-a"))
    m = machine(tmp_path, {"KUBECONFIG": str(config), "CLAUDE_CODE_OAUTH_TOKEN": SETUP_TOKEN})
    args = build_parser().parse_args(["login", "--name", "dave", "--dry-run"])

    assert run_login(args, m, NOW) == 0

    (secret,) = yaml.safe_load_all(output(m)[0])
    assert secret["metadata"]["namespace"] == "team-a"
