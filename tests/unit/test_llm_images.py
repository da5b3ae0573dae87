"""OpenAI image parts as images with their bytes, in order with the text, or a 400 naming the part."""

from __future__ import annotations

import pytest

from claude_code_provider.engine.history import to_user_content
from claude_code_provider.errors import ClaudeCodeError
from claude_code_provider.llm.translate import to_request

GIF = "R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw=="


def test_text_and_images_keep_their_order_and_the_text_stays_the_turns_content() -> None:
    content = [
        {"type": "text", "text": "Before "},
        {"type": "image_url", "image_url": {"url": f"data:image/gif;base64,{GIF}"}},
        {"type": "text", "text": "after"},
    ]

    (turn,) = to_request("sonnet", [{"role": "user", "content": content}], {}).messages

    assert turn.content == "Before after"
    assert to_user_content(turn) == [
        {"type": "text", "text": "Before "},
        {"type": "image", "source": {"type": "base64", "media_type": "image/gif", "data": GIF}},
        {"type": "text", "text": "after"},
    ]


def test_a_turn_without_images_stays_plain_text() -> None:
    (turn,) = to_request("sonnet", [{"role": "user", "content": [{"type": "text", "text": "hi"}]}], {}).messages

    assert to_user_content(turn) == "hi"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://10.0.0.1/x.png", "messages[0].content[0]: remote image URLs are not fetched"),
        ("data:image/gif," + GIF, "messages[0].content[0]: the data: URL must be base64"),
        ("data:;base64," + GIF, "messages[0].content[0]: image type '(none)' is not supported"),
        ("ftp://x", "messages[0].content[0]: image_url.url must be a data: URL"),
        ("data:image/webp;base64," + GIF, "messages[0].content[0]: the data is not a image/webp image"),
    ],
)
def test_image_urls_without_a_faithful_form_are_a_400_naming_the_part(url: str, says: str) -> None:
    message = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}

    with pytest.raises(ClaudeCodeError) as refused:
        to_request("sonnet", [message], {})

    assert refused.value.message.startswith(says)
