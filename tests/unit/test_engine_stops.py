"""The answer ends before the first stop sequence, wherever the deltas split it."""

from __future__ import annotations

import pytest

from claude_code_provider.engine.stops import StopText


def run(stops: list[str], deltas: list[str]) -> tuple[str, bool]:
    scanner = StopText(stops)
    out = []
    for delta in deltas:
        text, stopped = scanner.feed(delta)
        out.append(text)
        if stopped:
            return "".join(out), True
    return "".join(out) + scanner.flush(), False


@pytest.mark.parametrize(
    "deltas",
    [["Hello world. STOP and more"], ["Hello wor", "ld. ST", "OP and more"], list("Hello world. STOP and more")],
)
def test_the_answer_is_cut_before_the_stop_sequence_however_it_is_split(deltas: list[str]) -> None:
    assert run(["STOP"], deltas) == ("Hello world. ", True)


def test_the_earliest_of_several_stop_sequences_wins() -> None:
    assert run(["END", "\n\n"], ["one\n", "\ntwo END"]) == ("one", True)


def test_text_held_back_as_a_possible_stop_is_handed_out_when_it_is_not_one() -> None:
    scanner = StopText(["STOP"])
    assert scanner.feed("Hello ST") == ("Hello ", False)
    assert scanner.feed("ONE") == ("STONE", False)


def test_text_held_back_at_the_end_is_flushed() -> None:
    assert run(["STOP"], ["Hello", " ST"]) == ("Hello ST", False)


def test_without_stop_sequences_everything_passes_at_once() -> None:
    scanner = StopText([])
    assert scanner.feed("abc") == ("abc", False)
    assert scanner.flush() == ""
