"""Pure: the reasoning a request asks for (OpenAI's ``reasoning_effort``, Anthropic's ``thinking``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, get_args

from pydantic import ValidationError

from ..errors import ClaudeCodeError, ErrorKind
from ..protocol import Effort, Thinking

REASONING_PARAMS = ("reasoning_effort", "thinking")
EFFORTS: tuple[str, ...] = get_args(Effort)


def to_effort(value: Any) -> Effort | None:
    """``reasoning_effort`` as the CLI's effort; a 400 naming the parameter for a value it has no form of."""
    if value is None:
        return None
    if value not in EFFORTS:
        raise ClaudeCodeError(
            ErrorKind.BAD_REQUEST,
            f"'reasoning_effort' must be one of {', '.join(map(repr, EFFORTS))}, not {value!r}.",
        )
    return value  # type: ignore[no-any-return]


def to_thinking(value: Any) -> Thinking | None:
    """Anthropic's ``thinking`` (``{"type": "enabled", "budget_tokens": N}`` or ``{"type": "disabled"}``)."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ClaudeCodeError(ErrorKind.BAD_REQUEST, '\'thinking\' must be an object such as {"type": "disabled"}.')
    try:
        return Thinking.model_validate(dict(value))
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'thinking'}: {e['msg']}" for e in error.errors())
        raise ClaudeCodeError(ErrorKind.BAD_REQUEST, f"'thinking' is invalid: {problems}.") from None
