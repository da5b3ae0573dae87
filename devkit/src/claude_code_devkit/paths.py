"""Where the repository's parts are: the kit runs from a checkout (an editable install), never a wheel."""

from __future__ import annotations

from pathlib import Path

#: The repository's root (devkit/src/claude_code_devkit/ is three levels below it).
REPO = Path(__file__).resolve().parents[3]
VENV_BIN = REPO / ".venv" / "bin"
CHART = REPO / "charts" / "claude-code-operator"
CRD = REPO / "crds" / "claudecodeproviders.claudecode.dev.yaml"
#: The control plane's scripts and pinned Go modules (`make cluster`).
CLUSTER_DIR = REPO / "devkit" / "cluster"
CLUSTER_SCRIPT = CLUSTER_DIR / "cluster.sh"
