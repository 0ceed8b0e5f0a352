"""The dev-set split is stable and holds back about a third."""

from tests.benchmarks.split import HELD, TUNE, part, split


def test_part_is_stable_and_about_a_third():
    keys = [f"item-{i}" for i in range(3000)]
    held = sum(part(k) == HELD for k in keys)
    assert 900 < held < 1100
    assert [part(k) for k in keys[:50]] == [part(k) for k in keys[:50]]


def test_split_keeps_every_item_once():
    items = [str(i) for i in range(100)]
    parts = split(items, key=str)
    assert sorted(parts[TUNE] + parts[HELD], key=int) == items
