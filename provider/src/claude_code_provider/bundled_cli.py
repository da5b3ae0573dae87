"""``claude``: the Claude Code CLI bundled in the claude-agent-sdk wheel, for people to run.

The provider runs that CLI, but it sits inside the wheel, off ``PATH``: someone without Claude Code
installed could not log in the way every message says. This console script is that CLI, with the
caller's arguments and environment (``claude auth login``, ``claude setup-token``, ``claude auth
status``), and so with this machine's config directory (``CLAUDE_CONFIG_DIR``, else ``~/.claude``): the
one the provider reads.
"""

from __future__ import annotations

import os
import sys

from .auth.probe import bundled_cli


def main() -> None:
    cli = bundled_cli()
    if not cli.is_file():
        sys.exit(f"claude: the Claude Code CLI is missing from the claude-agent-sdk wheel ({cli}); reinstall it.")
    os.execv(cli, [str(cli), *sys.argv[1:]])
