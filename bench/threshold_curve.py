#!/usr/bin/env python3
"""How the emotiondetect `threshold` property trades precision against recall, to choose its default.

What: two markdown tables.
  1. Group photos: for each threshold t, our faces against a reference detector: our box count,
     the reference's, matches, precision, recall and F1 (totals over all photos).
  2. Videos: for each t, the people (tracks) emotiondetect-video finds in each video: how many,
     how many are seen < 0.5 s and >= 0.5 s, and how many have a mean detector confidence < 0.85
     (on Megamind.avi a known false track, a background box labelled angry, has ~0.74).

How: the reference is OpenCV's cv2.FaceDetectorYN with the same YuNet model, at each photo's full
size with score 0.9 (OpenCV's own default score_threshold), run by tests/reference/opencv_yunet.py
under the repository's .venv python. Ours is the element with its default properties (so
detector-size=640) except threshold=0.3, run once per photo through the emotiondetect Python
package. Our faces are matched to the reference's greedily, ours by descending confidence, each to
the unmatched reference box of highest IoU, if that IoU is >= 0.5. The videos are run through the
emotiondetect-video tool once per threshold, and its <name>-people.csv is read.

Why: the default threshold (0.6) decides how many faces a user sees and how many false ones; the
photos give the precision/recall curve against an independent detector, the videos show what a
threshold does to tracks (short flickers, false people) in real footage.

Usage (the system python, which has PyGObject):
  /usr/bin/python3 bench/threshold_curve.py [--quick] [--out FILE.md]
--quick runs the photos part only. Progress goes to stderr, the tables to stdout (and --out).
"""

import argparse
import csv
import datetime
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path("/work/shared")
REFERENCE_SCRIPT = REPO / "tests" / "reference" / "opencv_yunet.py"
VENV_PYTHON = REPO / ".venv" / "bin" / "python"

PHOTO_THRESHOLDS = [0.3, 0.4, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]
VIDEO_THRESHOLDS = [0.5, 0.6, 0.7, 0.8, 0.85, 0.9]
VIDEOS = ["Megamind.avi", "vtest.avi"]
#: The lowest threshold of the photo curve: the element runs once at it (see our_faces).
BASE_THRESHOLD = min(PHOTO_THRESHOLDS)
REFERENCE_SCORE = 0.9  # OpenCV FaceDetectorYN's default score_threshold
MIN_IOU = 0.5
SHORT_TRACK_S = 0.5
LOW_TRACK_CONFIDENCE = 0.85
#: Low-confidence tracks listed one by one per row; beyond this only their count is shown.
MAX_LISTED = 3


def import_emotiondetect():
    """The emotiondetect package: installed, else the one in this repository's python/."""
    try:
        import emotiondetect
    except ModuleNotFoundError:
        sys.path.insert(0, str(REPO / "python"))
        import emotiondetect
    return emotiondetect


def log(message):
    print(message, file=sys.stderr, flush=True)


# ---- group photos -------------------------------------------------------------------------------


def reference_faces(photo, model):
    """OpenCV's faces of ``photo`` as (x, y, w, h, confidence), and OpenCV's version."""
    cmd = [str(VENV_PYTHON), str(REFERENCE_SCRIPT), str(model), str(photo), "--score", str(REFERENCE_SCORE)]
    out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    faces = [(f["x"], f["y"], f["width"], f["height"], f["confidence"]) for f in out["faces"]]
    return faces, out["opencv"]


def our_faces(emotiondetect, photo):
    """The element's faces of ``photo`` at BASE_THRESHOLD as (x, y, w, h, confidence).

    Running once at the lowest threshold and keeping the faces with confidence >= t afterwards
    gives what the element gives at threshold=t: its greedy NMS only ever suppresses a box by a
    kept box of higher score, so dropping the boxes under t changes nothing for those above it.
    """
    faces = emotiondetect.analyse_image(str(photo), threshold=BASE_THRESHOLD)
    return [(*f.box, f.confidence) for f in faces]


