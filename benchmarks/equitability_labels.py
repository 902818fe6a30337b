"""Write a *synthetic* labels file (identity,group) for `lfr evaluate equitability` (EQ-1).

LFW carries no demographic labels, so the groups made here mean nothing about the people:
an identity's group is the first letter of its folder name (`initial-A`, `initial-B`, ...),
and only identities whose names start with one of INITIALS (default ABCD: 1,454 of
lfw-dev's 3,416 identities, 3,202 images) are labelled, which keeps the run to minutes.
The rule is deterministic and checkable by hand; it exercises the report (per-group
rates, intervals, tests, DET curves). Real differentials need a data set with real labels.

    python -m benchmarks.equitability_labels ../shared/data/lfw-dev/images labels.csv [ABCD]
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path


def write_labels(images: Path, output: Path, initials: str = "ABCD") -> dict[str, int]:
    """Label every identity whose name starts with one of `initials`; return group sizes."""
    sizes: dict[str, int] = {}
    with output.open("w", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(["identity", "group"])
        for folder in sorted(p for p in images.iterdir() if p.is_dir()):
            initial = folder.name[:1].upper()
            if initial and initial in initials.upper():
                group = f"initial-{initial}"
                writer.writerow([folder.name, group])
                sizes[group] = sizes.get(group, 0) + 1
    return sizes


def main(argv: list[str]) -> None:
    if len(argv) not in (2, 3):
        raise SystemExit(
            "usage: python -m benchmarks.equitability_labels IMAGES OUTPUT.csv [INITIALS]"
        )
    sizes = write_labels(Path(argv[0]), Path(argv[1]), *(argv[2:]))
    print("| group | identities |\n|---|---|")
    for group, count in sorted(sizes.items()):
        print(f"| {group} | {count} |")


if __name__ == "__main__":
    main(sys.argv[1:])
