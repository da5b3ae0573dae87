"""The LiteLLM custom provider ``claude-code``.

Register it in a LiteLLM config::

    litellm_settings:
      custom_provider_map:
        - {provider: claude-code, custom_handler: claude_code_provider.llm.handler.claude_code_llm}

``model: claude-code/<model>`` then runs in-process with this machine's Claude Code login, or, with
``api_base``, in the runtime that holds the login (the operator's pods).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, TypedDict, cast

import litellm
from litellm.litellm_core_utils.core_helpers import normalize_drop_params
from litellm.llms.custom_llm import CustomLLM
from litellm.types.llms.openai import ChatCompletionUsageBlock
from litellm.types.utils import (
    Delta,
    GenericStreamingChunk,
    ModelResponse,
    ModelResponseStream,
    StreamingChoices,
    Usage,
)
from litellm.utils import custom_llm_setup

from ..errors import API_KEY_HINT, ClaudeCodeError, ErrorKind
from ..protocol import AnswerEvent, Finish, ReasoningDelta, TextDelta, ThinkingBlock, ToolArguments, ToolCallStart
from ..protocol import Usage as ProtocolUsage
from .backends import Backend, LocalBackend, RemoteBackend
from .exceptions import PROVIDER, to_litellm_error
from .reasoning import to_thinking_blocks
from .sync import iterate_in_thread, run_in_thread
from .tools import to_message_tool_calls, to_tool_call_chunk
from .translate import SUPPORTED_PARAMS, to_request

DEFAULT_TIMEOUT = 600.0
# Marks calls from the blocking API, whose short-lived event loops must not own warm processes.
_BLOCKING = "claude_code_blocking"


class UsageFields(TypedDict):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int


def to_usage_fields(usage: ProtocolUsage) -> UsageFields:
    """LiteLLM's usage fields, the same for whole and streamed answers."""
    # OpenAI's prompt_tokens counts every input token; Anthropic splits off the cached ones.
    prompt = usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens
    return UsageFields(
        prompt_tokens=prompt,
        completion_tokens=usage.output_tokens,
        total_tokens=prompt + usage.output_tokens,
        cache_creation_input_tokens=usage.cache_creation_input_tokens,
        cache_read_input_tokens=usage.cache_read_input_tokens,
    )


def _timeout_seconds(timeout: Any) -> float:
    if isinstance(timeout, int | float) and timeout > 0:
        return float(timeout)
    read = getattr(timeout, "read", None)
    return float(read) if isinstance(read, int | float) and read > 0 else DEFAULT_TIMEOUT


