"""Find every way an Anthropic API key could reach the CLI, so a request can refuse it.

The CLI prefers an API key over the OAuth login, so a stray key in the environment or settings would
silently bill an API account (and break the product's promise of OAuth only).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from ..errors import API_KEY_HINT, ClaudeCodeError, ErrorKind

# Variables the CLI reads as an API key or bearer credential ahead of the OAuth login.
API_KEY_VARIABLES = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")

# Blank values are what the CLI's environment gets for these, whatever the parent process has.
CLEARED_API_KEY_ENV = dict.fromkeys(API_KEY_VARIABLES, "")


def _json_keys(path: Path) -> set[str]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return set()
    return set(data) if isinstance(data, dict) else set()


def find_api_key_sources(environ: Mapping[str, str], config_dir: Path | None) -> list[str]:
    """Names (never values) of the API-key sources present; empty when the login is OAuth only.

    ``config_dir`` is CLAUDE_CONFIG_DIR; without it the CLI keeps settings in ~/.claude/ but its state
    file beside that directory, in ~/.claude.json."""
    sources = [f"the {name} environment variable" for name in API_KEY_VARIABLES if environ.get(name)]
    settings = (config_dir or Path.home() / ".claude") / "settings.json"
    state = config_dir / ".claude.json" if config_dir is not None else Path.home() / ".claude.json"
    if "apiKeyHelper" in _json_keys(settings):
        sources.append(f"an apiKeyHelper in {settings}")
    if "primaryApiKey" in _json_keys(state):
        sources.append(f"a primaryApiKey in {state}")
    return sources


def refuse_api_keys(sources: list[str]) -> None:
    if sources:
        raise ClaudeCodeError(
            ErrorKind.API_KEY_REFUSED,
            f"Refused: an Anthropic API key would reach Claude Code ({'; '.join(sources)}). {API_KEY_HINT}",
        )
