#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A video's emotions per person, without pandas: how long each person was seen and their share
of each emotion; with matplotlib installed, also a bar chart (PNG beside the video's name).

    examples/python/summary.py Megamind.avi [out.png]
"""

import collections
import sys

import emotiondetect


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    counts = collections.defaultdict(collections.Counter)
    first, last = {}, {}
    try:
        for frame in emotiondetect.analyse(sys.argv[1], draw=False):
            t = (frame.timestamp or 0) / 1e9
            for f in frame.faces:
                counts[f.id][f.emotion] += 1
                first.setdefault(f.id, t)
                last[f.id] = t
    except emotiondetect.EmotionDetectError as e:
        print(f"summary.py: {e}", file=sys.stderr)
        return 1
    for pid, c in sorted(counts.items()):
        total = sum(c.values())
        shares = ", ".join(f"{label} {n / total:.0%}" for label, n in c.most_common())
        print(f"person #{pid}: {first[pid]:.1f}-{last[pid]:.1f} s, {total} frames: {shares}")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no plot)")
        return 0
    out = sys.argv[2] if len(sys.argv) > 2 else "emotions-per-person.png"
    labels = sorted({label for c in counts.values() for label in c})
    fig, ax = plt.subplots(figsize=(8, 1 + 0.5 * len(counts)))
    left = [0.0] * len(counts)
    people = sorted(counts)
    for label in labels:
        shares = [counts[p][label] / sum(counts[p].values()) for p in people]
        ax.barh([f"#{p}" for p in people], shares, left=left, label=label)
        left = [a + b for a, b in zip(left, shares)]
    ax.set_xlabel("share of frames")
    ax.legend(ncol=4, fontsize="small")
    fig.tight_layout()
    fig.savefig(out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
