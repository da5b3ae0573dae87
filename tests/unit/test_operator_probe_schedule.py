"""The prober's schedule: each resource's next probe time, one task for all of them."""

from __future__ import annotations

from claude_code_operator.state import DueTimes


def test_keys_come_due_in_time_order_and_only_once() -> None:
    due = DueTimes()
    due.set(("ns", "b"), 20.0)
    due.set(("ns", "a"), 10.0)
    due.set(("ns", "c"), 30.0)
    assert due.next_at() == 10.0
    assert due.pop_due(25.0) == [("ns", "a"), ("ns", "b")]
    assert due.pop_due(25.0) == []
    assert due.next_at() == 30.0
    assert len(due) == 1


def test_a_new_time_replaces_the_old_one() -> None:
    """A new pod IP makes a resource due now, not at the time its previous pod was due."""
    due = DueTimes()
    due.set(("ns", "a"), 100.0)
    due.set(("ns", "a"), 5.0)
    assert due.pop_due(10.0) == [("ns", "a")]
    assert due.pop_due(1000.0) == []  # the superseded time does not fire again
    assert due.next_at() is None


def test_a_discarded_key_never_comes_due() -> None:
    due = DueTimes()
    due.set(("ns", "gone"), 1.0)
    due.set(("ns", "kept"), 2.0)
    due.discard(("ns", "gone"))
    assert ("ns", "gone") not in due
    assert due.next_at() == 2.0
    assert due.pop_due(3.0) == [("ns", "kept")]


def test_an_earlier_time_wakes_the_waiting_loop() -> None:
    due = DueTimes()
    due.set(("ns", "a"), 50.0)
    due.changed.clear()
    due.set(("ns", "b"), 60.0)
    assert not due.changed.is_set()  # later than what the loop waits for already
    due.set(("ns", "c"), 40.0)
    assert due.changed.is_set()
