#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Regenerates the manual's sample outputs (docs/metadata.md, docs/video-tool.md) from a real run of emotiondetect-video on
Megamind.avi, so they never go stale: the blocks between `<!-- sample:NAME -->` and
`<!-- /sample -->` are replaced.

    cargo build --release && scripts/readme_samples.py [VIDEO]

Samples: people-csv (<name>-people.csv), frames-csv-row (the first row of <name>-frames.csv),
json-line (line 100 of <name>.jsonl, what emotionpublish writes).
"""

import json
import pathlib
import re
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]


def main() -> int:
    video = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ROOT.parent / "shared/media/videos/Megamind.avi")
    tool = ROOT / "target/release/emotiondetect-video"
    for needed, how in [(video, "give a VIDEO (default ../shared/media/videos/Megamind.avi)"), (tool, "run cargo build --release")]:
        if not needed.is_file():
            print(f"readme_samples.py: {needed} not found: {how}", file=sys.stderr)
            return 1
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([str(tool), str(video), "-o", out], check=True, stdout=subprocess.DEVNULL)
        name = video.stem
        people = (pathlib.Path(out) / f"{name}-people.csv").read_text().strip()
        frames = (pathlib.Path(out) / f"{name}-frames.csv").read_text().splitlines()
        lines = (pathlib.Path(out) / f"{name}.jsonl").read_text().splitlines()
    line = json.loads(lines[99])
    # No path of this machine in the docs.
    for key in ("source", "source_id"):
        if line.get(key, "").startswith("file://"):
            line[key] = f"file:///…/{video.name}"
    samples = {
        "people-csv": f"```\n{people}\n```",
        "frames-csv-row": f"`{frames[1]}`",
        "json-line": "```json\n" + json.dumps(line, separators=(",", ":"), ensure_ascii=False) + "\n```",
    }
    pages = {key: ROOT / "docs" / ("metadata.md" if key == "json-line" else "video-tool.md") for key in samples}
    for key, body in samples.items():
        page = pages[key]
        text = page.read_text()
        pattern = re.compile(rf"(<!-- sample:{key} -->\n).*?(\n<!-- /sample -->)", re.S)
        if not pattern.search(text):
            print(f"readme_samples.py: no <!-- sample:{key} --> block in {page.relative_to(ROOT)}", file=sys.stderr)
            return 1
        page.write_text(pattern.sub(lambda m: m.group(1) + body + m.group(2), text))
    print(f"docs/metadata.md and docs/video-tool.md samples regenerated from {video.name}: {len(lines)} frames")
    return 0


if __name__ == "__main__":
    sys.exit(main())
