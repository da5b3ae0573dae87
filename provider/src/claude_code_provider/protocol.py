"""The one wire contract between the LiteLLM adapter and the runtime (and the in-process engine).

A request is a conversation already reduced to what a chat model takes: an optional system prompt,
the client's tools, and user/assistant text turns (assistant turns may call tools, ``tool`` turns carry
their results) ending with a user or tool turn. The answer is a stream of events, sent by the runtime as
newline-delimited JSON: text deltas and tool calls (a start, then argument fragments) as the model
produces them, then exactly one ``finish`` or one ``error``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from .errors import ClaudeCodeError, ErrorKind

COMPLETE_PATH = "/v1/complete"
#: Claude Code offers a client's tool to the model as ``mcp__<server>__<name>`` (its in-process MCP server
#: ``t``); answers carry the plain name again. The API allows 64 characters for the whole name.
TOOL_NAME_PREFIX = "mcp__t__"
MAX_TOOL_NAME = 64 - len(TOOL_NAME_PREFIX)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _unicode(text: str) -> str:
    # A lone surrogate (from a JSON "\ud800" escape) is no text the CLI or the API could take.
    try:
        text.encode()
    except UnicodeEncodeError as error:
        raise ValueError(f"contains a lone surrogate at position {error.start}, which is not valid Unicode") from None
    return text


Text = Annotated[str, AfterValidator(_unicode)]


class ToolSpec(_Model):
    """A client's function, offered to the model with its description and JSON Schema unchanged."""

    name: str = Field(pattern=r"^[a-zA-Z0-9_-]+$", max_length=MAX_TOOL_NAME)
    description: str = ""
    parameters: dict[str, Any]


class ToolCall(_Model):
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    arguments: Text = Field(description="the JSON text of the model's input")


class ThinkingBlock(_Model):
    """One whole thinking block of the answer, as a client sends it back in history: the thinking with its
    signature, or a redacted block's opaque data."""

    type: Literal["thinking_block"] = "thinking_block"
    kind: Literal["thinking", "redacted_thinking"] = "thinking"
    thinking: str = ""
    signature: str | None = None
    data: str | None = None


ImageMediaType = Literal["image/png", "image/jpeg", "image/gif", "image/webp"]


class TextPart(_Model):
    type: Literal["text"] = "text"
    text: Text


class ImagePart(_Model):
    """An image the client sent with its bytes (base64), never a URL: nothing here fetches one."""

    type: Literal["image"] = "image"
    media_type: ImageMediaType
    data: str = Field(min_length=1, description="base64")


class DocumentPart(_Model):
    """A PDF the client sent with its bytes (base64), passed to the model as a document block."""

    type: Literal["document"] = "document"
    media_type: Literal["application/pdf"] = "application/pdf"
    data: str = Field(min_length=1, description="base64")


Part = Annotated[TextPart | ImagePart | DocumentPart, Field(discriminator="type")]


class ChatTurn(_Model):
    role: Literal["user", "assistant", "tool"]
    content: Text
    tool_calls: list[ToolCall] = Field(default_factory=list, description="an assistant turn's calls, in order")
    tool_call_id: str | None = Field(default=None, description="the call a tool turn answers")

    @model_validator(mode="after")
    def _tool_fields(self) -> ChatTurn:
        if self.tool_calls and self.role != "assistant":
            raise ValueError("only an assistant turn calls tools")
        if (self.role == "tool") != (self.tool_call_id is not None):
            raise ValueError("a tool turn, and only a tool turn, names the call it answers")
        return self

    parts: list[Part] = Field(
        default_factory=list, description="a user turn with images or documents: all its parts in order"
    )
    thinking: list[ThinkingBlock] = Field(default_factory=list, description="an assistant turn's, before its text")


Effort = Literal["low", "medium", "high"]


class Thinking(_Model):
    """Anthropic's ``thinking`` setting, as the CLI takes it (``--thinking`` / ``--max-thinking-tokens``)."""

    type: Literal["enabled", "disabled", "adaptive"]
    budget_tokens: int | None = Field(default=None, ge=1024)

    @model_validator(mode="after")
    def _budget_when_enabled(self) -> Thinking:
        if (self.type == "enabled") != (self.budget_tokens is not None):
            raise ValueError("budget_tokens is required with type 'enabled' and allowed only with it")
        return self


class CompletionRequest(_Model):
    model: str = Field(min_length=1)
    system: Text | None = None
    messages: list[ChatTurn] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, gt=0)
    stop: list[str] = Field(default_factory=list, description="the answer ends before the first of these")
    tools: list[ToolSpec] = Field(default_factory=list, description="offered to the model; it may call them")
    effort: Effort | None = Field(default=None, description="the effort the model spends (adaptive-thinking models)")
    thinking: Thinking | None = None

    @model_validator(mode="after")
    def _ends_with_user(self) -> CompletionRequest:
        if self.messages[-1].role == "assistant":
            raise ValueError("the last message must come from the user or a tool")
        return self

    @property
    def prompt(self) -> str:
        return self.messages[-1].content

    @property
    def history(self) -> list[ChatTurn]:
        return self.messages[:-1]


class Usage(_Model):
    """Token counts exactly as the CLI's result message reports them."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0


class TextDelta(_Model):
    type: Literal["text"] = "text"
    text: str


class ToolCallStart(_Model):
    """The model begins its ``index``-th call (0-based, in order) of tool ``name``."""

    type: Literal["tool_call"] = "tool_call"
    index: int = Field(ge=0)
    id: str
    name: str


class ToolArguments(_Model):
    """A fragment of the JSON text of call ``index``'s arguments, as the model writes it."""

    type: Literal["tool_arguments"] = "tool_arguments"
    index: int = Field(ge=0)
    fragment: str


class ReasoningDelta(_Model):
    """The model's thinking as it arrives, apart from the answer."""

    type: Literal["reasoning"] = "reasoning"
    text: str


class Finish(_Model):
    type: Literal["finish"] = "finish"
    finish_reason: Literal["stop", "length", "content_filter", "tool_calls"]
    usage: Usage
    model: str | None = None


class ErrorEvent(_Model):
    type: Literal["error"] = "error"
    kind: ErrorKind
    message: str
    retry_after: float | None = None

    @classmethod
    def of(cls, error: ClaudeCodeError) -> ErrorEvent:
        return cls(kind=error.kind, message=error.message, retry_after=error.retry_after)

    def to_error(self) -> ClaudeCodeError:
        return ClaudeCodeError(self.kind, self.message, retry_after=self.retry_after)


#: What an answer is made of, in order: deltas (text, thinking, tool calls), whole thinking blocks, then one finish.
AnswerEvent = TextDelta | ReasoningDelta | ThinkingBlock | ToolCallStart | ToolArguments | Finish
Event = Annotated[
    TextDelta | ReasoningDelta | ThinkingBlock | ToolCallStart | ToolArguments | Finish | ErrorEvent,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def encode_event(event: AnswerEvent | ErrorEvent) -> bytes:
    return event.model_dump_json().encode() + b"\n"


def decode_event(line: bytes | str) -> AnswerEvent | ErrorEvent:
    return EVENT_ADAPTER.validate_json(line)
