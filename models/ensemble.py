#!/usr/bin/env python3
"""Joins emotion classifiers into one ONNX ensemble and measures it on FER2013 val.

    python models/ensemble.py --out target/ensemble MODEL.onnx MODEL.onnx [...]

Each MODEL is a classifier that train_fer.py exported with flip averaging (`input` [N, 1, 48, 48]
NCHW float32 grey, (x / 255 - 0.5) / 0.25; output `probabilities` [N, 7] in FER2013 order), float32
(`--no-int8`) for the ensemble's accuracy. The ensemble is one graph: every member reads the same
`input`, and `probabilities` is the mean of the members' probabilities (ONNX `Mean`), so the
element and the tools run it as any other classifier.

Writes OUT/emotion_fer2013_ensemble.onnx and its spec OUT/fer2013_ensemble.json, and prints (and
writes to OUT/ensemble.json) the val accuracy and per-class recall of each member and of the
ensemble as ONNX Runtime computes them, and the ensemble's ms a face at batch 32 on this machine.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import torch
import onnxruntime as ort
from onnx import compose, helper

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_fer import LABELS, MEAN, SIZE, STD, load_split, normalise, run_onnx  # noqa: E402

OUTPUT = "probabilities"


def member(path, k):
    """The classifier at `path`, checked, its names prefixed `m{k}_` but for its input."""
    model = onnx.load(str(path))
    inputs = [i.name for i in model.graph.input]
    outputs = [o.name for o in model.graph.output]
    if inputs != ["input"] or outputs != [OUTPUT]:
        sys.exit(f"{path}: expected input 'input' and output '{OUTPUT}' (a flip-averaged export), found {inputs} -> {outputs}")
    prefixed = compose.add_prefix(model, f"m{k}_")
    # Every member reads the ensemble's one input.
    for node in prefixed.graph.node:
        node.input[:] = ["input" if n == f"m{k}_input" else n for n in node.input]
    return model, prefixed


def join(paths):
    """One ModelProto: the members' nodes and initialisers, and Mean over their outputs."""
    members = [member(p, k) for k, p in enumerate(paths)]
    first = members[0][0]
    opsets = {(o.domain, o.version) for m, _ in members for o in m.opset_import}
    nodes, inits = [], []
    for _, m in members:
        nodes += m.graph.node
        inits += m.graph.initializer
    nodes.append(helper.make_node("Mean", [f"m{k}_{OUTPUT}" for k in range(len(members))], [OUTPUT], name="ensemble_mean"))
    graph = helper.make_graph(nodes, "emotion_fer2013_ensemble", [first.graph.input[0]], [first.graph.output[0]], inits)
    opset_import = [helper.make_opsetid(d, max(v for dd, v in opsets if dd == d)) for d in {d for d, _ in opsets}]
    model = helper.make_model(graph, opset_imports=opset_import, producer_name="emotiondetect models/ensemble.py")
    model.ir_version = first.ir_version
    onnx.checker.check_model(model)
    return model


def scores(p, labels):
    pred = p.argmax(1)
    recall = {name: round(float((pred[labels == k] == k).mean()), 3) for k, name in enumerate(LABELS)}
    return round(float((pred == labels).mean()), 4), recall


def ms_per_face(session, x, batch=32, rounds=5):
    """Median over `rounds` of the ms a face of passes over the first 1024 images at `batch`."""
    x = x[:1024]
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        run_onnx(session, x, batch)
        times.append((time.perf_counter() - t) * 1000 / len(x))
    return round(float(np.median(times)), 3)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", type=Path, help="flip-averaged classifiers exported by train_fer.py")
    ap.add_argument("--data", default=str(Path(__file__).resolve().parent.parent.parent / "shared/datasets/fer2013"))
    ap.add_argument("--out", type=Path, default=Path("target/ensemble"))
    ap.add_argument("--threads", type=int, default=0, help="ONNX Runtime intra-op threads (0 = its default)")
    ap.add_argument("--limit", type=int, default=0, help="use at most this many val images per class (smoke test)")
    args = ap.parse_args()
    if len(args.models) < 2:
        sys.exit("an ensemble needs at least two models")
    for p in args.models:
        if not p.is_file():
            sys.exit(f"{p}: no such file")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "emotion_fer2013_ensemble.onnx"
    onnx.save(join(args.models), str(path))

    images, labels = load_split(Path(args.data) / "val", args.limit)
    x = normalise(torch.from_numpy(images)).numpy()
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    sessions = [ort.InferenceSession(str(p), options, providers=["CPUExecutionProvider"]) for p in args.models + [path]]
    report = {"members": []}
    outputs = []
    for p, member_session in zip(args.models, sessions):
        out = run_onnx(member_session, x)
        outputs.append(out)
        acc, recall = scores(out, labels)
        report["members"].append({"model": p.name, "val_acc": acc, "val_recall": recall})
    ensemble = sessions[-1]
    out = run_onnx(ensemble, x)
    # The graph's Mean is the mean of the members run alone.
    diff = float(np.abs(out - np.mean(outputs, axis=0)).max())
    if diff > 1e-4:
        sys.exit(f"the joined graph differs from its members' mean by {diff}")
    acc, recall = scores(out, labels)
    report.update({"val_acc": acc, "val_recall": recall, "images": len(labels), "ms_per_face_batch32": ms_per_face(ensemble, x),
                   "member_ms_per_face_batch32": [ms_per_face(m, x) for m in sessions[:-1]]})
    spec = {
        "schema": 1,
        "name": "fer2013-ensemble",
        "model": path.name,
        "comment": f"mean of {len(args.models)} flip-averaged classifiers ({', '.join(p.name for p in args.models)}), "
                   f"val accuracy {acc:.4f}; made by models/ensemble.py",
        "input": {"name": "input", "layout": "NCHW", "width": SIZE, "height": SIZE, "colour": "grey",
                  "scale": 1.0 / 255.0, "mean": [MEAN], "std": [STD]},
        "output": {"name": OUTPUT, "kind": OUTPUT},
        "labels": LABELS,
    }
    (args.out / "fer2013_ensemble.json").write_text(json.dumps(spec, indent=2) + "\n")
    (args.out / "ensemble.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
