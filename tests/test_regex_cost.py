"""Property: no module-level regular expression in transforms/ or pipeline/ costs more than linear time.

A regular expression runs in C, where the extraction time limit cannot interrupt it:
one whose cost grows with the square of its input (a 1 MB capture made of one short
token repeated took about 100 s) holds a worker far past the limit. Every compiled
pattern found at module level is run (``finditer``, which does the work of ``search``,
``findall`` and ``sub``) on adversarial inputs of many shapes, at a length n and 4n:
its CPU time must grow by no more than ``MAX_GROWTH`` (10; linear is 4, quadratic 16).

Robust under load: CPU time of this thread (not wall time), the median of several runs,
n raised until the short input costs enough to be measured, a generous factor, and a
pattern is only failed after a second, slower measurement agrees.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import statistics
import time

import pytest

import pipeline
import transforms

# Linear cost grows 4x from n to 4n; n log n about 4.6x; quadratic 16x. Noise on a loaded
# machine reached 8.5x for a linear pattern in single measurements.
MAX_GROWTH = 10.0
# The short input is lengthened until one run costs at least this much CPU time.
MIN_BASE_SECONDS = 0.0002
MAX_BASE_CHARS = 16_384
REPEATS = 5

# Shapes of page text that make backtracking patterns work hard: one short token
# repeated (the 1 MB capture), runs of spaces, capitals, digits, punctuation, markup,
# and words that look like a pattern's start (dates, bylines, datelines).
TOKENS = [
    "a", "ab ", "Ab ", "A. ", " ", " \n", "1", "12 ", "1:", "-", ". ", "(", "<", "<p>",
    "<a ", "<!--", "/", "said Monday ", "By A ", "SEOUL ", "http://", "北", "[[", "• ",
    "Jan 1 ", "aaaaaa aaaaaa ",
]
# Each token also with a closing character that can end or break a match.
ENDINGS = ["", "!"]


# Packages of newsbeam's extras: a module needing one is read only where it is installed.
OPTIONAL_PACKAGES = frozenset({"dask", "distributed", "plotly", "narwhals"})


def module_patterns() -> list[tuple[str, re.Pattern]]:
    """Every compiled pattern at module level, once (a pattern imported elsewhere is the same)."""
    found: dict[int, tuple[str, re.Pattern]] = {}
    for package in (transforms, pipeline):
        # walk_packages: a stage that became a package (transforms.dates) is read whole.
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}."):
            try:
                module = importlib.import_module(info.name)
            except ModuleNotFoundError as exc:
                if exc.name in OPTIONAL_PACKAGES:
                    continue  # a module of an extra that is not installed (the dask runner)
                raise
            for name, value in sorted(vars(module).items()):
                if isinstance(value, re.Pattern):
                    found.setdefault(id(value), (f"{info.name}.{name}", value))
    return sorted(found.values(), key=lambda item: item[0])


PATTERNS = module_patterns()


def _subject(pattern: re.Pattern, token: str, ending: str, length: int):
    text = token * (length // len(token)) + ending
    return text.encode("utf-8") if isinstance(pattern.pattern, bytes) else text


def _cost(pattern: re.Pattern, subject, repeats: int) -> float:
    runs = []
    for _ in range(repeats):
        start = time.thread_time()
        for _match in pattern.finditer(subject):
            pass
        runs.append(time.thread_time() - start)
    return statistics.median(runs)


def growth(pattern: re.Pattern, token: str, ending: str, repeats: int = 1,
           min_base: float = MIN_BASE_SECONDS) -> tuple[float, int]:
    """CPU time at 4n over CPU time at n, with n raised until it can be measured."""
    length = 1024
    while True:
        base = _cost(pattern, _subject(pattern, token, ending, length), repeats)
        if base >= min_base or length >= MAX_BASE_CHARS * (min_base / MIN_BASE_SECONDS):
            break
        length *= 4
    if base < min_base / 4:
        return 1.0, length  # too cheap to matter even at MAX_BASE_CHARS
    longer = _cost(pattern, _subject(pattern, token, ending, 4 * length), repeats)
    return longer / max(base, 1e-6), length


def test_every_module_pattern_is_found():
    names = {name for name, _ in PATTERNS}
    assert "transforms.boilerplate._DOUBLED" in names and "transforms.dates.parsing._TIME" in names
    assert len(PATTERNS) >= 60


@pytest.mark.parametrize("name, pattern", PATTERNS, ids=[name for name, _ in PATTERNS])
def test_cost_grows_at_most_linearly(name, pattern):
    worst = []
    for token in TOKENS:
        for ending in ENDINGS:
            ratio, length = growth(pattern, token, ending)
            if ratio > MAX_GROWTH:  # measure again, slower and steadier, before failing
                ratio, length = growth(pattern, token, ending, REPEATS, 10 * MIN_BASE_SECONDS)
                if ratio > MAX_GROWTH:
                    worst.append((round(ratio, 1), length, token, ending))
    assert not worst, f"{name}: super-linear on {sorted(worst, reverse=True)[:3]}"


def test_the_check_catches_a_quadratic_pattern():
    quadratic = re.compile(r"^(?P<once>.{6,}?)\s+(?P=once)$")  # the old boilerplate _DOUBLED
    # Its worst shape (spaces, then a character that breaks the match) grows about 50x where
    # linear grows 4x, so noise on a loaded machine cannot hide it; measured steadily, as a
    # pattern that failed once is measured again.
    ratio, _ = growth(quadratic, " ", "!", REPEATS, 10 * MIN_BASE_SECONDS)
    assert ratio > MAX_GROWTH
