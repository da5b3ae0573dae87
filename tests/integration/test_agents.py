"""A real agent framework (the OpenAI Agents SDK's runner) completes a two-tool task through the LiteLLM
proxy and the real CLI: it runs the tools the model calls and the model answers from their results."""

from __future__ import annotations

import openai
import pytest
from agents import Agent, OpenAIChatCompletionsModel, RunConfig, Runner, function_tool
from tests.integration.test_tools import without_cache_marks

from claude_code_devkit.fakes.anthropic_api import FakeAnthropic, TextReply, ToolReply, ToolUse
from claude_code_devkit.stack import Proxy

MODES = pytest.mark.parametrize("mode", ["", "remote/"], ids=["in-process", "runtime"])


@MODES
async def test_the_agents_runner_calls_both_tools_and_answers_from_their_results(
    mode: str, fake: FakeAnthropic, proxy: Proxy
) -> None:
    ran: list[tuple[str, str]] = []

    # strict_mode=False: strict schemas are refused (Claude Code cannot promise them), see the README.
    @function_tool(strict_mode=False)
    def get_weather(city: str) -> str:
        """The weather in a city now."""
        ran.append(("get_weather", city))
        return f"Sunny, 21 C in {city}"

    @function_tool(strict_mode=False)
    def get_time(zone: str) -> str:
        """The time in a time zone."""
        ran.append(("get_time", zone))
        return "14:05"

    fake.enqueue(
        ToolReply(
            [
                ToolUse("mcp__t__get_weather", {"city": "Paris"}, id=f"toolu_01AgentW{mode[:1]}"),
                ToolUse("mcp__t__get_time", {"zone": "Europe/Paris"}, id=f"toolu_01AgentT{mode[:1]}"),
            ]
        ),
        TextReply("Sunny, 21 C, and 14:05 in Paris."),
    )
    client = openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=proxy.key, max_retries=0, timeout=60)
    agent = Agent(
        name="Assistant",
        instructions="Answer with the tools.",
        tools=[get_weather, get_time],
        model=OpenAIChatCompletionsModel(model=f"{mode}sonnet", openai_client=client),
    )

    result = await Runner.run(agent, "Weather and time in Paris?", run_config=RunConfig(tracing_disabled=True))

    assert result.final_output == "Sunny, 21 C, and 14:05 in Paris."
    assert ran == [("get_weather", "Paris"), ("get_time", "Europe/Paris")]
    fake.wait_quiet()
    first, second = fake.messages_requests
    assert sorted(first.tool_names) == ["mcp__t__get_time", "mcp__t__get_weather"]
    assert "Answer with the tools." in first.system_text
    assert without_cache_marks(second.chat_messages)[-1] == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": f"toolu_01AgentW{mode[:1]}", "content": "Sunny, 21 C in Paris"},
            {"type": "tool_result", "tool_use_id": f"toolu_01AgentT{mode[:1]}", "content": "14:05"},
        ],
    }