def iou(a, b):
    """Intersection over union of two (x, y, w, h, ...) boxes."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def count_matches(ours, reference):
    """Greedy matching, our most confident face first, each to the free reference box of highest
    IoU when that is >= MIN_IOU. Returns the number of matched pairs."""
    free = list(reference)
    matched = 0
    for face in sorted(ours, key=lambda f: -f[4]):
        best = max(free, key=lambda r: iou(face, r), default=None)
        if best is not None and iou(face, best) >= MIN_IOU:
            free.remove(best)
            matched += 1
    return matched


def ratio(a, b):
    return a / b if b else None


def curve_row(photos, t):
    """Totals over all photos at threshold t: (t, ours, reference, matched, P, R, F1)."""
    ours = reference = matched = 0
    for our, ref in photos:
        kept = [f for f in our if f[4] >= t]
        ours, reference, matched = ours + len(kept), reference + len(ref), matched + count_matches(kept, ref)
    p, r = ratio(matched, ours), ratio(matched, reference)
    f1 = 2 * p * r / (p + r) if p and r else None
    return t, ours, reference, matched, p, r, f1


def photo_part(emotiondetect, photo_dir, model):
    """The photo curve's rows, and OpenCV's version."""
    paths = sorted(photo_dir.glob("*.jpg"), key=lambda p: (len(p.stem), p.stem))
    if not paths:
        sys.exit(f"no *.jpg in {photo_dir}")
    photos, opencv = [], "?"
    for path in paths:
        ref, opencv = reference_faces(path, model)
        our = our_faces(emotiondetect, path)
        log(f"{path.name}: ours {len(our)} at {BASE_THRESHOLD}, OpenCV {len(ref)} at {REFERENCE_SCORE}")
        photos.append((our, ref))
    return [curve_row(photos, t) for t in PHOTO_THRESHOLDS], opencv, len(paths)


def fmt(x, digits=3):
    return "–" if x is None else f"{x:.{digits}f}"


def photo_table(rows, opencv, n_photos):
    best = max(rows, key=lambda r: r[6] or 0)
    lines = [
        f"## Group photos ({n_photos})",
        "",
        f"Reference: OpenCV {opencv} FaceDetectorYN at each photo's full size, score {REFERENCE_SCORE}. "
        f"Ours: the element with default properties (detector-size 640) at threshold={BASE_THRESHOLD}, "
        f"faces with confidence >= t kept. Greedy match by IoU >= {MIN_IOU}, most confident first; totals over all photos.",
        "",
        "| threshold | ours | reference | matched | precision | recall | F1 |",
        "|---|---|---|---|---|---|---|",
    ]
    for t, ours, ref, matched, p, r, f1 in rows:
        mark = " **(best)**" if (t, f1) == (best[0], best[6]) else ""
        lines.append(f"| {t:g} | {ours} | {ref} | {matched} | {fmt(p)} | {fmt(r)} | {fmt(f1)}{mark} |")
    return lines


# ---- videos -------------------------------------------------------------------------------------


def audio_option(tool):
    """``--audio none`` where the tool has it, else ``--no-audio``."""
    usage = subprocess.run([tool, "--help"], capture_output=True, text=True).stdout
    return ["--audio", "none"] if re.search(r"^\s*--audio\b", usage, re.M) else ["--no-audio"]


def people(tool, audio, video, t, out_dir):
    """The rows of emotiondetect-video's people CSV for ``video`` at threshold t, and the run's seconds."""
    start = time.monotonic()
    cmd = [tool, str(video), "-o", str(out_dir), *audio, f"threshold={t}"]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({run.returncode}): {run.stderr.strip()}")
    with open(out_dir / f"{video.stem}-people.csv", newline="") as f:
        return list(csv.DictReader(f)), time.monotonic() - start


def column(row, *names):
    """The first of ``names`` that the people CSV has (its header has changed before)."""
    for name in names:
        if name in row:
            return row[name]
    sys.exit(f"the people CSV has none of the columns {names}; its columns: {', '.join(row)}")


def video_row(name, t, rows, seconds):
    seen = [float(column(r, "seconds_seen")) for r in rows]
    low = [r for r in rows if float(column(r, "mean_confidence")) < LOW_TRACK_CONFIDENCE]
    listed = ", ".join(
        f"#{column(r, 'track_id', 'id')} {column(r, 'dominant_emotion')} {float(column(r, 'mean_confidence')):.2f} "
        f"{float(column(r, 'seconds_seen')):.1f} s"
        for r in low[:MAX_LISTED]
    )
    more = f", … {len(low) - MAX_LISTED} more" if len(low) > MAX_LISTED else ""
    low_text = f"{len(low)}" + (f" ({listed}{more})" if low else "")
    short = sum(s < SHORT_TRACK_S for s in seen)
    return f"| {name} | {t:g} | {len(rows)} | {short} | {len(rows) - short} | {low_text} | {seconds:.1f} |"


def video_part(tool, video_dir):
    audio = audio_option(tool)
    lines = [
        "## Videos",
        "",
        f"`emotiondetect-video VIDEO {' '.join(audio)} threshold=T`, other properties default; from VIDEO-people.csv. "
        f"Low confidence: tracks with mean detector confidence < {LOW_TRACK_CONFIDENCE} "
        "(#id, dominant emotion, mean confidence, seconds seen).",
        "",
        f"| video | threshold | people | seen < {SHORT_TRACK_S} s | seen >= {SHORT_TRACK_S} s | low confidence | run s |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in VIDEOS:
        for t in VIDEO_THRESHOLDS:
            with tempfile.TemporaryDirectory(prefix="threshold_curve.") as out_dir:
                rows, seconds = people(tool, audio, video_dir / name, t, Path(out_dir))
            log(f"{name} threshold={t}: {len(rows)} people in {seconds:.1f} s")
            lines.append(video_row(name, t, rows, seconds))
    return lines


# ---- report -------------------------------------------------------------------------------------


def commit():
    run = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return run.stdout.strip() or "unknown"


def plugin_text():
    """The emotiondetect plugin the element was loaded from, and its version."""
    from gi.repository import Gst

    plugin = Gst.Registry.get().find_plugin("emotiondetect")
    return f"{plugin.get_filename()} {plugin.get_version()}" if plugin else "not found"


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the photos part only")
    ap.add_argument("--out", type=Path, help="also write the markdown here")
    ap.add_argument("--photos", type=Path, default=SHARED / "media" / "group-photos")
    ap.add_argument("--videos", type=Path, default=SHARED / "media" / "videos")
    ap.add_argument("--model", type=Path, default=SHARED / "models" / "face_detection_yunet.onnx",
                    help="YuNet model for the OpenCV reference")
    ap.add_argument("--tool", default=shutil.which("emotiondetect-video") or str(Path.home() / ".local/bin/emotiondetect-video"))
    return ap.parse_args()


def main():
    args = parse_args()
    start = time.monotonic()
    emotiondetect = import_emotiondetect()
    rows, opencv, n_photos = photo_part(emotiondetect, args.photos, args.model)
    lines = photo_table(rows, opencv, n_photos)
    if not args.quick:
        lines += [""] + video_part(args.tool, args.videos)
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    head = [
        "# emotiondetect: detection threshold, precision vs recall",
        "",
        f"{date}, commit {commit()}, plugin {plugin_text()}; total runtime {time.monotonic() - start:.0f} s.",
        "",
    ]
    text = "\n".join(head + lines) + "\n"
    print(text, end="")
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
