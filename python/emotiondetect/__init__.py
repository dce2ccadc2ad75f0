# SPDX-License-Identifier: MIT
"""Facial emotions from Python, with the ``emotiondetect`` GStreamer element.

    import emotiondetect

    for frame in emotiondetect.analyse("Megamind.avi", threshold=0.5):
        for face in frame.faces:
            print(frame.timestamp, face.id, face.emotion, face.emotion_confidence)

    faces = emotiondetect.analyse_image("group.jpg")      # like fer's detect_emotions

The element runs in a GStreamer pipeline in this process (PyGObject, Debian's python3-gi and
python3-gst-1.0); each frame's result is read from the element's bus message, whose ``json``
field holds the frame's report in the schema of ``docs/frame-report.schema.json``.

Inputs: paths as ``str``, ``bytes`` or ``os.PathLike`` (any file name, UTF-8 or not), URIs,
cameras, RGB arrays; anything else raises TypeError. Frames are decoded as the consumer asks
for them (a suspended generator pauses a file; a live source's frames are dropped meanwhile).
A picture or stream declaring more than ``max_pixels`` (40 MP for analyse_image, 8K UHD for
analyse) is refused before decoding; a missing file, truncated or corrupt data raise
:class:`EmotionDetectError` (analyse: after the last frame that decodes).
"""

from ._api import EmotionDetectError, Face, Frame, analyse, analyse_image

__all__ = ["EmotionDetectError", "Face", "Frame", "analyse", "analyse_image"]
