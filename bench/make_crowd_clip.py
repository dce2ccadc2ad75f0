#!/usr/bin/env python3
"""Makes the 1920x1080 "crowd" clip of the benchmark: a slow pan over two real group photos
(17.jpg, about 500 faces, then 25.jpg, about 300 faces), 30 frames each at 10 fps, as Motion-JPEG
in AVI so both GStreamer (avidemux ! jpegdec) and OpenCV (the peer) read it.
Usage: make_crowd_clip.py PHOTOS_DIR OUT.avi"""
import sys
import cv2

W, H, PER_PHOTO = 1920, 1080, 30


def pan(img, frames):
    # Scale so the photo covers 1080p with 15 % to spare, then pan left to right.
    s = max(W / img.shape[1], H / img.shape[0]) * 1.15
    big = cv2.resize(img, (int(img.shape[1] * s), int(img.shape[0] * s)), interpolation=cv2.INTER_AREA)
    dx, dy = big.shape[1] - W, big.shape[0] - H
    for k in range(frames):
        x, y = dx * k // (frames - 1), dy // 2
        yield big[y:y + H, x:x + W]


photos, out = sys.argv[1], sys.argv[2]
writer = cv2.VideoWriter(out, cv2.VideoWriter_fourcc(*'MJPG'), 10, (W, H))
if not writer.isOpened():
    sys.exit(f'cannot write {out}')
for name in ('17.jpg', '25.jpg'):
    img = cv2.imread(f'{photos}/{name}')
    if img is None:
        sys.exit(f'cannot read {photos}/{name}')
    for frame in pan(img, PER_PHOTO):
        writer.write(frame)
writer.release()
