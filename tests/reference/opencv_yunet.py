#!/usr/bin/env python3
"""Reference face detection with OpenCV's cv2.FaceDetectorYN, for tests/real_images.rs.

Usage: opencv_yunet.py MODEL IMAGE [--score 0.6] [--nms 0.3] [--top-k 5000]

Runs YuNet at the image's own size (as `emotiondetect detector-size=0` does) and prints one
JSON object on stdout:
  {"width": W, "height": H, "opencv": "<version>",
   "faces": [{"x": .., "y": .., "width": .., "height": .., "confidence": ..}, ...]}
Boxes are floats in image pixels, best first. Exit status 2 with a message on stderr when
OpenCV cannot be imported (run ./setup.sh, which creates .venv from requirements.txt).
"""

import argparse
import json
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("image")
    ap.add_argument("--score", type=float, default=0.6)
    ap.add_argument("--nms", type=float, default=0.3)
    ap.add_argument("--top-k", type=int, default=5000)
    args = ap.parse_args()

    try:
        import cv2
    except ImportError as e:
        print(
            f"cannot import cv2 ({e}): run ./setup.sh to create .venv with opencv-python-headless "
            "(requirements.txt)",
            file=sys.stderr,
        )
        return 2

    image = cv2.imread(args.image, cv2.IMREAD_COLOR)
    if image is None:
        print(f"cannot read image {args.image}", file=sys.stderr)
        return 1
    h, w = image.shape[:2]
    detector = cv2.FaceDetectorYN.create(args.model, "", (w, h), args.score, args.nms, args.top_k)
    detector.setInputSize((w, h))
    _, faces = detector.detect(image)
    out = []
    for f in faces if faces is not None else []:
        out.append(
            {
                "x": float(f[0]),
                "y": float(f[1]),
                "width": float(f[2]),
                "height": float(f[3]),
                "confidence": float(f[14]),
            }
        )
    json.dump({"width": w, "height": h, "opencv": cv2.__version__, "faces": out}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
