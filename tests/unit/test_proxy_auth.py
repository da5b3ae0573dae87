"""Who the LiteLLM proxy lets in: the master key, and nobody else, with a reason a person can act on."""

from __future__ import annotations

import pytest

from claude_code_provider.llm.proxy_auth import derive_refusal

MASTER = "sk-" + "a" * 48


def test_the_master_key_opens_the_endpoint() -> None:
    assert derive_refusal("sk-" + "a" * 48, MASTER) is None


@pytest.mark.parametrize(
    "given", ["sk-" + "a" * 47 + "b", "sk-" + "a" * 47, "sk-" + "a" * 49, "SK-" + "a" * 48, "sk-é"]
)
def test_any_other_key_is_wrong(given: str) -> None:
    refusal = derive_refusal(given, MASTER)

    assert refusal is not None
    assert refusal.startswith("The API key is wrong:")
    assert "LITELLM_MASTER_KEY" in refusal


@pytest.mark.parametrize("given", ["", None])
def test_no_key_says_none_was_sent(given: str | None) -> None:
    refusal = derive_refusal(given, MASTER)

    assert refusal is not None
    assert refusal.startswith("No API key was sent:")


@pytest.mark.parametrize("master", ["", None])
def test_a_proxy_without_a_master_key_serves_nobody(master: str | None) -> None:
    refusal = derive_refusal(MASTER, master)

    assert refusal == "This proxy has no master key configured (set LITELLM_MASTER_KEY), so it serves nobody."
