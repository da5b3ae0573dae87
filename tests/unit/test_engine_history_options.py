"""A request's history becomes a resumable transcript, and its options make Claude Code a plain model."""

from __future__ import annotations

import json
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

from claude_agent_sdk import ClaudeAgentOptions, project_key_for_directory
from pydantic import SecretStr

from claude_code_provider.engine.history import can_feed, render_transcript, transcript_path, write_transcript
from claude_code_provider.engine.options import SessionKey, render_env, render_options
from claude_code_provider.engine.settings import EngineSettings
from claude_code_provider.protocol import ChatTurn, CompletionRequest

MODEL = "claude-sonnet-4-5"
HISTORY = [
    ChatTurn(role="user", content="What is 2+2?"),
    ChatTurn(role="assistant", content="4."),
    ChatTurn(role="user", content='Say "héllo"\non two lines'),
    ChatTurn(role="assistant", content="héllo\nworld"),
]


def test_transcript_has_one_json_line_per_turn_linked_in_order(tmp_path: Path) -> None:
    text = render_transcript(HISTORY, session_id="sess-1", cwd=tmp_path, model=MODEL)
    lines = text.splitlines()
    assert len(lines) == len(HISTORY)
    entries = [json.loads(line) for line in lines]

    assert entries[0]["parentUuid"] is None
    for previous, entry in pairwise(entries):
        assert entry["parentUuid"] == previous["uuid"]
    assert len({e["uuid"] for e in entries}) == len(entries)
    assert all(e["sessionId"] == "sess-1" for e in entries)
    assert all(e["cwd"] == str(tmp_path) for e in entries)

    assert [e["type"] for e in entries] == ["user", "assistant", "user", "assistant"]
    assert [e["message"]["role"] for e in entries] == ["user", "assistant", "user", "assistant"]
    assert entries[0]["message"]["content"] == "What is 2+2?"
    assert entries[2]["message"]["content"] == 'Say "héllo"\non two lines'
    assert entries[1]["message"]["content"] == [{"type": "text", "text": "4."}]
    assert entries[3]["message"]["content"] == [{"type": "text", "text": "héllo\nworld"}]
    assert entries[1]["message"]["model"] == MODEL


def test_transcript_path_uses_the_sdks_project_key(tmp_path: Path) -> None:
    cwd = tmp_path / "scratch" / "req-1"
    path = transcript_path(tmp_path / "config", cwd, "sess-1")
    assert path == tmp_path / "config" / "projects" / project_key_for_directory(cwd) / "sess-1.jsonl"


def test_write_transcript_writes_a_private_resumable_file(tmp_path: Path) -> None:
    cwd = tmp_path / "work"
    session_id, path = write_transcript(HISTORY, config_dir=tmp_path / "config", cwd=cwd, model=MODEL)
    assert path == transcript_path(tmp_path / "config", cwd, session_id)
    assert path.stat().st_mode & 0o777 == 0o600
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    assert [e["sessionId"] for e in entries] == [session_id] * len(HISTORY)


def options(
    request: CompletionRequest,
    settings: EngineSettings | None = None,
    resume: str | None = None,
    environ: dict[str, str] | None = None,
) -> ClaudeAgentOptions:
    return render_options(
        SessionKey.of(request),
        settings or EngineSettings(),
        cwd=Path("/tmp/scratch/x"),
        resume=resume,
        stderr=lambda _line: None,
        environ=environ or {},
    )


def request(max_tokens: int | None = None, system: str | None = None) -> CompletionRequest:
    return CompletionRequest(
        model=MODEL, system=system, messages=[ChatTurn(role="user", content="hi")], max_tokens=max_tokens
    )


def test_options_make_a_plain_chat_model() -> None:
    rendered = options(request(system="Be brief."), resume="sess-1")
    assert rendered.tools == []
    assert rendered.allowed_tools == []  # nothing auto-approved either
    assert rendered.mcp_servers == {}
    assert rendered.setting_sources == []
    assert rendered.strict_mcp_config is True
    assert rendered.max_turns == 1
    assert rendered.include_partial_messages is True
    assert rendered.model == MODEL
    assert rendered.system_prompt == "Be brief."
    assert rendered.resume == "sess-1"
    assert rendered.cwd == Path("/tmp/scratch/x")
    assert "no-session-persistence" in rendered.extra_args


def test_without_system_prompt_claude_codes_own_prompt_is_replaced_by_nothing() -> None:
    assert options(request()).system_prompt == ""


