#!/usr/bin/env python
# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""YAML window scan: runs of more than N (default 6) identical lines in two places.

Reads the tracked *.yml files of the checkout (git ls-files), keeps their non-blank lines that
are not comments or document markers, strips each line's indentation, and prints every pair of
places where the same run of more than N such lines appears (two files, or one file twice),
longest first, as

    <lines> lines  path/a.yml:first-last  ~  path/b.yml:first-last

with the line numbers of the files. Ends with a count; always exits 0 (a row is a place to look,
not a verdict).

usage: tools/harness/yaml-dups.py [--min N] [PATH...]   (PATH: limit to tracked files below it)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def tracked_yml(paths):
    out = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--", *(paths or ["."])],
                         check=True, capture_output=True, text=True).stdout
    return sorted(p for p in out.split("\0") if p.endswith(".yml") and (REPO / p).is_file())


def significant_lines(path):
    """(line number, stripped text) of the lines that count."""
    kept = []
    for number, line in enumerate((REPO / path).read_text(errors="replace").splitlines(), 1):
        text = line.strip()
        if text and not text.startswith("#") and text not in ("---", "..."):
            kept.append((number, text))
    return kept


def scan(files, longer_than):
    window = longer_than + 1
    lines = {f: significant_lines(f) for f in files}
    places = defaultdict(list)  # a window's text -> [(file, index of its first line)]
    for f, kept in lines.items():
        texts = [text for _lineno, text in kept]
        for i in range(len(texts) - window + 1):
            places[tuple(texts[i:i + window])].append((f, i))
    # Pairs of places on the same diagonal (same files, same offset between them) form one run.
    starts = defaultdict(set)
    for found in places.values():
        for a in range(len(found)):
            for b in range(a + 1, len(found)):
                (fa, ia), (fb, ib) = sorted((found[a], found[b]))
                starts[(fa, fb, ia - ib)].add(ia)
    runs = []
    for (fa, fb, diagonal), first in starts.items():
        ordered = sorted(first)
        begin = prev = ordered[0]
        for i in ordered[1:] + [None]:
            if i is not None and i == prev + 1:
                prev = i
                continue
            count = prev - begin + window
            a0, a1 = begin, begin + count - 1
            b0, b1 = a0 - diagonal, a1 - diagonal
            runs.append((count, fa, lines[fa][a0][0], lines[fa][a1][0], fb, lines[fb][b0][0], lines[fb][b1][0]))
            if i is not None:
                begin = prev = i
    return sorted(runs, key=lambda r: (-r[0], r[1], r[2], r[4], r[5]))


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--min", type=int, default=6, help="report runs longer than this many lines (default 6)")
    parser.add_argument("paths", nargs="*", help="limit to tracked files below these paths")
    args = parser.parse_args(argv)
    files = tracked_yml(args.paths)
    runs = scan(files, args.min)
    for count, fa, a0, a1, fb, b0, b1 in runs:
        print(f"{count:4d} lines  {fa}:{a0}-{a1}  ~  {fb}:{b0}-{b1}")
    print(f"yaml-dups: {len(runs)} pair(s) of places share a run of more than {args.min} identical lines "
          f"({len(files)} tracked .yml files read)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
