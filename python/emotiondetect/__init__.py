# SPDX-License-Identifier: MIT
"""Facial emotions from Python, with the ``emotiondetect`` GStreamer element.

    import emotiondetect

    for frame in emotiondetect.analyse("Megamind.avi", threshold=0.5):
        for face in frame.faces:
            print(frame.timestamp, face.id, face.emotion, face.emotion_confidence)

    faces = emotiondetect.analyse_image("group.jpg")      # like fer's detect_emotions
    faces = emotiondetect.analyse_image(cv2.imread("group.jpg"), color="bgr")
    table = emotiondetect.to_dataframe(emotiondetect.analyse("Megamind.avi"))   # pandas

The element runs in a GStreamer pipeline in this process (PyGObject, Debian's python3-gi and
python3-gst-1.0); each frame's result is read from the element's bus message, whose ``json``
field holds the frame's report in the schema of ``docs/frame-report.schema.json``. Without
PyGObject or GStreamer's introspection data, importing this package raises ImportError saying
what to install. Boxes and ``Face.landmarks`` are in pixels of the frame
(``Face.landmarks_normalized``: 0..1).

Inputs: paths as ``str``, ``bytes`` or ``os.PathLike`` (any file name, UTF-8 or not), URIs,
cameras, RGB or BGR arrays; anything else raises TypeError. Frames are decoded as the consumer asks
for them (a suspended generator pauses a file; a live source's frames are dropped meanwhile).
A picture or stream declaring more than ``max_pixels`` (40 MP for analyse_image, 8K UHD for
analyse) is refused before decoding; a missing file, truncated or corrupt data raise
:class:`EmotionDetectError` (analyse: after the last frame that decodes).
"""

from ._api import EmotionDetectError, Face, Frame, analyse, analyse_image, to_dataframe

__all__ = ["EmotionDetectError", "Face", "Frame", "analyse", "analyse_image", "to_dataframe"]
