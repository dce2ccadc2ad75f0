#!/usr/bin/env python3
"""Trains emotiondetect's own FER2013 emotion classifier and exports it to ONNX with its spec.

    python models/train_fer.py --data ../shared/datasets/fer2013 --out target/train

Data: folder-per-class FER2013 (DATA/train/<label>/*.jpg, DATA/val/<label>/*.jpg, 48x48 grey).
Only `val` (FER2013 PublicTest) is used to pick the epoch; nothing else is ever looked at.

Model: a VGG-style net with batch norm for 48x48 grey, chosen for accuracy per CPU millisecond
(models/README.md has the measurements): a full-resolution 3x3 stem, max-pool to 24x24, then four
stages of two 3x3 convs (32, 64, 128, 256 channels at 24, 12, 6, 3 px), global average pooling,
dropout and one linear layer giving 7 logits.

Training: augmentation done on whole batches (flip, rotation +-10 deg, zoom 0.9..1.1, shift +-10 %,
brightness/contrast jitter, random erasing), class-weighted cross entropy (inverse square root of
the class frequency, for disgust) with label smoothing 0.1, SGD with Nesterov momentum, linear
warm-up then cosine decay, early stopping on val accuracy. With --ema D an exponential moving
average of the weights and batch-norm statistics (decay D per step) is evaluated beside the trained
weights each epoch, and whichever is better on val is kept. The epoch is chosen on the val accuracy
of what is exported (with flip averaging unless --no-flip), after the prior correction: the class
weighting makes the net score rare classes too high by log(weight), so -log(weight) is added to the
logits (and folded into the exported linear layer's bias) unless --no-prior-correction.

Export (after training, from the best epoch): by default the graph averages the softmax of each
face and its mirror image (test-time flip averaging, one batch of 2N) and is quantized to int8 with
ONNX Runtime's static quantization, calibrated on 512 train images; int8 makes the flip averaging
cost less than one float32 pass. --no-flip and --no-int8 export the plain float32 net. `--epochs 0
--init best.pt` only exports.

Distillation: with --teacher MODEL (a flip-averaged classifier export, e.g. models/ensemble.py's
ensemble; repeat it to average several) the loss is (1 - a) x the weighted cross entropy above plus
a x T^2 x KL(teacher || student) at temperature T (Hinton et al., "Distilling the Knowledge in a
Neural Network", 2015; a = --distill-weight, T = --temperature). The teacher's probabilities are
computed once per train image with ONNX Runtime (cached in OUT/teacher_probs.npy) and serve for
every augmented copy of it; flip averaging makes them the same for the mirror image. They are
prior-corrected, so log(weight) is added back before the softmax at T: both terms then pull the
student's logits toward log p(y|x) + log(weight), which the export's prior correction undoes.
With --consistent the teacher instead runs on each augmented batch the student sees, so both see
the same picture (consistent teaching: Beyer et al., "Knowledge distillation: A good teacher is
patient and consistent", CVPR 2022); it costs the teacher's time a train image every epoch.

Resuming: after every epoch the run writes checkpoint.pt (model, optimiser, EMA, step, best epoch,
the random generators' states, the arguments and the seconds spent; float32, about 3x the net's
size). `--resume DIR` continues the run in DIR from its checkpoint with the arguments it was
started with (`--threads`, `--device` and `--stop-after` may be given again): the same batches,
augmentations and learning rates as an uninterrupted run, and train_log.jsonl goes on from the
checkpoint's epoch. `--stop-after N` ends an invocation after N epochs without exporting.

--init FILE.onnx starts from a float32 export of this recipe (see init_from_onnx); --widths sets
the four stages' channels (teachers of another width); --device cuda trains on a GPU.

Output (in --out): best.onnx (input `input` [N, 1, 48, 48] NCHW float32 = (x / 255 - 0.5) / 0.25,
output `probabilities` [N, 7], or `logits` [N, 7] with --no-flip), best.json (the model spec the
element and tools read), best.pt and last.pt (state dicts), train_log.jsonl (one line per epoch) and
training.json (seed, command, machine, time, best epoch, torch and ONNX Runtime val accuracy).
"""

import argparse
import copy
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from PIL import Image

