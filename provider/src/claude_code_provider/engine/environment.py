"""Pure: the environment a Claude Code CLI process gets, built from an allow-list.

The CLI reads credentials and provider switches from many variables (``ANTHROPIC_API_KEY``,
``CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR``, ``CLAUDE_CODE_USE_BEDROCK``, ...), and the process that starts it
(a LiteLLM proxy) holds secrets of its own. Only what the CLI needs to run, reach the upstream and log in
with OAuth is passed on.
"""

from __future__ import annotations

from collections.abc import Mapping

ALLOWED_VARIABLES = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "TMPDIR",
        "TZ",
        "LANG",
        "LANGUAGE",
        "TERM",
        "CLAUDE_CONFIG_DIR",
        "CLAUDE_CODE_OAUTH_TOKEN",
        "ANTHROPIC_BASE_URL",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "all_proxy",
        "NODE_EXTRA_CA_CERTS",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "API_TIMEOUT_MS",
        "CLAUDE_CODE_MAX_OUTPUT_TOKENS",
        "CLAUDE_CODE_MAX_RETRIES",
    }
)
# Switches that only turn things off (DISABLE_AUTOUPDATER, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC, ...),
# and the locale.
ALLOWED_PREFIXES = ("LC_", "DISABLE_", "CLAUDE_CODE_DISABLE_")

# Set, replaced or dropped by the SDK's transport itself after it merged the environment; blanking one
# would override the SDK's own value (for example its session-state handshake).
SDK_MANAGED_VARIABLES = frozenset(
    {
        "CLAUDECODE",
        "CLAUDE_CODE_ENTRYPOINT",
        "CLAUDE_AGENT_SDK_VERSION",
        "CLAUDE_AGENT_SDK_DERIVED_CLIENT_APP",
        "CLAUDE_CODE_SDK_READS_SESSION_STATE",
        "PWD",
    }
)


def is_allowed(name: str) -> bool:
    return name in ALLOWED_VARIABLES or name.startswith(ALLOWED_PREFIXES)


def derive_cli_environment(environ: Mapping[str, str], overrides: Mapping[str, str]) -> dict[str, str]:
    """The CLI's whole environment: the allowed part of ``environ``, then ``overrides``."""
    return {**{name: value for name, value in environ.items() if is_allowed(name)}, **overrides}


def derive_sdk_env(environ: Mapping[str, str], overrides: Mapping[str, str]) -> dict[str, str]:
    """``ClaudeAgentOptions.env`` for a CLI whose environment is ``derive_cli_environment``.

    The SDK always merges this process's environment under ``options.env``, so every variable outside
    the allow-list is given an empty value here: its value never reaches the CLI, which treats an empty
    variable as unset."""
    blanked = {name: "" for name in environ if not is_allowed(name) and name not in SDK_MANAGED_VARIABLES}
    return {**blanked, **derive_cli_environment(environ, overrides)}
