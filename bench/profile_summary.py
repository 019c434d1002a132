"""Summarise a py-spy raw profile (folded stacks, as `bench/run.py --profile` writes them): where the samples went.

    .venv/bin/python bench/profile_summary.py FILE.txt [--top 25]

Prints the share of samples spent in each function itself (self), and including what it calls (total), so the
app's CPU per recipient can be split into python-socketio's own work, the app's send path, and everything else.
"""
from __future__ import annotations

import argparse
import re
from collections import Counter

FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^():]*)(?::\d+)?\)$")


def parse(path: str) -> list[tuple[list[str], int]]:
    """The stacks (outermost first, each frame "function (file)") and their sample counts."""
    stacks = []
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if not line:
            continue
        stack, _, count = line.rpartition(" ")
        frames = []
        for f in stack.split(";"):
            m = FRAME.match(f)
            frames.append(f"{m['func']} ({m['file']})" if m else f)
        stacks.append((frames, int(count)))
    return stacks


def main() -> None:
    """Print the top functions by self and by total samples."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file")
    ap.add_argument("--top", type=int, default=25)
    a = ap.parse_args()
    stacks = parse(a.file)
    total = sum(c for _, c in stacks) or 1
    own, incl = Counter(), Counter()
    for frames, count in stacks:
        own[frames[-1]] += count
        for f in set(frames):
            incl[f] += count
    print(f"{total} samples")
    for title, counter in (("self", own), ("total (including callees)", incl)):
        print(f"\n{title}:")
        for name, count in counter.most_common(a.top):
            print(f"  {100 * count / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
