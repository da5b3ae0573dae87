"""The login command's one error hierarchy: every message says what happened and what to run next,
and never holds a token or a Secret value."""

from __future__ import annotations


class LoginCommandError(Exception):
    """A failure the user can act on (exit status 1)."""


class LoginNotFound(LoginCommandError):
    """No login on this machine where Claude Code keeps one."""


class LoginRefused(LoginCommandError):
    """A login was found but the pod could not use it (malformed, expired, an API key, ...)."""


class ClusterError(LoginCommandError):
    """The cluster could not be reached, or refused the write."""