# FER2013's own class order (the order of its emotion column and of mini-Xception's output).
LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
SIZE = 48
MEAN, STD = 0.5, 0.25
WIDTHS = (32, 64, 128, 256)
CHECKPOINT = "checkpoint.pt"


def conv_bn(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class FerNet(nn.Module):
    """[N, 1, 48, 48] normalised grey -> [N, 7] logits."""

    def __init__(self, widths=WIDTHS, classes=len(LABELS), dropout=0.3):
        super().__init__()
        layers = conv_bn(1, widths[0]) + [nn.MaxPool2d(2)]
        cin = widths[0]
        for i, w in enumerate(widths):
            if i > 0:
                layers.append(nn.MaxPool2d(2))
            layers += conv_bn(cin, w) + conv_bn(w, w)
            cin = w
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(cin, classes))

    def forward(self, x):
        return self.head(self.features(x))


def load_split(folder, limit=0):
    """Returns (uint8 [N, 48, 48], int64 [N]) for DATA/<split>/<label>/*; `limit` images per class."""
    images, labels = [], []
    for k, label in enumerate(LABELS):
        files = sorted((Path(folder) / label).glob("*"))
        if not files:
            sys.exit(f"no images in {Path(folder) / label}: expected the FER2013 folder-per-class layout")
        if limit:
            files = files[:limit]
        for f in files:
            img = Image.open(f).convert("L")
            if img.size != (SIZE, SIZE):
                img = img.resize((SIZE, SIZE), Image.BILINEAR)
            images.append(np.asarray(img, dtype=np.uint8))
            labels.append(k)
    return np.stack(images), np.asarray(labels, dtype=np.int64)


def normalise(u8):
    return (u8.float().unsqueeze(1) / 255.0 - MEAN) / STD


def augment(x, gen):
    """Batch augmentation on normalised [N, 1, H, W]: flip, affine, jitter, random erasing."""
    n = x.shape[0]
    u = lambda *shape: torch.rand(*shape, generator=gen)
    flip = u(n) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    angle = (u(n) * 2 - 1) * math.radians(10)
    scale = 1.0 / (0.9 + 0.2 * u(n))
    shift = (u(n, 2) * 2 - 1) * 0.2  # normalised coordinates: 0.2 = 10 % of the width
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, x.shape, align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    x = x * (0.8 + 0.4 * u(n, 1, 1, 1)) + (u(n, 1, 1, 1) - 0.5) * 0.4
    return random_erase(x, gen)


def random_erase(x, gen, p=0.5):
    n, _, h, w = x.shape
    u = lambda *shape: torch.rand(*shape, generator=gen)
    area = (0.02 + 0.13 * u(n)) * h * w
    aspect = torch.exp((u(n) * 2 - 1) * math.log(3.0))
    eh = (area * aspect).sqrt().clamp(1, h)
    ew = (area / aspect).sqrt().clamp(1, w)
    y0 = u(n) * (h - eh)
    x0 = u(n) * (w - ew)
    ys = torch.arange(h).view(1, h, 1)
    xs = torch.arange(w).view(1, 1, w)
    inside = (ys >= y0.view(n, 1, 1)) & (ys < (y0 + eh).view(n, 1, 1)) & (xs >= x0.view(n, 1, 1)) & (xs < (x0 + ew).view(n, 1, 1))
    inside &= (u(n) < p).view(n, 1, 1)
    return x.masked_fill(inside.unsqueeze(1), 0.0)


@torch.no_grad()
def evaluate(model, images, labels, shift, batch=512):
    """Val accuracy, per-class recall and accuracy with flip averaging, of the logits plus `shift`
    (the prior correction that export folds into the net)."""
    model.eval()
    device = next(model.parameters()).device
    plain, flipped = [], []
    for i in range(0, len(images), batch):
        x = normalise(images[i : i + batch]).to(device, memory_format=torch.channels_last)
        plain.append((model(x) + shift).softmax(1).cpu())
        flipped.append((model(x.flip(3)) + shift).softmax(1).cpu())
    p, pf = torch.cat(plain), torch.cat(flipped)
    pred, pred_tta = p.argmax(1), (p + pf).argmax(1)
    recall = [float((pred[labels == k] == k).float().mean()) for k in range(len(LABELS))]
    return float((pred == labels).float().mean()), float((pred_tta == labels).float().mean()), recall


