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
"""

from ._api import EmotionDetectError, Face, Frame, analyse, analyse_image

__all__ = ["EmotionDetectError", "Face", "Frame", "analyse", "analyse_image"]
