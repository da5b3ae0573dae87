"""`python -m claude_code_devkit.demo up|down` (`make demo`, `make demo-down`): the local control plane
(tests/demo/steps.py), or the cluster KUBECONFIG names (demo/remote.py)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from claude_code_devkit.demo import remote, steps
from claude_code_devkit.demo.steps import DemoError, Settings, default_state_dir, has_login, local_cluster, loudly


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m claude_code_devkit.demo", description=__doc__)
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument("--state-dir", type=Path, help="pids, logs (default: $DEMO_STATE_DIR or the cache)")
    parser.add_argument("--namespace", default="demo", help="where the ClaudeCodeProvider goes")
    parser.add_argument("--operator-namespace", default="claude-code-operator")
    parser.add_argument("--release", default="claude-code-operator", help="the helm release")
    args = parser.parse_args()
    state_dir = (args.state_dir or default_state_dir()).resolve()
    if args.command == "down":
        earlier = Settings.load(state_dir)
        if earlier is not None and earlier.kubeconfig:
            remote.down(earlier)
        else:
            steps.down(state_dir)
        return 0
    try:
        kubeconfig = remote.derive_remote_kubeconfig(os.environ.get("KUBECONFIG", ""), local_cluster().kubeconfig)
    except DemoError as exc:
        print(f"make demo FAILED: {exc}", file=sys.stderr)
        return 1
    offline = os.environ.get("DEMO_OFFLINE", "") not in ("", "0") or not has_login(Path.home())
    if offline and not os.environ.get("DEMO_OFFLINE"):
        loudly(
            "no login for the demo: set CLAUDE_CODE_OAUTH_TOKEN (from `claude setup-token`), or "
            "DEMO_USE_CREDENTIALS_FILE=1 to copy ~/.claude/.credentials.json (the pod may then refresh it and "
            "sign this machine's CLI out)"
        )
    settings = Settings(
        state_dir, namespace=args.namespace, operator_namespace=args.operator_namespace, release=args.release,
        offline=offline, kubeconfig=kubeconfig,
    )  # fmt: skip
    try:
        (remote.up if kubeconfig else steps.up)(settings)
    except (DemoError, TimeoutError, AssertionError) as exc:
        print(f"make demo FAILED: {exc}\nWhat started is still running: `make demo-down` stops it.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
