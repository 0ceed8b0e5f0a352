"""How each module-level regular expression's cost grows: CPU time at 4n over n, worst shape.

``python -m tests.benchmarks.regex_cost [--repeats 3]``: one line per pattern, the
worst growth over the shapes of ``tests/test_regex_cost.py`` (linear 4, quadratic 16).
"""

from __future__ import annotations

import argparse

from tests.test_regex_cost import ENDINGS, PATTERNS, TOKENS, growth


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=3, help="runs per measurement (median)")
    args = ap.parse_args(argv)
    for name, pattern in PATTERNS:
        worst = (0.0, "", 0)
        for token in TOKENS:
            for ending in ENDINGS:
                ratio, length = growth(pattern, token, ending, args.repeats)
                worst = max(worst, (ratio, token + ending, length))
        ratio, shape, length = worst
        print(f"{name:45s} growth {ratio:5.1f}  worst shape {shape!r} (n={length})", flush=True)

if __name__ == "__main__":
    main()
