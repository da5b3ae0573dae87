"""The `login` subcommand: arguments, the steps in order, and what it prints (never a secret)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from ..api.resource import Provider
from ..contract import CLAUDE_JSON_FILE, CREDENTIALS_FILE, OAUTH_TOKEN_FILE
from ..render import names
from ..wire import to_rfc3339
from .apply import LoginApi, fetch_context, fetch_kubeconfig
from .errors import ClusterError, LoginCommandError, LoginRefused
from .manifests import render_login_secret, render_masked_yaml, render_provider
from .sources import Keychain, MacKeychain, fetch_local_login
from .validate import (
    ExistingSecret,
    Login,
    derive_expiry,
    derive_login,
    derive_overwrite_refusal,
    derive_relabel_refusal,
)

LOGIN_KEYS = frozenset({CREDENTIALS_FILE, CLAUDE_JSON_FILE, OAUTH_TOKEN_FILE})
DESCRIPTION = """\
Copy this machine's Claude Code login into a Secret in the cluster (server-side apply through your
kubeconfig) and, with --apply, write the ClaudeCodeProvider that serves it. The login is validated
first; nothing secret is printed.

Where the login comes from, first match wins:
  1. --token-stdin: a `claude setup-token` token on standard input
  2. CLAUDE_CODE_OAUTH_TOKEN: a `claude setup-token` token in the environment
  3. macOS: the Keychain item "Claude Code-credentials" that `claude auth login` writes
  4. $CLAUDE_CONFIG_DIR/.credentials.json, else ~/.claude/.credentials.json (from `claude auth login`),
     with the account state from $CLAUDE_CONFIG_DIR/.claude.json, else ~/.claude.json
An Anthropic API key (sk-ant-api...) is refused wherever it is found: use LiteLLM's `anthropic/`
provider for those.

Prefer `claude setup-token` for pods (one year, never refreshed). A `claude auth login` login is
refreshing: its refresh token is single-use, so once the pod refreshes it, Claude Code on this
machine is signed out. An expired access token with a refresh token is still usable.
"""

EPILOG = """\
examples:
  claude setup-token   # then paste the token it prints at the prompt (not echoed):
  claude-code-operator login -n team --name alice --apply --token-stdin
  kubectl claude-code login -n team --name alice --apply          # a `claude auth login` login, as a kubectl plugin
  claude-code-operator login -n team --name alice --dry-run        # the manifests, values masked
