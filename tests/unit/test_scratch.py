"""Scratch directories: private to the engine, and never a way to delete or work in someone else's files."""

from __future__ import annotations

import gc
import stat
from pathlib import Path

from claude_code_provider.engine.scratch import ScratchSlots


def planted_target(tmp_path: Path) -> Path:
    target = tmp_path / "victim"
    target.mkdir()
    (target / "precious.txt").write_text("keep me")
    return target


def test_each_engine_works_in_a_private_directory_of_its_own(tmp_path: Path) -> None:
    first, second = ScratchSlots(tmp_path), ScratchSlots(tmp_path)

    with first.lease() as one, second.lease() as other:
        assert one.parent != other.parent
        for path in (one, one.parent, other.parent):
            assert path.is_dir()
            assert not path.is_symlink()
            assert stat.S_IMODE(path.stat().st_mode) == 0o700
        assert one.parent.parent == tmp_path
        assert list(one.iterdir()) == []

    first.close()
    second.close()
    assert list(tmp_path.iterdir()) == []


def test_a_link_planted_where_a_slot_goes_is_removed_not_followed(tmp_path: Path) -> None:
    target = planted_target(tmp_path)
    slots = ScratchSlots(tmp_path / "root")
    with slots.lease() as first:
        private = first.parent
    # Whoever can write into the private directory plants links at the next slot names.
    for name in ("slot-0", "slot-1"):
        (private / name).symlink_to(target, target_is_directory=True)

    with slots.lease() as cwd:
        assert cwd.parent == private
        assert cwd.is_dir()
        assert not cwd.is_symlink()
        assert list(cwd.iterdir()) == []
        (cwd / "scribble").write_text("the CLI's own file")

    assert (target / "precious.txt").read_text() == "keep me"
    assert sorted(p.name for p in target.iterdir()) == ["precious.txt"]
    slots.close()
    assert (target / "precious.txt").read_text() == "keep me"


def test_a_link_inside_a_slot_is_removed_without_touching_its_target(tmp_path: Path) -> None:
    target = planted_target(tmp_path)
    slots = ScratchSlots(tmp_path / "root")

    with slots.lease() as cwd:
        (cwd / "link").symlink_to(target, target_is_directory=True)

    assert not cwd.exists()
    assert (target / "precious.txt").read_text() == "keep me"


def test_the_old_predictable_name_is_never_used(tmp_path: Path) -> None:
    target = planted_target(tmp_path)
    (tmp_path / "claude-code-scratch").symlink_to(target, target_is_directory=True)
    slots = ScratchSlots(tmp_path)

    with slots.lease() as cwd:
        assert not cwd.resolve().is_relative_to(target.resolve())
    slots.close()

    assert (target / "precious.txt").read_text() == "keep me"
    assert sorted(p.name for p in target.iterdir()) == ["precious.txt"]


def test_a_private_directory_that_was_removed_or_replaced_is_made_anew(tmp_path: Path) -> None:
    target = planted_target(tmp_path)
    slots = ScratchSlots(tmp_path / "root")
    with slots.lease() as first:
        private = first.parent
    # A temp cleaner removes it, and someone puts a link to their own directory in its place.
    private.rmdir()
    private.symlink_to(target, target_is_directory=True)

    with slots.lease() as cwd:
        assert cwd.parent != private
        assert not cwd.resolve().is_relative_to(target.resolve())

    assert sorted(p.name for p in target.iterdir()) == ["precious.txt"]


def test_an_engine_that_is_never_closed_leaves_no_directory_when_it_goes(tmp_path: Path) -> None:
    slots = ScratchSlots(tmp_path)
    with slots.lease():
        pass
    assert len(list(tmp_path.iterdir())) == 1

    del slots
    gc.collect()

    assert list(tmp_path.iterdir()) == []
