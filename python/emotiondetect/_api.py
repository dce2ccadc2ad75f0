# SPDX-License-Identifier: MIT
"""analyse() and analyse_image(): the element in a pipeline, its bus messages as Frames."""

from __future__ import annotations

import json
import os
import re
import sys
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

#: What to install when PyGObject or GStreamer's introspection data are missing.
_INSTALL = (
    "on Debian/Ubuntu: sudo apt-get install python3-gi python3-gst-1.0 gir1.2-gstreamer-1.0 "
    "gir1.2-gst-plugins-base-1.0; in a virtual environment: create it from the system's python3 with "
    "`/usr/bin/python3 -m venv --system-site-packages DIR` so that it sees those packages, or pip install PyGObject into it"
)

try:
    import gi
except ImportError as e:
    raise ImportError(f"emotiondetect needs PyGObject, which {sys.executable} cannot import ({e}): {_INSTALL}") from e
try:
    gi.require_version("Gst", "1.0")
    from gi.repository import GLib, GObject, Gst  # noqa: E402
except (ImportError, ValueError) as e:
    raise ImportError(f"emotiondetect needs GStreamer's introspection data (Gst 1.0), which PyGObject cannot load ({e}): {_INSTALL}") from e

#: How long analyse() waits for the next frame before checking the bus again, ns.
_POLL_NS = 100 * Gst.MSECOND
#: Frames the appsink (and, before the element, the queue) hold: how far a pipeline runs ahead
#: of a consumer that stops asking.
_QUEUE_FRAMES = 2


