"""Pure mapping from the SDK's messages to protocol events and errors.

The CLI reports a failed turn as a result with ``is_error``, the HTTP status of the failing API call
(``api_error_status``), an error kind on the assistant message, and, for usage limits, a rate-limit
event carrying ``resetsAt``. ``TurnState`` collects those as they arrive so the result can be judged
with all of them.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from claude_agent_sdk import AssistantMessage, RateLimitEvent, ResultMessage, StreamEvent, SystemMessage, TextBlock

from ..errors import ClaudeCodeError, ErrorKind
from ..protocol import Finish, ReasoningDelta, TextDelta, ThinkingBlock, Usage
from ..usage import to_window_name

_FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "refusal": "content_filter",
    "tool_use": "tool_calls",
    # The PreToolUse hook deferred the model's calls to the client (``engine.tool_calls``).
    "tool_deferred": "tool_calls",
}

_SECRET = re.compile(r"sk-ant-[A-Za-z0-9_\-]+")


def redact(text: str) -> str:
    """Blank anything shaped like an Anthropic token before text leaves the process."""
    return _SECRET.sub("sk-ant-***", text)


@dataclass
class TurnState:
    assistant_error: str | None = None
    resets_at: float | None = None
    window: str | None = None  # the usage window that was hit
    model: str | None = None
    message_usage: dict[str, object] = field(default_factory=dict)
    sent: str = ""  # the answer's text as handed out so far
    told: str = ""  # the answer's text as the CLI's assistant messages have it
    thinking: ThinkingBlock | None = None  # the thinking block being streamed

    def observe(self, message: object) -> TextDelta | ReasoningDelta | ThinkingBlock | Finish | None:
        """Remember what matters for judging the result; return a text delta when there is one, or a
        finish when the model's answer was cut at ``max_tokens``.

        On a cut answer the CLI would send a second request asking the model to go on; an OpenAI
        client that set ``max_tokens`` wants the cut answer, so the turn ends there."""
        if isinstance(message, StreamEvent):
            event = self._observe_stream(message.event)
            if isinstance(event, TextDelta):
                self.sent += event.text
            return event
        if isinstance(message, SystemMessage) and message.subtype == "api_retry" and self.sent:
            # The CLI would start the answer again from the top; the client already has its beginning.
            raise ClaudeCodeError(
                ErrorKind.UPSTREAM_ERROR,
                "Anthropic's API broke off the answer after part of it was sent; retry the request.",
            )
        if isinstance(message, AssistantMessage):
            self.model = message.model or self.model
            if message.error:
                self.assistant_error = message.error
            else:
                return self._observe_text(message)
        elif isinstance(message, RateLimitEvent):
            info = message.rate_limit_info
            if info.status == "rejected" and info.resets_at:
                self.resets_at = float(info.resets_at)
                self.window = info.rate_limit_type
        return None

    def _observe_text(self, message: AssistantMessage) -> TextDelta | None:
        """The part of the answer that came without stream deltas.

        When a stream breaks, the CLI may fetch the answer again without streaming; it then arrives
        only in the assistant message. What was already handed out must be its beginning."""
        self.told += "".join(block.text for block in message.content if isinstance(block, TextBlock))
        if self.told.startswith(self.sent):
            rest, self.sent = self.told[len(self.sent) :], self.told
            return TextDelta(text=rest) if rest else None
        if self.sent.startswith(self.told):
            return None
        raise ClaudeCodeError(
            ErrorKind.UPSTREAM_ERROR,
            "Anthropic's API broke off the answer after part of it was sent; retry the request.",
        )

    def _observe_stream(self, event: dict[str, Any]) -> TextDelta | ReasoningDelta | ThinkingBlock | Finish | None:
        kind = event.get("type")
        if kind == "content_block_delta":
            delta = event.get("delta") or {}
            if delta.get("type") == "text_delta" and delta.get("text"):
                return TextDelta(text=delta["text"])
            return self._observe_thinking(delta)
        if kind == "content_block_start":
            block = event.get("content_block") or {}
            if block.get("type") == "thinking":
                self.thinking = ThinkingBlock()
            elif block.get("type") == "redacted_thinking":
                self.thinking = ThinkingBlock(kind="redacted_thinking", data=str(block.get("data") or ""))
        elif kind == "content_block_stop" and self.thinking is not None:
            # The whole block, signature included: a client sends it back with the history as it was.
            done, self.thinking = self.thinking, None
            return done
        elif kind == "message_start":
            message = event.get("message") or {}
            self.model = message.get("model") or self.model
            self.message_usage = dict(message.get("usage") or {})
        elif kind == "message_delta":
            # Counts the delta leaves out (or sends as null) keep their message_start values.
            self.message_usage.update({k: v for k, v in (event.get("usage") or {}).items() if v is not None})
            if (event.get("delta") or {}).get("stop_reason") == "max_tokens":
                return Finish(finish_reason="length", usage=to_usage(self.message_usage), model=self.model)
        return None

    def _observe_thinking(self, delta: dict[str, Any]) -> ReasoningDelta | None:
        if self.thinking is None:
            return None
        if delta.get("type") == "thinking_delta" and delta.get("thinking"):
            text = str(delta["thinking"])
            self.thinking = self.thinking.model_copy(update={"thinking": self.thinking.thinking + text})
            return ReasoningDelta(text=text)
        if delta.get("type") == "signature_delta":
            signature = (self.thinking.signature or "") + str(delta.get("signature") or "")
            self.thinking = self.thinking.model_copy(update={"signature": signature})
        return None


def to_usage(raw: dict[str, object] | None) -> Usage:
    raw = raw or {}

    def count(key: str) -> int:
        value = raw.get(key)
        return value if isinstance(value, int) else 0

    return Usage(
        input_tokens=count("input_tokens"),
        output_tokens=count("output_tokens"),
        cache_creation_input_tokens=count("cache_creation_input_tokens"),
        cache_read_input_tokens=count("cache_read_input_tokens"),
    )


_REVOKED = re.compile(r"OAuth (access )?token (has been )?revoked", re.IGNORECASE)
_ORGANIZATION_DISABLED = re.compile(r"organization has been disabled", re.IGNORECASE)
_EXTRA_USAGE = re.compile(r"(extra usage is|usage credits are|usage credits) required", re.IGNORECASE)


def to_account_refusal(status: int | None, kind: str | None, detail: str) -> ClaudeCodeError | None:
    """Refusals of the account behind the login, each its own kind: not a missing login, not a 500."""
    if status in (401, 403) and _REVOKED.search(detail):
        return ClaudeCodeError(
            ErrorKind.LOGIN_REVOKED,
            "Anthropic revoked this login (OAuth token revoked: signed out everywhere, a password change, "
            "or an administrator); it needs a new login.",
        )
    if kind == "oauth_org_not_allowed":
        return ClaudeCodeError(
            ErrorKind.OAUTH_NOT_ALLOWED,
            "The organization of this login does not allow Claude subscription (OAuth) logins for Claude Code "
            "(403 oauth_org_not_allowed). A new login to the same organization does not help: ask its "
            "administrator to enable Claude Code access, or log in with another account.",
        )
    if status == 400 and _ORGANIZATION_DISABLED.search(detail):
        return ClaudeCodeError(
            ErrorKind.ORGANIZATION_DISABLED,
            "Anthropic has disabled the organization of this login (400 This organization has been disabled). "
            "A new login to it does not help: ask its administrator or Anthropic's support, or log in with "
            "another account.",
        )
    if status == 429 and _EXTRA_USAGE.search(detail):
        return ClaudeCodeError(
            ErrorKind.EXTRA_USAGE_REQUIRED,
            "This request needs extra usage: long-context (1M) requests are not part of the Claude plan's "
            "included usage. Turn on extra usage at https://claude.ai/settings/usage, or send a shorter "
            "conversation. Waiting does not help; this is not a login problem.",
        )
    return None


def judge_result(result: ResultMessage, state: TurnState, now: float | None = None) -> Finish:
    """The finish event of a successful turn, or the ``ClaudeCodeError`` that a failed one means."""
    if not result.is_error:
        reason = _FINISH_REASONS.get(result.stop_reason or "end_turn", "stop")
        return Finish(finish_reason=reason, usage=to_usage(result.usage), model=state.model)
    raise to_error(result, state, time.time() if now is None else now)


def to_error(result: ResultMessage, state: TurnState, now: float) -> ClaudeCodeError:
    status = result.api_error_status
    kind = state.assistant_error
    detail = redact((result.result or "; ".join(result.errors or []) or result.subtype).strip())[:500]
    refusal = to_account_refusal(status, kind, detail)
    if refusal is not None:
        return refusal
    if kind == "billing_error" or status == 402:
        return ClaudeCodeError(
            ErrorKind.BILLING,
            "Anthropic refused to bill this request to the Claude subscription behind this login (billing "
            f"error): check the plan and its billing at claude.ai. {detail}",
        )
    if status == 403:
        return ClaudeCodeError(
            ErrorKind.PERMISSION_DENIED,
            "Anthropic refused this login access (403): the subscription may not include this model, or the "
            f"login may lack the scope for it (`claude setup-token` makes an inference login). {detail}",
        )
    if status == 401 or kind == "authentication_failed":
        return ClaudeCodeError(ErrorKind.NOT_LOGGED_IN, "Claude Code is not logged in or its login was revoked.")
    if status == 404 or kind == "model_not_found":
        return ClaudeCodeError(
            ErrorKind.MODEL_NOT_FOUND,
            f"Anthropic knows no model by that name, or this subscription cannot use it: {detail}",
        )
    if status in (408, 504):
        return ClaudeCodeError(ErrorKind.TIMEOUT, f"Anthropic's API timed out ({status}): {detail}")
    if state.resets_at is not None:
        # A subscription's limit comes with a rejected rate-limit event that says when it resets.
        until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(state.resets_at))
        name = to_window_name(state.window)
        return ClaudeCodeError(
            ErrorKind.USAGE_LIMIT,
            f"The Claude subscription's {name + ' ' if name else ''}usage limit is reached; it resets at {until}. "
            "This is not a login problem.",
            retry_after=max(1.0, state.resets_at - now),
            window=state.window,
        )
    if status == 429 or kind == "rate_limit":
        return ClaudeCodeError(
            ErrorKind.RATE_LIMITED,
            "Anthropic is limiting requests right now; this is neither the subscription's usage limit nor a "
            f"login problem: {detail}",
        )
    if status == 529:
        return ClaudeCodeError(ErrorKind.OVERLOADED, f"Anthropic's API is overloaded (529): {detail}")
    if (status is not None and 400 <= status < 500) or kind == "invalid_request":
        return ClaudeCodeError(ErrorKind.BAD_REQUEST, f"Anthropic's API refused the request: {detail}")
    return ClaudeCodeError(ErrorKind.UPSTREAM_ERROR, f"Anthropic's API failed ({status or kind}): {detail}")
