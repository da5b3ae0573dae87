"""`claude-code-operator run`'s settings: what the chart passes, and a clear error for bad input."""

from __future__ import annotations

import pytest

from claude_code_operator.cli import build_parser, to_activator_settings


def test_api_server_endpoints_are_ip_and_port_ipv6_in_brackets() -> None:
    args = build_parser().parse_args(
        ["run", "-A", "--api-server-endpoint", "10.0.0.1:6443", "--api-server-endpoint", "[fd00::1]:443"]
    )
    assert [(str(e.address), e.port) for e in args.api_server] == [("10.0.0.1", 6443), ("fd00::1", 443)]
    assert build_parser().parse_args(["run", "-A"]).api_server == []


@pytest.mark.parametrize("bad", ["kubernetes.default:443", "10.0.0.1", "10.0.0.1:0", "10.0.0.1:https"])
def test_a_bad_api_server_endpoint_is_refused_naming_the_option(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "-A", "--api-server-endpoint", bad])
    err = capsys.readouterr().err
    assert "--api-server-endpoint" in err
    assert f"expected IP:port (IPv6 as [IP]:port), got {bad!r}" in err


def test_allowed_images_default_to_the_projects_provider_repository() -> None:
    assert build_parser().parse_args(["run", "-A"]).allowed_images == []
    args = build_parser().parse_args(
        ["run", "-A", "--allowed-image", "r.example:5000/a", "--allowed-image", "r.example/"]
    )
    assert args.allowed_images == ["r.example:5000/a", "r.example/"]


def test_an_allowed_image_with_a_tag_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "-A", "--allowed-image", "r.example/a:1"])
    assert "expected an image repository without tag or digest, got 'r.example/a:1'" in capsys.readouterr().err


def test_the_activator_takes_the_charts_options() -> None:
    args = build_parser().parse_args(
        [
            "activator", "--routes-namespace", "ops", "--health-port=8080", "--hold-seconds=90",
            "--retry-after-seconds=3", "--max-held=10", "--max-body-bytes=2048", "--wake-burst=2",
            "--wakes-per-minute=0.5", "--log-format=plain",
        ]
    )  # fmt: skip
    settings = to_activator_settings(args)
    assert settings.model_dump() == {
        "namespace": "ops",
        "host": "0.0.0.0",
        "health_port": 8080,
        "hold_seconds": 90.0,
        "retry_after_seconds": 3,
        "max_held": 10,
        "max_body_bytes": 2048,
        "wake_burst": 2,
        "wakes_per_minute": 0.5,
        "upstream_read_seconds": 600.0,
    }
    assert args.log_format == "plain"


def test_a_bad_activator_value_is_refused_naming_the_option() -> None:
    args = build_parser().parse_args(["activator", "--hold-seconds=0", "--max-held=0"])
    with pytest.raises(SystemExit) as refused:
        to_activator_settings(args)
    assert str(refused.value) == (
        "claude-code-operator activator: --hold-seconds: Input should be greater than 0; "
        "--max-held: Input should be greater than or equal to 1"
    )
