"""`claude-code-operator run`'s settings: what the chart passes, and a clear error for bad input."""

from __future__ import annotations

import pytest

from claude_code_operator.cli import build_parser


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
