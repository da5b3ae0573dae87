"""Test-wide rules: nothing leaves the machine, and tier markers come from where a test lives."""

import os
from pathlib import Path

import pytest

# Some of the CLI's side calls ignore ANTHROPIC_BASE_URL, and LiteLLM fetches a price list at import:
# every HTTP(S) request that is not for loopback goes to a closed port on loopback instead.
CLOSED_PROXY = "http://127.0.0.1:9"
ISOLATION_ENV = {
    "HTTPS_PROXY": CLOSED_PROXY,
    "HTTP_PROXY": CLOSED_PROXY,
    "https_proxy": CLOSED_PROXY,
    "http_proxy": CLOSED_PROXY,
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_AUTOUPDATER": "1",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
}
#: The environment as it was before isolation: for what must reach a package registry on purpose (the
#: Go build of the e2e control plane), never for anything a test starts.
ENV_BEFORE_ISOLATION = dict(os.environ)
os.environ.update(ISOLATION_ENV)
for _name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN", "CLAUDE_CONFIG_DIR"):
    os.environ.pop(_name, None)

_TIERS = {"unit", "integration", "e2e", "images"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tier = Path(str(item.fspath)).relative_to(Path(__file__).parent).parts[0]
        if tier in _TIERS:
            item.add_marker(getattr(pytest.mark, tier))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """The test order's seed (pytest-randomly) also under -q, to replay a failing order with --randomly-seed."""
    seed = config.getoption("randomly_seed", default=None)
    if seed is not None:
        terminalreporter.write_line(f"Random test order: --randomly-seed={seed}")
