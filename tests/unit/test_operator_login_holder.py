"""One login, one pod: the oldest resource naming a Secret holds it; a deleting one lets go."""

from __future__ import annotations

from claude_code_operator.state import login_holder, login_users_of

USERS = {
    ("team", "shared"): [
        ("2026-01-02T00:00:00Z", "late", False),
        ("2026-01-01T00:00:00Z", "early", False),
        ("2026-01-01T00:00:00Z", "also-early", False),
    ],
    ("team", "gone"): [("2026-01-01T00:00:00Z", "leaving", True)],
}


def test_oldest_wins_and_ties_go_by_name() -> None:
    assert login_holder(USERS, "team", "shared") == "also-early"


def test_a_resource_being_deleted_holds_nothing() -> None:
    assert login_holder(USERS, "team", "gone") is None
    users = {("team", "shared"): [("2026-01-01T00:00:00Z", "early", True), ("2026-01-02T00:00:00Z", "late", False)]}
    assert login_holder(users, "team", "shared") == "late"


def test_secrets_are_per_namespace() -> None:
    assert login_holder(USERS, "other", "shared") is None
    assert login_users_of(USERS, "team", "shared") == ["also-early", "early", "late"]
