#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Print the emotions of a live source (camera, RTSP camera, file), one line per face:

    examples/python/live.py /dev/video0
    examples/python/live.py rtsp://127.0.0.1:8554/emotions inference_interval=2
"""

import sys

import emotiondetect


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    props = dict(arg.split("=", 1) for arg in sys.argv[2:])
    props = {k: (float(v) if v.replace(".", "", 1).isdigit() and "." in v else int(v) if v.isdigit() else v) for k, v in props.items()}
    try:
        for frame in emotiondetect.analyse(sys.argv[1], draw=False, **props):
            for f in frame.faces:
                print(f"{frame.timestamp_utc}  #{f.id:<3} {f.emotion:<9} {f.emotion_confidence:.2f}  box={f.box}", flush=True)
    except emotiondetect.EmotionDetectError as e:
        print(f"live.py: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
