#!/usr/bin/env python3
"""Joins emotion classifiers into one ONNX ensemble and measures it on FER2013 val.

    python models/ensemble.py --out target/ensemble MODEL.onnx MODEL.onnx [...]

Each MODEL is a classifier that train_fer.py exported with flip averaging (`input` [N, 1, 48, 48]
NCHW float32 grey, (x / 255 - 0.5) / 0.25; output `probabilities` [N, 7] in FER2013 order), float32
(`--no-int8`) for the ensemble's accuracy. The ensemble is one graph: every member reads the same
`input`, and `probabilities` is the mean of the members' probabilities (ONNX `Mean`), so the
element and the tools run it as any other classifier. With --tta (the default) the graph also
averages over test-time views of each face: the face itself, shifted 2 pixels left, right, up and
down, and zoomed by 1.08 and 0.93 (ONNX `GridSample`, bilinear, border pixels repeated: the
shifts and zooms that train_fer.py's augmentation draws), 7x the work for about +0.7 point.

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
import torch.nn.functional as F
import onnxruntime as ort
from onnx import compose, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_fer import LABELS, MEAN, SIZE, STD, load_split, normalise, run_onnx  # noqa: E402

OUTPUT = "probabilities"
# Test-time views: (dx, dy) shift in pixels of the 48x48 face, zoom factor.
VIEWS = [(0, 0, 1.0), (-2, 0, 1.0), (2, 0, 1.0), (0, -2, 1.0), (0, 2, 1.0), (0, 0, 1.08), (0, 0, 0.93)]


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


def view_grids(views):
    """[V, 48, 48, 2] float32 sampling grids of `views`, in GridSample's normalised -1..1 (x, y)
    coordinates (align_corners=0): output pixel (i, j) of view v reads the face at grid[v, i, j]."""
    theta = torch.tensor([[[1 / s, 0, -2 * dx / SIZE], [0, 1 / s, -2 * dy / SIZE]] for dx, dy, s in views])
    return F.affine_grid(theta, [len(views), 1, SIZE, SIZE], align_corners=False)


def warp(x, grids):
    """[V * N, 1, 48, 48]: the V views of the N faces `x` (normalised, [N, 1, 48, 48] torch), view-major."""
    n = x.shape[0]
    grid = grids[:, None].expand(-1, n, -1, -1, -1).reshape(-1, SIZE, SIZE, 2)
    return F.grid_sample(x.repeat(len(grids), 1, 1, 1), grid, mode="bilinear", padding_mode="border", align_corners=False)


def with_views(model, views):
    """`model` ([N, 1, 48, 48] -> [N, 7]) wrapped so that it runs on every view of each face
    ([V * N, 1, 48, 48], made by GridSample from constant grids) and returns the mean over views.
    The nodes of `model` are renamed in place."""
    v = len(views)
    grids = view_grids(views).unsqueeze(1).numpy()  # [V, 1, 48, 48, 2], broadcast over N
    inner = model.graph
    for node in inner.node:
        node.input[:] = ["tta_views" if n == "input" else n for n in node.input]
        node.output[:] = ["tta_probabilities" if n == OUTPUT else n for n in node.output]
    const = lambda name, a: numpy_helper.from_array(np.asarray(a), name)
    inits = [const("tta_grids", grids), const("tta_v", np.array([v], np.int64)),
             const("tta_grid_tail", np.array([SIZE, SIZE, 2], np.int64)),
             const("tta_grid_shape", np.array([-1, SIZE, SIZE, 2], np.int64)),
             const("tta_out_shape", np.array([v, -1, len(LABELS)], np.int64))]
    opset = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    if opset < 16:
        sys.exit(f"test-time views need ONNX opset >= 16 (GridSample); the members use {opset}: use --no-tta")
    if opset < 18:  # ReduceMean's axes became an input in opset 18
        mean = helper.make_node("ReduceMean", ["tta_stacked"], [OUTPUT], axes=[0], keepdims=0)
    else:
        mean = helper.make_node("ReduceMean", ["tta_stacked", "tta_axis0"], [OUTPUT], keepdims=0)
        inits.append(const("tta_axis0", np.array([0], np.int64)))
    head = [
        helper.make_node("Shape", ["input"], ["tta_n"], start=0, end=1),
        helper.make_node("Concat", ["tta_v", "tta_n", "tta_grid_tail"], ["tta_expand_shape"], axis=0),
        helper.make_node("Expand", ["tta_grids", "tta_expand_shape"], ["tta_grids_vn"]),
        helper.make_node("Reshape", ["tta_grids_vn", "tta_grid_shape"], ["tta_grid"]),
        helper.make_node("Concat", ["input"] * v, ["tta_tiled"], axis=0),
        helper.make_node("GridSample", ["tta_tiled", "tta_grid"], ["tta_views"], align_corners=0,
                         mode="bilinear", padding_mode="border"),
    ]
    tail = [helper.make_node("Reshape", ["tta_probabilities", "tta_out_shape"], ["tta_stacked"]), mean]
    graph = helper.make_graph(head + list(inner.node) + tail, inner.name, list(inner.input), list(inner.output),
                              list(inner.initializer) + inits)
    wrapped = helper.make_model(graph, opset_imports=list(model.opset_import), producer_name=model.producer_name)
    wrapped.ir_version = model.ir_version
    onnx.checker.check_model(wrapped)
    return wrapped


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
    ap.add_argument("--tta", action=argparse.BooleanOptionalAction, default=True,
                    help=f"also average over {len(VIEWS)} shifted and zoomed views of each face inside the graph")
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
    views = VIEWS if args.tta else VIEWS[:1]
    joined = join(args.models)
    onnx.save(with_views(joined, views) if args.tta else joined, str(path))

    images, labels = load_split(Path(args.data) / "val", args.limit)
    x = normalise(torch.from_numpy(images))
    xn = x.numpy()
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    sessions = [ort.InferenceSession(str(p), options, providers=["CPUExecutionProvider"]) for p in args.models + [path]]
    # [members, views, N, 7]: each member on each view, run alone.
    seen = warp(x, view_grids(views)).numpy() if args.tta else xn
    alone = np.stack([run_onnx(s, seen).reshape(len(views), len(x), -1) for s in sessions[:-1]])
    report = {"members": [], "views": [list(v) for v in views]}
    for p, out in zip(args.models, alone):
        acc, recall = scores(out[0], labels)
        report["members"].append({"model": str(p), "val_acc": acc, "val_recall": recall})
        if args.tta:
            report["members"][-1]["val_acc_views"] = scores(out.mean(0), labels)[0]
    if args.tta:
        report["val_acc_without_views"] = scores(alone[:, 0].mean(0), labels)[0]
    ensemble = sessions[-1]
    out = run_onnx(ensemble, xn)
    # The graph's output is the mean of the members run alone on the views.
    diff = float(np.abs(out - alone.mean((0, 1))).max())
    if diff > 1e-4:
        sys.exit(f"the joined graph differs from its members' mean by {diff}")
    acc, recall = scores(out, labels)
    report.update({"val_acc": acc, "val_recall": recall, "images": len(labels), "ms_per_face_batch32": ms_per_face(ensemble, xn),
                   "member_ms_per_face_batch32": [ms_per_face(m, xn) for m in sessions[:-1]]})
    described = f"the mean over {len(views)} views of each face of " if args.tta else "mean of "
    names = [p.name if [q.name for q in args.models].count(p.name) == 1 else f"{p.parent.name}/{p.name}" for p in args.models]
    spec = {
        "schema": 1,
        "name": "fer2013_ensemble",
        "model": path.name,
        "comment": f"{described}{len(args.models)} flip-averaged classifiers ({', '.join(names)}), "
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
