"""Pure translation between OpenAI chat requests and the protocol's plain conversation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from ..errors import ClaudeCodeError, ErrorKind
from ..protocol import ChatTurn, CompletionRequest
from .images import check_inline_limits, split_images
from .reasoning import REASONING_PARAMS, to_effort, to_history_thinking, to_thinking
from .tools import TOOL_PARAMS, check_tool_results, derive_unsupported_tool_params, to_tool_calls, to_tool_specs

PROVIDER_PREFIX = "claude-code/"

# The OpenAI parameters a chat turn through Claude Code honours (``user`` only names the caller; the tool
# parameters only with the values ``llm.tools`` accepts). Anything else (temperature, top_p, seed, logprobs,
# ...) is refused, or dropped when the LiteLLM config asks for that with ``drop_params``: answering
# something other than what was asked, silently, is worse than either.
SUPPORTED_PARAMS = (
    *("max_tokens", "max_completion_tokens", "stop", "stream", "stream_options", "user", "n"),
    *TOOL_PARAMS,
    *REASONING_PARAMS,
)
# LiteLLM's own settings of the call, passed along with the model's parameters; not about the answer.
_CALL_SETTINGS = ("max_retries", "extra_headers")
# Values that ask for nothing beyond the default (LiteLLM and client libraries send some of them).
_DEFAULTS: tuple[object, ...] = (None, [], {}, "")


def _bad(message: str) -> ClaudeCodeError:
    return ClaudeCodeError(ErrorKind.BAD_REQUEST, message)


def _text(content: Any, index: int) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        parts = []
        for part in content:
            if not isinstance(part, Mapping) or part.get("type") != "text":
                kind = part.get("type") if isinstance(part, Mapping) else type(part).__name__
                raise _bad(
                    f"messages[{index}]: only text content (and image_url and file parts in user messages) is "
                    f"supported, not {kind!r}."
                )
            parts.append(str(part.get("text", "")))
        return "".join(parts)
    raise _bad(f"messages[{index}]: content must be a string or a list of text parts.")


def derive_unsupported(params: Mapping[str, Any]) -> list[str]:
    """The names of the parameters in ``params`` that ask for something this provider cannot do."""
    flat = {**params, **(params.get("extra_body") or {})}
    flat.pop("extra_body", None)
    known = (*SUPPORTED_PARAMS, *_CALL_SETTINGS)
    unsupported = [name for name, value in flat.items() if name not in known and value not in _DEFAULTS]
    if flat.get("n") not in (None, 1):
        unsupported.append("n")
    return sorted(unsupported + derive_unsupported_tool_params(flat))


def _stops(value: Any) -> list[str]:
    stops = [value] if isinstance(value, str) else list(value or [])
    if not all(isinstance(stop, str) for stop in stops):
        raise _bad("'stop' must be a string or a list of strings.")
    return [stop for stop in stops if stop]


def to_request(
    model: str, messages: Sequence[Mapping[str, Any]], params: Mapping[str, Any], *, drop_params: bool = False
) -> CompletionRequest:
    """The protocol request for an OpenAI-style call; ``ClaudeCodeError`` (400) when it has no faithful form.

    Unsupported parameters are refused by name, or ignored with ``drop_params`` (LiteLLM's switch)."""
    unsupported = derive_unsupported(params)
    if unsupported and not drop_params:
        raise _bad(
            f"claude-code does not support the parameter(s) {', '.join(map(repr, unsupported))}: this model is "
            "chat through Claude Code (no sampling settings, forced tool choices or several choices). Leave them "
            "out, or set `drop_params: true` in the LiteLLM config to have them ignored."
        )
    system: list[str] = []
    turns: list[ChatTurn] = []
    check_tool_results(messages)
    for index, message in enumerate(messages):
        role = message.get("role")
        if role in ("system", "developer"):
            system.append(_text(message.get("content"), index))
        elif role in ("user", "assistant", "tool"):
            if role == "user" and message.get("tool_calls"):
                raise _bad(f"messages[{index}].tool_calls: only an assistant message calls tools.")
            calls = to_tool_calls(index, message) if role == "assistant" else []
            try:
                thinking = to_history_thinking(message.get("thinking_blocks"), index) if role == "assistant" else []
                text, parts = (
                    split_images(message.get("content"), index) if role == "user" else (message.get("content"), [])
                )
                turns.append(
                    ChatTurn(
                        role=role,
                        content=_text(text, index),
                        tool_calls=calls,
                        tool_call_id=message.get("tool_call_id") if role == "tool" else None,
                        thinking=thinking,
                        parts=parts,
                    )
                )
            except ValidationError as error:
                raise _bad(f"messages[{index}]: {_problems(error)}.") from None
        else:
            raise _bad(f"messages[{index}]: role {role!r} is not supported (use system, user, assistant or tool).")
    check_inline_limits(turns)
    max_tokens = params.get("max_completion_tokens") or params.get("max_tokens")
    extra = params.get("extra_body") or {}
    try:
        return CompletionRequest(
            model=model.removeprefix(PROVIDER_PREFIX),
            system="\n\n".join(system) or None,
            messages=turns,
            max_tokens=max_tokens,
            stop=_stops(params.get("stop")),
            tools=to_tool_specs(params),
            effort=to_effort(params.get("reasoning_effort", extra.get("reasoning_effort"))),
            thinking=to_thinking(params.get("thinking", extra.get("thinking"))),
        )
    except ValidationError as error:
        raise _bad(f"Invalid chat request: {_problems(error)}.") from None


def _problems(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'request'}: {e['msg']}" for e in error.errors())
