"""Print the mutation score of each module `mutmut run` tested, and its surviving mutants.

Reads mutmut's results (mutants/**/*.py.meta). A mutant counts as caught when a test failed or
timed out; survivors are those no test caught, and those no test even reached ("no tests").
Score = caught / tried. Mutants not tried yet (an interrupted run) are counted apart.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

# mutmut's exit codes (mutmut/stats.py): 1 or 3 a test failed, 0 all passed, 33 no test reached
# the mutated function, 24/-24/36/152/255 timeouts, None not tried.
CAUGHT = {1, 3, 24, -24, 36, 152, 255}
SURVIVED = {0}
UNREACHED = {5, 33}


def main(root: Path = Path("mutants")) -> int:
    metas = sorted(root.rglob("*.py.meta"))
    if not metas:
        print("no mutmut results: run `make mutate` first", file=sys.stderr)
        return 1
    total: Counter[str] = Counter()
    print(f"{'module':<28} {'caught':>6} {'tried':>6} {'score':>7}  not tried")
    for meta in metas:
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        counts = Counter(_verdict(code) for code in codes.values())
        total.update(counts)
        module = meta.relative_to(root).as_posix().removesuffix(".meta")
        print(_line(module, counts))
        for name, code in sorted(codes.items()):
            if code in SURVIVED or code in UNREACHED:
                why = "survived" if code in SURVIVED else "no test reaches it"
                print(f"    {name}  ({why})")
    print(_line("all", total))
    return 0


def _verdict(code: int | None) -> str:
    if code is None:
        return "untried"
    if code in CAUGHT:
        return "caught"
    if code in SURVIVED or code in UNREACHED:
        return "survived"
    return "other"  # suspicious, segfault, skipped: tried, not caught


def _line(module: str, counts: Counter[str]) -> str:
    tried = counts["caught"] + counts["survived"] + counts["other"]
    score = f"{100 * counts['caught'] / tried:6.1f}%" if tried else "     -"
    return f"{module:<28} {counts['caught']:>6} {tried:>6} {score:>7}  {counts['untried']}"


if __name__ == "__main__":
    sys.exit(main())