def lr_at(step, total, warmup, peak):
    if step < warmup:
        return peak * (step + 1) / warmup
    return 0.5 * peak * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


class FlipAveraged(nn.Module):
    """[N, 1, 48, 48] -> [N, 7] probabilities: the mean of the softmax of each face and its mirror
    image, run as one batch of 2N inside the exported graph."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        p = self.net(torch.cat([x, x.flip(3)])).softmax(1)
        return p.view(2, -1, p.shape[1]).mean(0)


def calibration_batches(images, count, seed, batch=32):
    """`count` train images picked with `seed`, normalised, in batches: the int8 calibration data."""
    pick = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:count]
    x = normalise(images[pick]).numpy()
    return [x[i : i + batch] for i in range(0, len(x), batch)]


def quantize(fp32_path, int8_path, calibration):
    """Static int8 quantization with ONNX Runtime (QDQ, per-channel int8 weights, uint8 activations,
    min/max calibration) of the features, up to the global average pool: about 2.2x faster per
    face on AVX-512 VNNI CPUs. The linear layer, the softmax and the flip averaging stay float32,
    so the probabilities are not rounded to 1/255 steps (which would sum to 1 only roughly and
    make ties). Weights use 7 bits (reduce_range): with 8, CPUs without VNNI saturate uint8 x int8
    sums in int16 (59.3 % instead of 68.6 % on FER2013 val on an AVX2 CPU; models/reduce_range.py)."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter(calibration)

        def get_next(self):
            x = next(self.batches, None)
            return None if x is None else {"input": x}

    pre = fp32_path.with_suffix(".pre.onnx")
    quant_pre_process(str(fp32_path), str(pre))
    nodes = onnx.load(str(pre)).graph.node  # topologically sorted
    head = next(i for i, n in enumerate(nodes) if n.op_type == "Gemm")
    quantize_static(str(pre), str(int8_path), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, reduce_range=True,
                    nodes_to_exclude=[n.name for n in nodes[head:]])
    pre.unlink()


def run_onnx(session, x, batch=256):
    """The first output of ONNX Runtime `session` for normalised `x` ([N, 1, 48, 48] float32
    numpy), run in batches."""
    return np.concatenate([session.run(None, {"input": x[i : i + batch]})[0] for i in range(0, len(x), batch)])


