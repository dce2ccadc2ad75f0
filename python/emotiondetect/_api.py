# SPDX-License-Identifier: MIT
"""analyse() and analyse_image(): the element in a pipeline, its bus messages as Frames."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Tuple

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, GObject, Gst  # noqa: E402

#: How long analyse() waits for the next bus message before checking again, ns.
_POLL_NS = 100 * Gst.MSECOND


class EmotionDetectError(RuntimeError):
    """The pipeline or the element failed: the message is GStreamer's (the element's own for a
    missing model, a bad property value, an unreadable file)."""


@dataclass
class Face:
    """One face of one frame."""

    #: Track id: the same person keeps it while in view.
    id: int
    #: x, y, width, height in pixels of the frame.
    box: Tuple[int, int, int, int]
    #: Detector confidence 0..1.
    confidence: float
    #: The reported emotion (top-1 of the smoothed probabilities) and its probability;
    #: ``"unknown"`` and 0.0 for a face too small to classify (min-emotion-face-size).
    emotion: str
    emotion_confidence: float
    #: The classifier's last output for this face: label -> probability (empty when unknown).
    scores: Dict[str, float]
    #: The probabilities smoothed over the track (emotion-smoothing): label -> probability
    #: (empty when unknown).
    smoothed_scores: Dict[str, float]
    #: Five (x, y) landmarks normalised 0..1 (right eye, left eye, nose, mouth corners), if any.
    landmarks: Optional[List[Tuple[float, float]]] = None

    @classmethod
    def from_report(cls, o: Dict[str, Any]) -> "Face":
        e = o["emotion"]
        labels = e["labels"]
        return cls(
            id=o["id"],
            box=(o["x"], o["y"], o["w"], o["h"]),
            confidence=o["detection"]["confidence"],
            emotion=e["label"],
            emotion_confidence=e["confidence"],
            scores=dict(zip(labels, e["scores"])),
            smoothed_scores=dict(zip(labels, e["smoothed_scores"])),
            landmarks=[tuple(p) for p in o["landmarks"]] if o.get("landmarks") else None,
        )

    def as_fer(self) -> Dict[str, Any]:
        """The face as the ``fer`` library's ``detect_emotions`` gives it:
        ``{"box": [x, y, w, h], "emotions": {label: probability}}``."""
        return {"box": list(self.box), "emotions": dict(self.smoothed_scores)}

    @property
    def classified(self) -> bool:
        """False for a face too small to classify (``emotion == "unknown"``, no scores)."""
        return bool(self.scores)


@dataclass
class Frame:
    """One analysed frame."""

    #: Presentation timestamp, ns (None when the buffer has none).
    timestamp: Optional[int]
    faces: List[Face]
    width: int
    height: int
    #: The element's source-id, and the frame's wall-clock time (RFC 3339).
    source_id: str = ""
    timestamp_utc: Optional[str] = None
    #: The whole report as the element wrote it (docs/frame-report.schema.json).
    report: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, text: str) -> "Frame":
        r = json.loads(text)
        return cls(
            timestamp=r.get("timestamp"),
            faces=[Face.from_report(o) for o in r["objects"]],
            width=r["resolution"]["width"],
            height=r["resolution"]["height"],
            source_id=r.get("source_id", ""),
            timestamp_utc=r.get("timestamp_utc"),
            report=r,
        )


def _init() -> None:
    if not Gst.is_initialized():
        Gst.init(None)
    if Gst.ElementFactory.find("emotiondetect") is None:
        raise EmotionDetectError(
            "the emotiondetect GStreamer element is not installed: run ./setup.sh from the emotiondetect "
            "source tree (it installs the plugin into ~/.local/share/gstreamer-1.0/plugins), or set "
            "GST_PLUGIN_PATH to the directory holding libgstemotiondetect.so"
        )


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _source(source: Any) -> str:
    """The pipeline's head for a file path, a URI or a camera device."""
    text = os.fspath(source) if isinstance(source, os.PathLike) else str(source)
    if "://" in text:
        return f"uridecodebin uri={_quote(text)}"
    if text.startswith("/dev/video"):
        return f"v4l2src device={_quote(text)} ! decodebin"
    return f"filesrc location={_quote(os.path.abspath(text))} ! decodebin"


def _configure(element: Gst.Element, properties: Dict[str, Any]) -> None:
    """Sets element properties given as keyword arguments (``threshold=0.5``,
    ``face_model="..."``), checking names and numeric ranges like gst-launch would."""
    for name, value in properties.items():
        prop = name.replace("_", "-")
        spec = element.find_property(prop)
        if spec is None or not (spec.flags & GObject.ParamFlags.WRITABLE):
            names = sorted(p.name for p in element.list_properties() if p.flags & GObject.ParamFlags.WRITABLE)
            raise EmotionDetectError(f"emotiondetect has no writable property {prop!r}; its properties are: {', '.join(names)}")
        low, high = getattr(spec, "minimum", None), getattr(spec, "maximum", None)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and low is not None and not low <= value <= high:
            raise EmotionDetectError(f"{prop}={value}: out of range {low}..{high}; {prop}: {spec.blurb}")
        try:
            element.set_property(prop, value)
        except (TypeError, ValueError) as e:
            raise EmotionDetectError(f"{prop}={value!r}: {e}; {prop}: {spec.blurb}") from None