"""


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date or an RFC 3339 time, got {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description, parser.epilog = DESCRIPTION, EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--name", required=True, help="the ClaudeCodeProvider's name")
    parser.add_argument(
        "-n", "--namespace", help="where the Secret (and resource) go; default: the kubeconfig context's namespace"
    )
    parser.add_argument("--secret-name", help="the login Secret's name (default: NAME-login)")
    parser.add_argument(
        "--apply", action="store_true", help="also write the ClaudeCodeProvider NAME (credentials and owner)"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the manifests (Secret values masked); contact no cluster"
    )
    parser.add_argument("--token-stdin", action="store_true", help="read a `claude setup-token` token from stdin")
    parser.add_argument(
        "--token-expires-at",
        type=_moment,
        metavar="WHEN",
        help="a setup-token's expiry (default: one year from its first upload, as `claude setup-token` makes them)",
    )
    parser.add_argument("--owner", help="spec.owner (default: the login's account email when known)")
    parser.add_argument(
        "--force", action="store_true", help="overwrite a newer login in the Secret (one the pod refreshed)"
    )
    parser.add_argument("--kubeconfig", help="the kubeconfig file (default: KUBECONFIG, else ~/.kube/config)")
    parser.add_argument("--context", help="the kubeconfig context (default: its current context)")


@dataclass(frozen=True)
class Machine:
    """What the command reads of this machine (tests replace it)."""

    env: Mapping[str, str]
    home: Path
    platform: str
    stdin: IO[str]
    stdout: IO[str]
    stderr: IO[str]
    keychain: Keychain


def local_machine() -> Machine:
    return Machine(os.environ, Path.home(), sys.platform, sys.stdin, sys.stdout, sys.stderr, MacKeychain())


def _describe(login: Login) -> str:
    if login.kind == "setup-token":
        return f"a `claude setup-token` token from {login.source}"
    who = f" of {login.owner}" if login.owner else ""
    until = f", access token until {to_rfc3339(login.expires_at)}" if login.expires_at else ""
    return f"a `claude auth login` OAuth login{who} from {login.source}{until}"


def run_login(args: argparse.Namespace, machine: Machine, now: datetime | None = None) -> int:
    try:
        _run(args, machine, now or datetime.now(UTC))
    except LoginCommandError as error:
        print(f"error: {error}", file=machine.stderr)
        return 1
    return 0


def _run(args: argparse.Namespace, machine: Machine, now: datetime) -> None:
    out, err = machine.stdout, machine.stderr
    found = fetch_local_login(
        env=machine.env,
        home=machine.home,
        platform=machine.platform,
        keychain=machine.keychain,
        stdin=machine.stdin if args.token_stdin else None,
    )
    login = derive_login(found, now, args.token_expires_at)
    secret_name = args.secret_name or names.login_secret_name(args.name)
    owner = args.owner or login.owner
    report = err if args.dry_run else out
    print(f"Login: {_describe(login)}.", file=report)
    for note in login.notes:
        print(f"Warning: {note}", file=err)

    if args.dry_run:
        namespace = args.namespace or _namespace_or_default(args, machine.env, machine.home)
        expires_at = _expiry(login, None, now, err)
        manifests = [render_login_secret(namespace, secret_name, args.name, login, expires_at)]
        if args.apply:
            manifests.append(render_provider(namespace, args.name, secret_name, owner))
        out.write(render_masked_yaml(manifests))
        print("Dry run: nothing was written.", file=err)
        return

    context = fetch_context(fetch_kubeconfig(args.kubeconfig, machine.env, machine.home), args.context)
    namespace = args.namespace or context.namespace
    api = LoginApi(context)
    try:
        existing, readable = api.fetch_secret(namespace, secret_name)
        if not readable:
            print(
                f"Note: you may not read Secret {namespace}/{secret_name}, so whether it holds a newer login (one the "
                "pod refreshed) cannot be checked.",
                file=err,
            )
        refusal = (
            None
            if args.force
            else derive_overwrite_refusal(login, existing) or derive_relabel_refusal(existing, args.name)
        )
        if refusal:
            raise LoginRefused(refusal)
        expires_at = _expiry(login, existing, now, err)
        applied = api.apply(render_login_secret(namespace, secret_name, args.name, login, expires_at))
        # Keys of another kind of login that another writer put there (the pod's write-back, kubectl)
        # outlive the apply; the Secret must hold this login only, or the pod could keep the old one.
        stale = sorted(LOGIN_KEYS & set(applied.get("data") or {}) - set(login.data))
        if stale:
            api.remove_keys(namespace, secret_name, stale)
        _report_secret(namespace, secret_name, login, existing, readable, applied, stale, out)
        if args.apply:
            resource = api.apply(render_provider(namespace, args.name, secret_name, owner))
            _report_provider(resource, out)
        else:
            print(
                f"Next: point a ClaudeCodeProvider at it (spec.credentials.secretName: {secret_name}), or run this "
                "again with --apply.",
                file=out,
            )
    finally:
        api.close()


def _expiry(login: Login, existing: ExistingSecret | None, now: datetime, err: IO[str]) -> datetime:
    expires_at, assumed = derive_expiry(login, existing, now)
    if assumed:
        print(f"Note: {assumed}", file=err)
    return expires_at


def _namespace_or_default(args: argparse.Namespace, env: Mapping[str, str], home: Path) -> str:
    """A dry run needs no cluster: without a usable kubeconfig, kubectl's default namespace."""
    try:
        return fetch_context(fetch_kubeconfig(args.kubeconfig, env, home), args.context).namespace
    except ClusterError:
        return "default"


def _report_secret(
    namespace: str,
    name: str,
    login: Login,
    existing: ExistingSecret | None,
    readable: bool,
    applied: dict[str, Any],
    removed: list[str],
    out: IO[str],
) -> None:
    version = applied["metadata"].get("resourceVersion")
    if not readable:
        what = "applied"
    elif existing is None:
        what = "created"
    else:
        what = "unchanged" if existing.resource_version == version and not removed else "updated"
    print(f"Secret {namespace}/{name} {what} (keys: {', '.join(sorted(login.data))}).", file=out)
    if removed:
        print(f"Removed the previous login's {', '.join(removed)} from it (written by another writer).", file=out)


def _report_provider(resource: dict[str, Any], out: IO[str]) -> None:
    provider = Provider.from_body(resource)
    name, namespace = provider.name, provider.namespace
    print(f"ClaudeCodeProvider {namespace}/{name} applied.", file=out)
    print(
        f"Next: kubectl get ccp {name} -n {namespace} -w   (READY turns True once the pod has checked the login)",
        file=out,
    )
    print(f"Endpoint: {names.endpoint(provider)} (OpenAI-compatible, for the pods spec.allowFrom admits)", file=out)
    print(
        f"API key:  kubectl get secret {names.keys_secret_name(name)} -n {namespace} "
        "-o jsonpath='{.data.master-key}' | base64 -d",
        file=out,
    )