class EmotionDetectError(RuntimeError):
    """The input or the pipeline failed: a missing file, a picture or stream over ``max_pixels``,
    truncated or corrupt data, or GStreamer's message (the element's own for a missing model, a
    bad property value, an unreadable file)."""


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
    #: Five (x, y) landmarks in pixels of the frame, like ``box`` (right eye, left eye, nose tip,
    #: right and left mouth corners; YuNet only), or None.
    landmarks: Optional[List[Tuple[float, float]]] = None
    #: The same five points normalised 0..1 by the frame's width and height (as in the report).
    landmarks_normalized: Optional[List[Tuple[float, float]]] = None

    @classmethod
    def from_report(cls, o: Dict[str, Any], width: int, height: int) -> "Face":
        """The face of one entry of a report's ``objects``, in a frame of ``width`` x ``height``."""
        e = o["emotion"]
        labels = e["labels"]
        normalized = [(x, y) for x, y in o["landmarks"]] if o.get("landmarks") else None
        return cls(
            id=o["id"],
            box=(o["x"], o["y"], o["w"], o["h"]),
            confidence=o["detection"]["confidence"],
            emotion=e["label"],
            emotion_confidence=e["confidence"],
            scores=dict(zip(labels, e["scores"])),
            smoothed_scores=dict(zip(labels, e["smoothed_scores"])),
            landmarks=[(x * width, y * height) for x, y in normalized] if normalized else None,
            landmarks_normalized=normalized,
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
        width, height = r["resolution"]["width"], r["resolution"]["height"]
        return cls(
            timestamp=r.get("timestamp"),
            faces=[Face.from_report(o, width, height) for o in r["objects"]],
            width=width,
            height=height,
            source_id=r.get("source_id", ""),
            timestamp_utc=r.get("timestamp_utc"),
            report=r,
        )

    def to_pandas(self) -> Any:
        """This frame's faces as a pandas DataFrame, one row per face: see :func:`to_dataframe`."""
        return to_dataframe([self])


#: The DataFrame's columns before the one per emotion label.
_COLUMNS = ["frame", "timestamp", "width", "height", "id", "x", "y", "w", "h", "confidence", "emotion", "emotion_confidence"]


def to_dataframe(frames: Iterable[Frame]) -> Any:
    """A pandas DataFrame with one row per face per frame of ``frames`` (a list of Frames, or
    :func:`analyse`'s generator, consumed): ``frame`` (0, 1, ... in the order given),
    ``timestamp`` (ns), ``width``, ``height`` (the frame's), ``id`` (track id), ``x``, ``y``,
    ``w``, ``h`` (the box, pixels), ``confidence``, ``emotion``, ``emotion_confidence``, then
    one column per emotion label holding the face's ``smoothed_scores`` (the probabilities
    ``emotion`` is the top of; NaN for a face too small to classify). Frames without faces give
    no rows.

    Raises ImportError naming pandas when pandas is not installed (before reading ``frames``),
    TypeError for an item that is not a :class:`Frame`.
    """
    try:
        import pandas
    except ImportError as e:
        raise ImportError(
            f"emotiondetect.to_dataframe needs pandas, which {sys.executable} cannot import ({e}): "
            "pip install pandas (on Debian/Ubuntu: sudo apt-get install python3-pandas)"
        ) from e
    rows: List[Dict[str, Any]] = []
    labels: Dict[str, None] = {}  # in order of first appearance
    for n, frame in enumerate(frames):
        if not isinstance(frame, Frame):
            raise TypeError(f"to_dataframe takes Frames (analyse's), got {type(frame).__name__} at index {n}")
        for f in frame.faces:
            labels.update(dict.fromkeys(f.smoothed_scores))
            x, y, w, h = f.box
            values = [n, frame.timestamp, frame.width, frame.height, f.id, x, y, w, h, f.confidence, f.emotion, f.emotion_confidence]
            rows.append({**dict(zip(_COLUMNS, values)), **f.smoothed_scores})
    return pandas.DataFrame(rows, columns=_COLUMNS + list(labels))


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


def _display(path: bytes) -> str:
    """A path for messages: bytes that are not UTF-8 as ``\\xNN``, so printing it cannot fail."""
    return path.decode("utf-8", "backslashreplace")


def _redacted(uri: str) -> str:
    """The URI without its user-info (``rtsp://***@cam/x``): messages never show a password."""
    return re.sub(r"://[^/]*@", "://***@", uri, count=1)


def _fs_path(source: Any, what: str) -> bytes:
    """The file system bytes of a ``str``, ``bytes`` or ``os.PathLike`` path.

    Raises TypeError naming the type of anything else (None, a number, a list).
    """
    if not isinstance(source, (str, bytes, os.PathLike)):
        raise TypeError(f"{what} must be a path (str, bytes or os.PathLike) or a URI, got {type(source).__name__}")
    return os.fsencode(os.fspath(source))


def _source(source: Any, what: str) -> Tuple[str, str, Optional[bytes]]:
    """The pipeline's head (its decodebin named ``dec``), the name messages use, and the local
    file's path (None for a URI or a camera)."""
    raw = _fs_path(source, what)
    name = _display(raw)
    if isinstance(source, (str, bytes)) and b"://" in raw:
        return f"uridecodebin name=dec uri={_quote(name)}", _redacted(name), None
    if raw.startswith(b"/dev/video"):
        return f"v4l2src device={_quote(name)} ! decodebin name=dec", name, None
    path = os.path.abspath(raw)
    name = _display(path)
    if not os.path.exists(path):
        raise EmotionDetectError(f"{name}: no such file")
    if os.path.isdir(path):
        raise EmotionDetectError(f"{name}: is a directory, not a picture or video file")
    # A pipeline description is UTF-8 text: the raw bytes of the name travel percent-encoded in
    # a file:// URI, which GLib decodes back to exactly those bytes.
    return f"uridecodebin name=dec uri=file://{urllib.parse.quote(path)}", name, path


def _truncation(path: bytes) -> Optional[str]:
    """Why a JPEG, RIFF (AVI, WAV, WebP) or ISO BMFF (MP4, MOV) file is shorter than its
    structure says, or None. GStreamer 1.22 says nothing: its JPEG decoder fills the missing part
    with grey, its demuxers play to where the file stops."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(12)
        if head[:2] == b"\xff\xd8":
            f.seek(0)
            return _jpeg_truncation(f.read())
        if head[:4] == b"RIFF":
            declared = int.from_bytes(head[4:8], "little") + 8
            return f"the file is truncated: its RIFF header declares {declared} bytes, the file has {size}" if declared > size else None
        if head[4:8] != b"ftyp":
            return None
        end = 0
        while end + 8 <= size:
            f.seek(end)
            box = f.read(16)
            length = int.from_bytes(box[:4], "big")
            if length == 1:
                length = int.from_bytes(box[8:16], "big")
            if length == 0:  # the last box runs to the end of the file
                return None
            if length < 8:
                return f"the file is corrupt: a box at byte {end} declares {length} bytes"
            if end + length > size:
                kind = box[4:8].decode("latin-1")
                return f"the file is truncated: its '{kind}' box ends at byte {end + length}, the file has {size}"
            end += length
    return None


def _jpeg_truncation(data: bytes) -> Optional[str]:
    """Why a JPEG lacks its end, or None: the segments before the first scan are walked (an EXIF
    thumbnail's end-of-image marker is inside one), then an end-of-image marker must follow."""
    at = 2
    while at + 4 <= len(data) and data[at] == 0xFF:
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker == 0xDA:  # start of scan: entropy-coded data never holds FF D9
            break
        at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
    else:
        return f"the file is truncated: it ends at byte {len(data)}, inside its headers"
    if data.find(b"\xff\xd9", at) < 0:
        return f"the file is truncated: it ends at byte {len(data)} with no end-of-image marker"
    return None


def _declared_size(caps: Gst.Caps) -> Optional[Tuple[int, int]]:
    """The width and height ``caps`` declare, if they declare both."""
    if caps is None or caps.get_size() == 0:
        return None
    s = caps.get_structure(0)
    (has_w, width), (has_h, height) = s.get_int("width"), s.get_int("height")
    return (width, height) if has_w and has_h else None


def _too_large(name: str, width: int, height: int, max_pixels: int) -> EmotionDetectError:
    return EmotionDetectError(
        f"{name} declares {width}x{height} ({width * height / 1e6:.1f} MP), over max_pixels={max_pixels}: "
        "refused before decoding (pass a larger max_pixels to analyse it)"
    )


def _check_max_pixels(max_pixels: Any) -> None:
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int):
        raise TypeError(f"max_pixels must be an int, got {type(max_pixels).__name__}")
    if max_pixels <= 0:
        raise ValueError(f"max_pixels must be positive, got {max_pixels}")


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


def _data_warning(message: Gst.Message) -> Optional[str]:
    """The text of a corrupt-data report: a stream WARNING (a demuxer's, a decoder's), or the QoS
    message a decoder posts for a frame it could not decode and dropped (GStreamer 1.22's decoders
    post no warning for it). None for other messages."""
    source = message.src.get_name() if message.src else "?"
    if message.type == Gst.MessageType.WARNING:
        err, debug = message.parse_warning()
        if err.domain != "gst-stream-error-quark":
            return None
        return f"{source}: {err.message}" + (f" ({debug})" if debug else "")
    if message.type == Gst.MessageType.QOS and message.parse_qos_stats()[2] > 0:
        timestamp = message.parse_qos()[3]
        at = f" at {timestamp / Gst.SECOND:.3f} s" if timestamp != Gst.CLOCK_TIME_NONE else ""
        return f"{source} dropped a frame{at} it could not decode"
    return None


class _Run:
    """``HEAD ! queue ! videoconvert ! emotiondetect name=ed ! appsink``, pulled frame by frame.

    The appsink holds at most _QUEUE_FRAMES frames and is emptied only as the consumer asks for
    the next Frame, so a suspended consumer pauses a file's pipeline; a live source's new frames
    are dropped by the leaky queue meanwhile. Either way at most a few reports wait on the bus.
    """

    def __init__(self, head: str, name: str, properties: Dict[str, Any], max_pixels: int, path: Optional[bytes] = None):
        _init()
        self.name, self.max_pixels = name, max_pixels
        n = _QUEUE_FRAMES
        desc = (
            f"{head} ! queue name=q max-size-buffers={n} max-size-bytes=0 max-size-time=0 ! videoconvert"
            f" ! emotiondetect name=ed ! appsink name=sink sync=false max-buffers={n} drop=false"
        )
        try:
            self.pipeline = Gst.parse_launch(desc)
        except GLib.Error as e:
            raise EmotionDetectError(f"cannot build the pipeline `{desc}`: {e.message}") from None
        self.element = self.pipeline.get_by_name("ed")
        self.sink = self.pipeline.get_by_name("sink")
        self.queue = self.pipeline.get_by_name("q")
        _configure(self.element, properties)
        self.bus = self.pipeline.get_bus()
        self.declared: Optional[Tuple[int, int]] = None
        decoder = self.pipeline.get_by_name("dec")
        if decoder is not None:
            decoder.connect("autoplug-continue", self._autoplug_continue)
        self.warnings: List[str] = []
        try:
            truncated = _truncation(path) if path is not None else None
        except OSError as e:
            raise EmotionDetectError(f"{name}: cannot read it: {e.strerror}") from None
        if truncated:
            self.warnings.append(truncated)
        self.count = 0

    def _autoplug_continue(self, _bin: Gst.Element, _pad: Gst.Pad, caps: Gst.Caps) -> bool:
        """decodebin asks before each stage (typefind's, a parser's or demuxer's caps carry the
        size): a size over max_pixels stops it there, before a decoder allocates the picture."""
        size = _declared_size(caps)
        if size is None or size[0] * size[1] <= self.max_pixels:
            return True
        self.declared = size
        self.pipeline.post_message(Gst.Message.new_application(self.pipeline, Gst.Structure.new_empty("emotiondetect-too-large")))
        return False

    def frames(self, end_with_warnings: bool = True) -> Iterator[Frame]:
        """The Frames; then, with ``end_with_warnings``, EmotionDetectError if data was corrupt."""
        try:
            self._start()
            kinds = (
                Gst.MessageType.ELEMENT | Gst.MessageType.ERROR | Gst.MessageType.EOS | Gst.MessageType.WARNING
                | Gst.MessageType.QOS | Gst.MessageType.APPLICATION
            )
            while True:
                message = self.bus.pop_filtered(kinds)
                if message is None:
                    # Taking a sample lets one more frame into the appsink: the pipeline runs no
                    # further ahead of the consumer than the appsink and queue hold.
                    self.sink.emit("try-pull-sample", _POLL_NS)
                    continue
                if message.type == Gst.MessageType.EOS:
                    break
                frame = self._handle(message)
                if frame is not None:
                    self.count += 1
                    yield frame
            if self.warnings and end_with_warnings:
                raise EmotionDetectError(self._warnings_text())
        finally:
            self.pipeline.set_state(Gst.State.NULL)

    def _start(self) -> None:
        ret = self.pipeline.set_state(Gst.State.PAUSED)
        if ret == Gst.StateChangeReturn.NO_PREROLL:
            # A live source does not wait for a suspended consumer: drop its oldest queued frames.
            Gst.util_set_object_arg(self.queue, "leaky", "downstream")
        if ret == Gst.StateChangeReturn.FAILURE or self.pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            self._check_declared()
            raise EmotionDetectError(self._first_error() or f"{self.name}: the pipeline cannot start")

    def _handle(self, message: Gst.Message) -> Optional[Frame]:
        """The Frame of an emotiondetect message; raises for an error or a refused size, and keeps
        a corrupt-data report for the end."""
        if message.type in (Gst.MessageType.ERROR, Gst.MessageType.APPLICATION):
            self._check_declared()
            if message.type == Gst.MessageType.ERROR:
                raise EmotionDetectError(_error_text(message))
            return None
        if message.src == self.element:
            s = message.get_structure()
            if message.type == Gst.MessageType.ELEMENT and s is not None and s.get_name() == "emotiondetect":
                return Frame.from_json(s.get_string("json"))
            return None
        warning = _data_warning(message)
        if warning:
            self.warnings.append(warning)
        return None

    def _check_declared(self) -> None:
        if self.declared is not None:
            raise _too_large(self.name, *self.declared, self.max_pixels)

    def _warnings_text(self) -> str:
        n = len(self.warnings)
        return (
            f"{self.name}: {n} corrupt-data warning{'s' if n > 1 else ''} ({self.count} frames analysed "
            f"before the end); the first: {self.warnings[0]}"
        )

    def _first_error(self) -> Optional[str]:
        message = self.bus.timed_pop_filtered(Gst.SECOND, Gst.MessageType.ERROR)
        return _error_text(message) if message else None


def analyse(source: Any, *, max_pixels: int = 7680 * 4320, **properties: Any) -> Iterator[Frame]:
    """The frames of ``source`` as the element analyses them, one :class:`Frame` per video frame.

    ``source``: a file path (``str``, ``bytes`` or ``os.PathLike``; names that are not UTF-8
    work as bytes, as ``os.fsdecode`` strings or as ``pathlib.Path``), a URI (``file://``,
    ``rtsp://``, ``http://``) or a camera device (``/dev/video0``). ``max_pixels``: a stream
    declaring a larger width x height (default 8K UHD, 33.2 MP) is refused before decoding.
    ``properties``: the element's properties, with ``_`` for ``-`` (``threshold=0.5``,
    ``emotion_model="m.onnx"``, ``inference_interval=2``).

    Frames are decoded as they are asked for: while the consumer holds the generator a file's
    pipeline waits, and a live source's frames arriving meanwhile are dropped (at most 2 wait).

    Raises TypeError for a ``source`` of another type. Raises :class:`EmotionDetectError`
    naming the path for a missing file, with GStreamer's message for a missing or invalid model,
    an unknown property or a value out of range, for a size over ``max_pixels``, and, after the
    last frame that decodes, for corrupt or truncated data (how many warnings, the first one).
    """
    _check_max_pixels(max_pixels)
    head, name, path = _source(source, "source")
    return _Run(head, name, properties, max_pixels, path).frames()


def analyse_image(image: Any, *, color: str = "rgb", max_pixels: int = 40_000_000, **properties: Any) -> List[Face]:
    """The faces of one picture: a path (JPEG, PNG, ...; ``str``, ``bytes`` or
    ``os.PathLike``, any file name) or an H x W x 3 ``uint8`` array (numpy, or anything with
    ``shape`` and ``tobytes()``). Like ``fer``'s ``detect_emotions`` (:meth:`Face.as_fer` gives
    its dictionaries). ``color``: the array's channel order, ``"rgb"`` (the default) or
    ``"bgr"`` (OpenCV's, as ``cv2.imread`` gives), either case; a file's own colours are used for a path.
    ``max_pixels``: a picture declaring a larger width x height (default 40 MP) is refused
    before it is decoded.

    Raises TypeError for an ``image`` of another type, ValueError for a ``color`` other than
    ``"rgb"`` or ``"bgr"``. Raises :class:`EmotionDetectError` as :func:`analyse` does, for an
    array of another shape or over ``max_pixels``, and for a picture that is truncated or
    corrupt (nothing decodes, or the decoder reports bad data).
    """
    _check_max_pixels(max_pixels)
    video_format = _ARRAY_FORMATS.get(color.lower()) if isinstance(color, str) else None
    if video_format is None:
        raise ValueError(f"color must be 'rgb' or 'bgr' (the array's channel order), got {color!r}")
    if hasattr(image, "shape") and hasattr(image, "tobytes"):
        return _analyse_array(image, video_format, properties, max_pixels)
    head, name, path = _source(image, "image")
    run = _Run(head + " ! imagefreeze num-buffers=1", name, properties, max_pixels, path)
    frames = list(run.frames(end_with_warnings=False))
    if run.warnings or not frames:
        why = run.warnings[0] if run.warnings else "no picture decodes"
        raise EmotionDetectError(f"{name}: the picture is truncated or corrupt: {why}")
    return frames[0].faces


#: analyse_image's ``color`` values, and the GStreamer format of each (both the element's own).
_ARRAY_FORMATS = {"rgb": "RGB", "bgr": "BGR"}


def _analyse_array(array: Any, video_format: str, properties: Dict[str, Any], max_pixels: int) -> List[Face]:
    shape = tuple(array.shape)
    if len(shape) != 3 or shape[2] != 3 or str(getattr(array, "dtype", "uint8")) != "uint8" or 0 in shape:
        raise EmotionDetectError(f"expected an H x W x 3 uint8 {video_format} array, got shape {shape} of {getattr(array, 'dtype', '?')}")
    height, width = shape[0], shape[1]
    if width * height > max_pixels:
        raise _too_large(f"the array of shape {shape}", width, height, max_pixels)
    data = array.tobytes()
    # GStreamer's RGB and BGR rows start on 4-byte boundaries.
    row, stride = width * 3, (width * 3 + 3) & ~3
    if stride != row:
        pad = bytes(stride - row)
        data = b"".join(data[y * row : (y + 1) * row] + pad for y in range(height))
    caps = f"video/x-raw,format={video_format},width={width},height={height},framerate=0/1"
    run = _Run(f"appsrc name=src caps={_quote(caps)} format=time", "the array", properties, max_pixels)
    src = run.pipeline.get_by_name("src")
    buffer = Gst.Buffer.new_wrapped(data)
    buffer.pts = 0
    src.emit("push-buffer", buffer)
    src.emit("end-of-stream")
    frames = list(run.frames())
    return frames[0].faces if frames else []