def test_env_blanks_everything_outside_the_allow_list_the_sdk_would_pass_on() -> None:
    environ = {
        "ANTHROPIC_API_KEY": "sk-ant-api03-x",
        "ANTHROPIC_AUTH_TOKEN": "tok",
        "LITELLM_MASTER_KEY": "sk-master",
        "CLAUDE_CODE_USE_BEDROCK": "1",
        "PATH": "/usr/bin",
        "HOME": "/home/me",
    }
    env = options(request(), environ=environ).env
    assert env["ANTHROPIC_API_KEY"] == ""
    assert env["ANTHROPIC_AUTH_TOKEN"] == ""
    assert env["LITELLM_MASTER_KEY"] == ""
    assert env["CLAUDE_CODE_USE_BEDROCK"] == ""
    assert env["PATH"] == "/usr/bin"
    assert env["HOME"] == "/home/me"


def test_max_output_tokens_only_when_max_tokens_is_given() -> None:
    assert "CLAUDE_CODE_MAX_OUTPUT_TOKENS" not in options(request()).env
    assert options(request(max_tokens=64)).env["CLAUDE_CODE_MAX_OUTPUT_TOKENS"] == "64"


def test_every_tool_is_offered_up_front_and_thinking_is_left_out_only_when_the_key_says_so() -> None:
    key = SessionKey.of(request())
    plain = render_env(key, EngineSettings(), {})
    # Tool search off: no deferred-tool placeholder, every client tool in the request's tools.
    assert plain["ENABLE_TOOL_SEARCH"] == "false"
    assert "CLAUDE_CODE_DISABLE_THINKING" not in plain
    assert render_env(replace(key, no_thinking=True), EngineSettings(), {})["CLAUDE_CODE_DISABLE_THINKING"] == "1"
    # A parked process keeps it: the environment is read at start-up.
    assert replace(key, system="Be terse.", no_thinking=True).parked() == SessionKey(model=MODEL, no_thinking=True)


def test_oauth_token_only_when_configured(tmp_path: Path) -> None:
    plain = options(request()).env
    assert "CLAUDE_CODE_OAUTH_TOKEN" not in plain
    assert "CLAUDE_CONFIG_DIR" not in plain
    configured = EngineSettings(oauth_token=SecretStr("sk-ant-oat01-tok"), config_dir=tmp_path)
    env = options(request(), configured).env
    assert env["CLAUDE_CODE_OAUTH_TOKEN"] == "sk-ant-oat01-tok"
    assert env["CLAUDE_CONFIG_DIR"] == str(tmp_path)


def test_engine_settings_from_env(tmp_path: Path) -> None:
    settings = EngineSettings.from_env(
        {
            "CLAUDE_CODE_CLI_PATH": "/usr/bin/claude",
            "CLAUDE_CONFIG_DIR": str(tmp_path),
            "CLAUDE_CODE_REQUEST_TIMEOUT": "30",
            "CLAUDE_CODE_IDLE_TIMEOUT": "",
        }
    )
    assert settings.cli_path == Path("/usr/bin/claude")
    assert settings.config_dir == tmp_path
    assert settings.request_timeout == 30.0
    assert settings.idle_timeout == 120.0
    assert settings.oauth_token is None


def test_only_a_history_of_alternating_turns_from_the_user_is_fed_to_a_warm_process() -> None:
    user, assistant = ChatTurn(role="user", content="u"), ChatTurn(role="assistant", content="a")
    assert can_feed([])
    assert can_feed([user, assistant, user, assistant])
    # Anything else resumes a transcript, as the CLI would take it from a file.
    assert not can_feed([assistant, user])
    assert not can_feed([user, user, assistant])
    assert not can_feed([user, assistant, assistant])


def test_a_parked_process_waits_for_its_claim_and_keeps_only_what_is_read_at_start_up() -> None:
    key = SessionKey.of(request(max_tokens=256, system="Be terse.")).parked()
    parked = render_options(
        key, EngineSettings(), cwd=Path("/tmp/scratch/x"), resume=None, park=True, stderr=lambda _l: None, environ={}
    )
    assert "await-claim" in parked.extra_args
    assert parked.system_prompt == ""  # the claim brings the request's
    assert parked.env["CLAUDE_CODE_MAX_OUTPUT_TOKENS"] == "256"
    assert "await-claim" not in options(request()).extra_args
