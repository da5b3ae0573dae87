"""Find every way an Anthropic API key (or another provider) could reach the CLI, so a request can refuse it.

The CLI prefers an API key over the OAuth login, so a stray key would silently bill an API account (and
break the product's promise of OAuth only). The environment cannot carry one: the CLI gets an allow-listed
environment (``engine/environment.py``), so an ``ANTHROPIC_API_KEY`` in the proxy's environment, for its
``anthropic/`` models, is fine. What the CLI reads by itself can: its settings (an ``apiKeyHelper``, or an
``env`` block that sets a key or a cloud provider), the administrator's managed settings, the state file's
``primaryApiKey``, and a key file at a fixed path.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import API_KEY_HINT, ClaudeCodeError, ErrorKind

# Variables that give the CLI a key, or send it to another provider, when a settings `env` block sets them.
CREDENTIAL_VARIABLES = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR",
    "CLAUDE_CODE_USE_BEDROCK",
    "CLAUDE_CODE_USE_VERTEX",
    "CLAUDE_CODE_USE_FOUNDRY",
)

# Where the CLI reads the administrator's managed-settings.json and its managed-settings.d/ drop-ins.
MANAGED_SETTINGS_DIR = Path(
    "/Library/Application Support/ClaudeCode" if sys.platform == "darwin" else "/etc/claude-code"
)
# Read by the CLI as an API key when CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR is unset (a fixed path, not ~).
WELL_KNOWN_KEY_FILE = Path("/home/claude/.claude/remote/.api_key")


def _json_object(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _settings_sources(path: Path) -> list[str]:
    settings = _json_object(path)
    sources = [f"an apiKeyHelper in {path}"] if "apiKeyHelper" in settings else []
    env = settings.get("env")
    if isinstance(env, dict):
        sources += [f"{name} in the env of {path}" for name in CREDENTIAL_VARIABLES if env.get(name)]
    return sources


def find_api_key_sources(
    config_dir: Path | None,
    *,
    managed_dir: Path = MANAGED_SETTINGS_DIR,
    key_file: Path = WELL_KNOWN_KEY_FILE,
) -> list[str]:
    """Names (never values) of the API-key sources present; empty when the login is OAuth only.

    ``config_dir`` is CLAUDE_CONFIG_DIR; without it the CLI keeps settings in ~/.claude/ but its state
    file beside that directory, in ~/.claude.json."""
    settings = (config_dir or Path.home() / ".claude") / "settings.json"
    state = config_dir / ".claude.json" if config_dir is not None else Path.home() / ".claude.json"
    managed = [managed_dir / "managed-settings.json", *sorted((managed_dir / "managed-settings.d").glob("*.json"))]
    sources = [source for path in (settings, *managed) for source in _settings_sources(path)]
    if "primaryApiKey" in _json_object(state):
        sources.append(f"a primaryApiKey in {state}")
    if key_file.is_file():
        sources.append(f"the API key file {key_file}")
    return sources


def refuse_api_keys(sources: list[str]) -> None:
    if sources:
        raise ClaudeCodeError(
            ErrorKind.API_KEY_REFUSED,
            f"Refused: an Anthropic API key would reach Claude Code ({'; '.join(sources)}). {API_KEY_HINT}",
        )