class ClaudeCodeLLM(CustomLLM):
    def __init__(self) -> None:
        super().__init__()
        self._local = LocalBackend(warm=True)
        self._local_blocking = LocalBackend(warm=False)

    async def aclose(self) -> None:
        """Stop the in-process warm processes; for async programs that end before their process does."""
        await self._local.aclose()

    def get_supported_openai_params(self, model: str) -> list[str]:
        """LiteLLM's convention: the OpenAI parameters this provider honours; others get a 400 naming them
        unless ``drop_params`` is set (globally in ``litellm_settings`` or per model)."""
        return list(SUPPORTED_PARAMS)

    def _backend(self, api_base: str | None, timeout: Any, blocking: bool) -> Backend:
        if api_base:
            return RemoteBackend(api_base, _timeout_seconds(timeout))
        return self._local_blocking if blocking else self._local

    async def _events(self, model: str, messages: list[Any], call: dict[str, Any]) -> AsyncIterator[AnswerEvent]:
        """``call`` holds the keyword arguments LiteLLM passes every custom handler."""
        try:
            if call.get("api_key"):
                raise ClaudeCodeError(
                    ErrorKind.API_KEY_REFUSED,
                    f"Refused: the LiteLLM config passes an api_key. {API_KEY_HINT}",
                )
            drop = litellm.drop_params is True or normalize_drop_params(
                (call.get("litellm_params") or {}).get("drop_params")
            )
            request = to_request(model, messages, call.get("optional_params") or {}, drop_params=drop is True)
            backend = self._backend(call.get("api_base"), call.get("timeout"), bool(call.get(_BLOCKING)))
            async for event in backend.events(request):
                yield event
        except ClaudeCodeError as error:
            raise to_litellm_error(error, model) from None

    async def acompletion(self, model: str, messages: list[Any], **call: Any) -> ModelResponse:  # type: ignore[override]
        text: list[str] = []
        calls: list[ToolCallStart | ToolArguments] = []
        reasoning: list[str] = []
        blocks: list[ThinkingBlock] = []
        finish: Finish | None = None
        async for event in self._events(model, messages, call):
            if isinstance(event, TextDelta):
                text.append(event.text)
            elif isinstance(event, ReasoningDelta):
                reasoning.append(event.text)
            elif isinstance(event, ThinkingBlock):
                blocks.append(event)
            elif isinstance(event, Finish):
                finish = event
            else:
                calls.append(event)
        assert finish is not None  # the event stream always ends with a finish or raises
        response: ModelResponse = call["model_response"]
        response.choices[0].message.content = "".join(text)
        if calls:
            response.choices[0].message.tool_calls = list(to_message_tool_calls(calls))
        if blocks:
            # The model's thinking apart from its answer, as LiteLLM's anthropic/ provider returns it.
            response.choices[0].message.reasoning_content = "".join(reasoning)
            response.choices[0].message.thinking_blocks = to_thinking_blocks(blocks)
        response.choices[0].finish_reason = finish.finish_reason
        response.model = finish.model or model
        response.created = int(time.time())
        response.usage = Usage(**to_usage_fields(finish.usage))  # type: ignore[attr-defined]
        return response

    async def astreaming(  # type: ignore[override]
        self, model: str, messages: list[Any], **call: Any
    ) -> AsyncIterator[GenericStreamingChunk | ModelResponseStream]:
        async for event in self._events(model, messages, call):
            if isinstance(event, ReasoningDelta | ThinkingBlock):
                # LiteLLM passes a custom provider's ModelResponseStream through as it is.
                delta = (
                    Delta(reasoning_content=event.text)
                    if isinstance(event, ReasoningDelta)
                    else Delta(thinking_blocks=to_thinking_blocks([event]))
                )
                yield ModelResponseStream(choices=[StreamingChoices(index=0, delta=delta)])
            elif isinstance(event, TextDelta):
                yield GenericStreamingChunk(
                    text=event.text, is_finished=False, finish_reason="", usage=None, index=0, tool_use=None
                )
            elif not isinstance(event, Finish):
                yield GenericStreamingChunk(
                    text="",
                    is_finished=False,
                    finish_reason="",
                    usage=None,
                    index=0,
                    tool_use=to_tool_call_chunk(event),
                )
            else:
                yield GenericStreamingChunk(
                    text="",
                    is_finished=True,
                    finish_reason=event.finish_reason,
                    # LiteLLM builds its Usage from these as for a whole answer, cache counts included.
                    usage=cast(ChatCompletionUsageBlock, to_usage_fields(event.usage)),
                    index=0,
                    tool_use=None,
                )

    def completion(self, model: str, messages: list[Any], **call: Any) -> ModelResponse:  # type: ignore[override]
        call[_BLOCKING] = True
        return run_in_thread(lambda: self.acompletion(model, messages, **call))

    def streaming(  # type: ignore[override]
        self, model: str, messages: list[Any], **call: Any
    ) -> Iterator[GenericStreamingChunk | ModelResponseStream]:
        call[_BLOCKING] = True
        return iterate_in_thread(lambda: self.astreaming(model, messages, **call))


claude_code_llm = ClaudeCodeLLM()


def register() -> None:
    """Make ``claude-code/<model>`` available to ``litellm.completion`` in this Python process."""
    others = [p for p in litellm.custom_provider_map if p.get("provider") != PROVIDER]
    litellm.custom_provider_map = [*others, {"provider": PROVIDER, "custom_handler": claude_code_llm}]
    custom_llm_setup()  # type: ignore[no-untyped-call]
