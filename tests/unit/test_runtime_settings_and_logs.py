"""Runtime settings from the pod's environment, and structured JSON logs."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from claude_code_provider.engine.admission import AdmissionSettings
from claude_code_provider.logs import JsonFormatter
from claude_code_provider.runtime.settings import RuntimeSettings


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "192.168.0.1", "::", "2001:db8::1"])
def test_completion_api_refuses_a_non_loopback_host(host: str) -> None:
    with pytest.raises(ValidationError, match="loopback"):
        RuntimeSettings(api_host=host)


@pytest.mark.parametrize("host", ["claude.example.com", "pod.local"])
def test_completion_api_refuses_a_host_name_other_than_localhost(host: str) -> None:
    with pytest.raises(ValidationError):
        RuntimeSettings(api_host=host)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.100.0.5", "::1", "localhost"])
def test_completion_api_accepts_loopback(host: str) -> None:
    assert RuntimeSettings(api_host=host).api_host == host


def test_a_non_loopback_host_from_the_environment_is_refused() -> None:
    with pytest.raises(ValidationError, match="loopback"):
        RuntimeSettings.from_env({"CLAUDE_RUNTIME_API_HOST": "0.0.0.0"})


def test_defaults() -> None:
    settings = RuntimeSettings.from_env({})
    assert settings.api_host == "127.0.0.1"
    assert settings.api_port == 8081
    assert settings.port == 8080


def test_env_parsing() -> None:
    settings = RuntimeSettings.from_env(
        {
            "CLAUDE_RUNTIME_LISTEN_HOST": "127.0.0.2",
            "CLAUDE_RUNTIME_PORT": "9000",
            "CLAUDE_RUNTIME_API_HOST": "::1",
            "CLAUDE_RUNTIME_API_PORT": "9001",
            "CLAUDE_LOGIN_DIR": "/secrets/login",
            "CLAUDE_RUNTIME_AUTH_REFRESH_SECONDS": "7.5",
            "CLAUDE_RUNTIME_UNRELATED": "x",
        }
    )
    assert settings == RuntimeSettings(
        listen_host="127.0.0.2",
        port=9000,
        api_host="::1",
        api_port=9001,
        login_dir=Path("/secrets/login"),
        auth_refresh_seconds=7.5,
    )


def test_empty_variables_keep_defaults() -> None:
    assert RuntimeSettings.from_env({"CLAUDE_RUNTIME_PORT": "", "CLAUDE_RUNTIME_API_HOST": ""}) == RuntimeSettings()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CLAUDE_RUNTIME_PORT", "eighty"),
        ("CLAUDE_RUNTIME_PORT", "70000"),
        ("CLAUDE_RUNTIME_AUTH_REFRESH_SECONDS", "-1"),
    ],
)
def test_invalid_values_are_refused(variable: str, value: str) -> None:
    with pytest.raises(ValidationError):
        RuntimeSettings.from_env({variable: value})


def test_admission_settings_come_from_the_runtime_variables() -> None:
    settings = AdmissionSettings.from_env({"CLAUDE_RUNTIME_MAX_IN_FLIGHT": "2", "CLAUDE_RUNTIME_QUEUE_TIMEOUT": "5"})
    assert settings == AdmissionSettings(max_in_flight=2, max_queued=16, queue_timeout=5)
    assert AdmissionSettings.from_env({}) == AdmissionSettings(max_in_flight=4, max_queued=16, queue_timeout=30)


@pytest.mark.parametrize("environ", [{"CLAUDE_RUNTIME_MAX_IN_FLIGHT": "0"}, {"CLAUDE_RUNTIME_MAX_QUEUED": "-1"}])
def test_invalid_admission_settings_are_refused(environ: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        AdmissionSettings.from_env(environ)


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("claude_code_provider.test_logs")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def test_one_json_object_per_record_with_extra_fields(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.info("Login installed", extra={"method": "oauth_token", "source_changed": True})
    logger.warning("Request %s failed", "r1", extra={"status": 429, "path": Path("/x")})
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == "Login installed"
    assert first["level"] == "info"
    assert first["logger"] == "claude_code_provider.test_logs"
    assert first["method"] == "oauth_token"
    assert first["source_changed"] is True
    assert "time" in first
    assert second["message"] == "Request r1 failed"
    assert second["level"] == "warning"
    assert second["status"] == 429
    assert second["path"] == "/x"
    # The record's own attributes are not dumped as keys.
    for standard in ("args", "msg", "levelno", "pathname", "lineno", "funcName", "process", "taskName"):
        assert standard not in first


def test_an_exception_is_named_without_a_traceback(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("Failed")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["error"] == "ValueError"
    assert entry["level"] == "error"