def onnx_accuracy(path, images, labels, batch=256):
    """Val accuracy of an exported model run by ONNX Runtime (what the element will see)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = normalise(images).numpy()
    out = run_onnx(session, x, batch)
    return float((out.argmax(1) == labels.numpy()).mean())


def prior_shift(weights, on):
    """[7] logit shift that undoes the class weighting of the loss. Cross entropy weighted by w_y is
    minimised by logits log p(y|x) + log w_y + c, which favours the rare classes; adding -log w_y
    gives back log p(y|x), whose argmax is the most likely class (post-hoc logit adjustment, Menon
    et al., "Long-tail learning via logit adjustment", ICLR 2021, with the weights as the prior)."""
    return -weights.log() if on else torch.zeros_like(weights)


def export(model, out, args, epoch, acc, shift, xtr, xva, yva):
    """Writes best.onnx and best.json from the trained net, with `shift` folded into the linear
    layer's bias (free at inference): with flip averaging inside the graph (--flip, output
    `probabilities`) or not (output `logits`), int8 (--int8) or float32. Returns the exported
    model's val accuracy as ONNX Runtime computes it. The caller's model is left as it is."""
    model = copy.deepcopy(model).cpu().eval()
    with torch.no_grad():
        model.head[-1].bias += shift.cpu()
    net, output = (FlipAveraged(model), "probabilities") if args.flip else (model, "logits")
    fp32 = out / "best-fp32.onnx"
    torch.onnx.export(net, torch.zeros(1, 1, SIZE, SIZE), fp32, input_names=["input"], output_names=[output],
                      dynamic_axes={"input": {0: "N"}, output: {0: "N"}}, opset_version=17, dynamo=False)
    onnx_path = out / "best.onnx"
    if args.int8:
        quantize(fp32, onnx_path, calibration_batches(xtr, args.calibration_images, args.seed))
        fp32.unlink()
    else:
        fp32.replace(onnx_path)
    variant = ", ".join(v for v, on in (("flip-averaged", args.flip), ("int8", args.int8)) if on) or "float32"
    spec = {
        "schema": 1,
        "name": "fer2013-vggbn",
        "model": "emotion_fer2013_vggbn.onnx",
        "comment": f"trained by models/train_fer.py, epoch {epoch}, val accuracy {acc:.4f} in torch; exported {variant}",
        "input": {"name": "input", "layout": "NCHW", "width": SIZE, "height": SIZE, "colour": "grey",
                  "scale": 1.0 / 255.0, "mean": [MEAN], "std": [STD]},
        "output": {"name": output, "kind": output},
        "labels": LABELS,
    }
    (out / "best.json").write_text(json.dumps(spec, indent=2) + "\n")
    return onnx_accuracy(onnx_path, xva, yva)


def teacher_probs(paths, images, out, batch=256):
    """[N, 7] float32: the mean probabilities of the classifiers at `paths` for each train image,
    computed with ONNX Runtime, or read from out/teacher_probs.npy when it was made for the same
    files and images (a resumed run)."""
    import hashlib

    key = hashlib.sha256(b"".join(Path(p).read_bytes() for p in paths) + images.numpy().tobytes()).hexdigest()
    cache, cache_key = out / "teacher_probs.npy", out / "teacher_probs.sha256"
    if cache.exists() and cache_key.exists() and cache_key.read_text() == key:
        return np.load(cache)
    x = normalise(images).numpy()
    probs = sum(run_onnx(session, x, batch) for session in teacher_sessions(paths)) / len(paths)
    np.save(cache, probs)
    cache_key.write_text(key)
    print(f"teacher probabilities of {len(x)} train images from {', '.join(map(str, paths))}", flush=True)
    return probs


@torch.no_grad()
def init_from_onnx(model, path, shift, images, count=4096):
    """Loads a float32 export of this recipe (flip-averaged or not) into `model`, whose widths
    must be the export's. The export folded each batch norm into its convolution (weight and
    bias) and `shift` (the prior correction) into the linear layer's bias. The convolutions get
    the folded weights; each batch norm gets the mean and variance of its convolution's output
    over `count` train images as running statistics, and the scale and offset that give back the
    folded bias, so the net computes what the file does in eval mode and, batch statistics being
    close to these, in training too. Checked against ONNX Runtime on those images."""
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    graph = onnx.load(path).graph
    tensors = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    gemm = next((n for n in graph.node if n.op_type == "Gemm"), None)
    layers = [m for m in model.features if isinstance(m, nn.Conv2d)]
    norms = [m for m in model.features if isinstance(m, nn.BatchNorm2d)]
    shapes = [tuple(tensors[n.input[1]].shape) for n in convs]
    if gemm is None or shapes != [tuple(c.weight.shape) for c in layers]:
        sys.exit(f"--init {path}: its convolutions {shapes} are not this net's (--widths {','.join(str(n.num_features) for n in norms[1::2])})")
    model.eval()
    for conv, bn, node in zip(layers, norms, convs):
        conv.weight.copy_(torch.from_numpy(tensors[node.input[1]]))
        bn.weight.fill_(1.0), bn.running_mean.zero_(), bn.running_var.fill_(1.0 - bn.eps)
        bn.bias.copy_(torch.from_numpy(tensors[node.input[2]]))
    model.head[-1].weight.copy_(torch.from_numpy(tensors[gemm.input[1]]))
    model.head[-1].bias.copy_(torch.from_numpy(tensors[gemm.input[2]]) - shift)
    pick = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))[:count]
    x = normalise(images[pick])
    outputs = {}
    hooks = [c.register_forward_hook(lambda m, i, o: outputs.__setitem__(m, o)) for c in layers]
    model(x)
    for h in hooks:
        h.remove()
    for conv, bn in zip(layers, norms):
        mean, var = outputs[conv].mean((0, 2, 3)), outputs[conv].var((0, 2, 3), unbiased=False)
        bn.running_mean.copy_(mean), bn.running_var.copy_(var)
        bias = bn.bias.clone()
        bn.weight.copy_((var + bn.eps).sqrt()), bn.bias.copy_(mean + bias)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    theirs = torch.from_numpy(session.run(None, {"input": x.numpy()})[0])
    ours = model(x) + shift
    if graph.output[0].name == "probabilities":
        ours = (ours.softmax(1) + (model(x.flip(3)) + shift).softmax(1)) / 2
    diff = float((ours - theirs).abs().max())
    if diff > 1e-3:
        sys.exit(f"--init {path}: the rebuilt net differs from the file by {diff}")
    print(f"rebuilt from {path}: largest difference from ONNX Runtime {diff:.2e} on {len(x)} train images", flush=True)


def pick_device(name):
    """`cuda` fails when torch sees no GPU rather than training for hours on the CPU."""
    if name == "cuda" and not torch.cuda.is_available():
        sys.exit(f"--device cuda: torch {torch.__version__} sees no CUDA GPU (torch.cuda.is_available() is False)")
    return "cuda" if name == "cuda" or (name == "auto" and torch.cuda.is_available()) else "cpu"


def widths_arg(text):
    """`--widths 48,96,192,384`: four positive channel counts."""
    try:
        widths = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: four comma-separated integers expected")
    if len(widths) != 4 or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: four positive channel counts expected")
    return widths


def teacher_sessions(paths):
    """ONNX Runtime sessions of the --teacher files, each checked to give `probabilities`."""
    import onnxruntime as ort

    sessions = [ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]) for p in paths]
    for p, session in zip(paths, sessions):
        if [o.name for o in session.get_outputs()] != ["probabilities"]:
            sys.exit(f"--teacher {p}: expected one output 'probabilities' (a flip-averaged export)")
    return sessions


def soft_targets(probs, weights, temperature):
    """The teacher's [N, 7] prior-corrected probabilities back in the weighted loss's logit space
    (see the docstring), as a softmax at `temperature`."""
    return ((probs.clamp(min=1e-8).log() + weights.log()) / temperature).softmax(1)


def load_checkpoint(folder):
    path = folder / CHECKPOINT
    if not path.is_file():
        sys.exit(f"--resume {folder}: no {CHECKPOINT} there (runs write one after each epoch)")
    return torch.load(path, map_location="cpu", weights_only=False)


def resumed_args(saved, given, defaults):
    """The checkpoint's arguments, but for --threads and --device (a run may go on on another
    machine, e.g. a lent GPU), --stop-after and --resume itself; its --out is the folder resumed.
    Options added to the script since the run started take their `defaults`."""
    args = argparse.Namespace(**{**defaults, **saved})
    args.threads, args.device, args.stop_after = given.threads, given.device, given.stop_after
    args.resume, args.out = given.resume, given.resume
    args.widths = tuple(args.widths)
    return args


def save_checkpoint(out, state, model, opt, ema, gen):
    """Writes out/checkpoint.pt atomically (a stop while writing keeps the previous one)."""
    state = dict(state, model=model.state_dict(), optimiser=opt.state_dict(), ema=None if ema is None else ema.state_dict(),
                 generator=gen.get_state(), torch_rng=torch.get_rng_state(), numpy_rng=np.random.get_state())
    tmp = out / (CHECKPOINT + ".tmp")
    torch.save(state, tmp)
    tmp.replace(out / CHECKPOINT)


def restore(state, model, opt, ema, gen):
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimiser"])
    if ema is not None:
        ema.load_state_dict(state["ema"])
    gen.set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
    np.random.set_state(state["numpy_rng"])


def open_log(path, epochs_kept):
    """train_log.jsonl for appending, keeping its first `epochs_kept` lines (a run stopped after
    writing an epoch's line but before its checkpoint repeats that epoch)."""
    lines = path.read_text().splitlines(keepends=True)[:epochs_kept] if epochs_kept and path.exists() else []
    log = open(path, "w")
    log.writelines(lines)
    log.flush()
    return log


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parent.parent.parent / "shared/datasets/fer2013"))
    ap.add_argument("--out", default="target/train")
    ap.add_argument("--epochs", type=int, default=45)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--weight-decay", type=float, default=5e-4)
    ap.add_argument("--label-smoothing", type=float, default=0.1)
    ap.add_argument("--warmup-epochs", type=float, default=2)
    ap.add_argument("--patience", type=int, default=10, help="stop after this many epochs without a better val accuracy")
    ap.add_argument("--seed", type=int, default=20261122)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    ap.add_argument("--limit", type=int, default=0, help="use at most this many images per class (smoke test)")
    ap.add_argument("--init", help="start from this state dict (best.pt of an earlier run) instead of random weights")
    ap.add_argument("--flip", action=argparse.BooleanOptionalAction, default=True, help="export with test-time flip averaging inside the graph")
    ap.add_argument("--int8", action=argparse.BooleanOptionalAction, default=True, help="export int8 (ONNX Runtime static quantization)")
    ap.add_argument("--calibration-images", type=int, default=512, help="train images used to calibrate the int8 ranges")
    ap.add_argument("--prior-correction", action=argparse.BooleanOptionalAction, default=True,
                    help="undo the class weighting's shift of the logits when choosing the epoch and in the export")
    ap.add_argument("--ema", type=float, default=0.0, help="also keep an exponential moving average of the weights, decay per step (0 = off)")
    ap.add_argument("--teacher", action="append", default=[], metavar="MODEL",
                    help="distil from this flip-averaged classifier's probabilities (repeat to average several)")
    ap.add_argument("--distill-weight", type=float, default=0.8, help="weight of the distillation term (with --teacher)")
    ap.add_argument("--consistent", action="store_true",
                    help="run the teacher on each augmented batch instead of once per train image (with --teacher)")
    ap.add_argument("--temperature", type=float, default=2.0, help="softmax temperature of the distillation term")
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="where to train (auto: cuda when torch sees a GPU)")
    ap.add_argument("--widths", type=widths_arg, default=WIDTHS, help="channels of the four stages, e.g. 48,96,192,384")
    ap.add_argument("--resume", metavar="DIR", help="continue the run in DIR from its checkpoint.pt, with that run's arguments")
    ap.add_argument("--stop-after", type=int, default=0, metavar="N",
                    help="stop after N epochs of this invocation, without exporting (to --resume later; 0 = run to the end)")
    args = ap.parse_args()
    resume = load_checkpoint(Path(args.resume)) if args.resume else None
    if resume is not None:
        args = resumed_args(resume["args"], args, vars(ap.parse_args([])))
    if args.consistent and not args.teacher:
        ap.error("--consistent needs at least one --teacher (the nets whose probabilities the student learns)")

    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()

    data = Path(args.data)
    xtr, ytr = load_split(data / "train", args.limit)
    xva, yva = load_split(data / "val", args.limit)
    xtr, ytr, xva, yva = map(torch.from_numpy, (xtr, ytr, xva, yva))
    print(f"train {len(xtr)} images, val {len(xva)}, device {device}, threads {torch.get_num_threads()}", flush=True)

    counts = torch.bincount(ytr, minlength=len(LABELS)).float().clamp(min=1)
    weights = (counts.sum() / counts).sqrt()
    weights = weights / (weights * counts).sum() * counts.sum()  # mean weight per sample = 1
    model = FerNet(tuple(args.widths)).to(device, memory_format=torch.channels_last)
    if args.init and resume is None:
        if args.init.endswith(".onnx"):
            init_from_onnx(model, args.init, prior_shift(weights, args.prior_correction), xtr)
        else:
            model.load_state_dict(torch.load(args.init, map_location="cpu"))
        print(f"initialised from {args.init}", flush=True)
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0}],
                          lr=args.lr, momentum=0.9, nesterov=True)
    ema = None
    if args.ema:
        ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(args.ema), use_buffers=True)
    loss_fn = nn.CrossEntropyLoss(weight=weights.to(device), label_smoothing=args.label_smoothing)
    shift = prior_shift(weights, args.prior_correction).to(device)
    soft, online = None, None
    if args.teacher and args.consistent:
        online = teacher_sessions(args.teacher)
    elif args.teacher:
        soft = soft_targets(torch.from_numpy(teacher_probs(args.teacher, xtr, out)), weights, args.temperature)

    steps_per_epoch = math.ceil(len(xtr) / args.batch)
    total, warmup = args.epochs * steps_per_epoch, int(args.warmup_epochs * steps_per_epoch)
    best, step, first, spent = (-1.0, 0), 0, 1, 0.0
    command = " ".join([Path(sys.executable).name] + sys.argv)
    commands = [command]
    if resume is not None:
        restore(resume, model, opt, ema, gen)
        best, step, first, spent = tuple(resume["best"]), resume["step"], resume["epoch"] + 1, resume["seconds"]
        commands = resume["commands"] + [command]
        print(f"resumed {out} after epoch {resume['epoch']} (best {best[0]:.4f} at epoch {best[1]})", flush=True)
    log = open_log(out / "train_log.jsonl", first - 1)
    for epoch in range(first, args.epochs + 1):
        model.train()
        t0 = time.time()
        order = torch.randperm(len(xtr), generator=gen)
        seen, loss_sum = 0, 0.0
        for i in range(0, len(order), args.batch):
            idx = order[i : i + args.batch]
            # Augmented on the CPU (one random stream for any device), trained where the model is.
            x = augment(normalise(xtr[idx]), gen).to(device, memory_format=torch.channels_last)
            for g in opt.param_groups:
                g["lr"] = lr_at(step, total, warmup, args.lr)
            logits = model(x)
            loss = loss_fn(logits, ytr[idx].to(device))
            target = soft[idx] if soft is not None else None
            if online is not None:
                probs = sum(run_onnx(t, x.cpu().contiguous().numpy()) for t in online) / len(online)
                target = soft_targets(torch.from_numpy(probs), weights, args.temperature)
            if target is not None:
                kl = F.kl_div((logits / args.temperature).log_softmax(1), target.to(device), reduction="batchmean")
                loss = (1 - args.distill_weight) * loss + args.distill_weight * args.temperature**2 * kl
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if ema is not None:
                ema.update_parameters(model)
            step += 1
            seen += len(idx)
            loss_sum += loss.item() * len(idx)
        acc, acc_tta, recall = evaluate(model, xva, yva, shift)
        line = {"epoch": epoch, "loss": round(loss_sum / seen, 4), "val_acc": round(acc, 4), "val_acc_flip": round(acc_tta, 4),
                "val_recall": dict(zip(LABELS, (round(r, 3) for r in recall)))}
        # Epochs (and the EMA) are chosen on the accuracy of what will be exported.
        candidate, acc = model, (acc_tta if args.flip else acc)
        if ema is not None:
            ema_acc, ema_tta, ema_recall = evaluate(ema.module, xva, yva, shift)
            line.update({"ema_val_acc": round(ema_acc, 4), "ema_val_acc_flip": round(ema_tta, 4),
                         "ema_val_recall": dict(zip(LABELS, (round(r, 3) for r in ema_recall)))})
            ema_score = ema_tta if args.flip else ema_acc
            if ema_score > acc:
                candidate, acc = ema.module, ema_score
        line["seconds"] = round(time.time() - t0, 1)
        print(json.dumps(line), flush=True)
        log.write(json.dumps(line) + "\n")
        log.flush()
        torch.save(model.state_dict(), out / "last.pt")  # to restart from with --init
        if acc > best[0]:
            best = (acc, epoch)
            torch.save(candidate.state_dict(), out / "best.pt")
        save_checkpoint(out, {"epoch": epoch, "step": step, "best": list(best), "seconds": spent + time.time() - started,
                              "args": vars(args), "commands": commands}, model, opt, ema, gen)
        if args.stop_after and epoch - first + 1 >= args.stop_after and epoch < args.epochs:
            print(f"stopped after epoch {epoch} (--stop-after {args.stop_after}): continue with --resume {out}", flush=True)
            return
        if epoch - best[1] >= args.patience:
            print(f"early stop: no better val accuracy since epoch {best[1]}", flush=True)
            break

    if args.epochs == 0:  # export only: the --init weights as they are
        plain, flipped, _ = evaluate(model, xva, yva, shift)
        best = (flipped if args.flip else plain, 0)
        torch.save(model.state_dict(), out / "best.pt")
    model.load_state_dict(torch.load(out / "best.pt", map_location="cpu"))
    exported = export(model, out, args, best[1], best[0], shift, xtr, xva, yva)
    print(f"exported best.onnx: val accuracy {exported:.4f} in ONNX Runtime", flush=True)

    summary = {
        "best_epoch": best[1], "best_val_acc": round(best[0], 4), "exported_val_acc": round(exported, 4),
        "exported": {"flip_averaged": args.flip, "int8": args.int8, "logit_shift": [round(float(v), 4) for v in shift]},
        "seed": args.seed,
        "command": commands[0], "resumed": commands[1:], "args": vars(args),
        "seconds": round(spent + time.time() - started), "device": device, "threads": torch.get_num_threads(),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores", "torch": torch.__version__,
    }
    (out / "training.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