def _error_text(message: Gst.Message) -> str:
    err, debug = message.parse_error()
    return f"{err.message} ({debug})" if debug else err.message


class _Run:
    """A pipeline ending in ``emotiondetect name=ed ! fakesink``, run to EOS."""

    def __init__(self, head: str, properties: Dict[str, Any]):
        _init()
        desc = f"{head} ! videoconvert ! emotiondetect name=ed ! fakesink sync=false"
        try:
            self.pipeline = Gst.parse_launch(desc)
        except GLib.Error as e:
            raise EmotionDetectError(f"cannot build the pipeline `{desc}`: {e.message}") from None
        self.element = self.pipeline.get_by_name("ed")
        _configure(self.element, properties)
        self.bus = self.pipeline.get_bus()

    def frames(self) -> Iterator[Frame]:
        try:
            if self.pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
                raise EmotionDetectError(self._first_error() or "the pipeline cannot start")
            kinds = Gst.MessageType.ELEMENT | Gst.MessageType.ERROR | Gst.MessageType.EOS
            while True:
                message = self.bus.timed_pop_filtered(_POLL_NS, kinds)
                if message is None:
                    continue
                if message.type == Gst.MessageType.EOS:
                    return
                if message.type == Gst.MessageType.ERROR:
                    raise EmotionDetectError(_error_text(message))
                s = message.get_structure()
                if s is not None and s.get_name() == "emotiondetect" and message.src == self.element:
                    yield Frame.from_json(s.get_string("json"))
        finally:
            self.pipeline.set_state(Gst.State.NULL)

    def _first_error(self) -> Optional[str]:
        message = self.bus.timed_pop_filtered(Gst.SECOND, Gst.MessageType.ERROR)
        return _error_text(message) if message else None


def analyse(source: Any, **properties: Any) -> Iterator[Frame]:
    """The frames of ``source`` as the element analyses them, one :class:`Frame` per video frame.

    ``source``: a file path, a URI (``file://``, ``rtsp://``, ``http://``) or a camera device
    (``/dev/video0``). ``properties``: the element's properties, with ``_`` for ``-``
    (``threshold=0.5``, ``emotion_model="m.onnx"``, ``inference_interval=2``).

    Raises :class:`EmotionDetectError` with GStreamer's message for a missing file, a missing
    or invalid model, an unknown property or a value out of range.
    """
    return _Run(_source(source), properties).frames()


def analyse_image(image: Any, **properties: Any) -> List[Face]:
    """The faces of one picture: a path (JPEG, PNG, ...) or an H x W x 3 ``uint8`` RGB array
    (numpy, or anything with ``shape`` and ``tobytes()``). Like ``fer``'s ``detect_emotions``
    (:meth:`Face.as_fer` gives its dictionaries).

    Raises :class:`EmotionDetectError` as :func:`analyse` does, and for an array of another
    shape.
    """
    if hasattr(image, "shape") and hasattr(image, "tobytes"):
        return _analyse_array(image, properties)
    frames = list(_Run(_source(image) + " ! imagefreeze num-buffers=1", properties).frames())
    return frames[0].faces if frames else []


def _analyse_array(array: Any, properties: Dict[str, Any]) -> List[Face]:
    shape = tuple(array.shape)
    if len(shape) != 3 or shape[2] != 3 or str(getattr(array, "dtype", "uint8")) != "uint8" or 0 in shape:
        raise EmotionDetectError(f"expected an H x W x 3 uint8 RGB array, got shape {shape} of {getattr(array, 'dtype', '?')}")
    height, width = shape[0], shape[1]
    data = array.tobytes()
    # GStreamer's RGB rows start on 4-byte boundaries.
    row, stride = width * 3, (width * 3 + 3) & ~3
    if stride != row:
        pad = bytes(stride - row)
        data = b"".join(data[y * row : (y + 1) * row] + pad for y in range(height))
    caps = f"video/x-raw,format=RGB,width={width},height={height},framerate=0/1"
    run = _Run(f"appsrc name=src caps={_quote(caps)} format=time", properties)
    src = run.pipeline.get_by_name("src")
    buffer = Gst.Buffer.new_wrapped(data)
    buffer.pts = 0
    src.emit("push-buffer", buffer)
    src.emit("end-of-stream")
    frames = list(run.frames())
    return frames[0].faces if frames else []
