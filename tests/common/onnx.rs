// SPDX-License-Identifier: MIT
//! Small adversarial ONNX models, written as protobuf here (no Python `onnx` package needed):
//! a YuNet-shaped detector and a classifier whose outputs are NaN or infinite, for the tests of
//! what the element does with non-finite model outputs. ONNX Runtime loads and runs them as any
//! model; only their values are hostile.

#![allow(dead_code)]

use std::path::Path;

/// Protobuf encoding, the few wire types ONNX uses.
#[derive(Default)]
struct Msg(Vec<u8>);

impl Msg {
    fn varint(&mut self, mut v: u64) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.0.push(b);
                return;
            }
            self.0.push(b | 0x80);
        }
    }
    fn key(&mut self, field: u64, wire: u64) {
        self.varint(field << 3 | wire);
    }
    fn int(mut self, field: u64, v: i64) -> Msg {
        self.key(field, 0);
        self.varint(v as u64);
        self
    }
    fn bytes(mut self, field: u64, b: &[u8]) -> Msg {
        self.key(field, 2);
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
        self
    }
    fn str(self, field: u64, s: &str) -> Msg {
        self.bytes(field, s.as_bytes())
    }
    fn msg(self, field: u64, m: Msg) -> Msg {
        self.bytes(field, &m.0)
    }
}

enum Attr<'a> {
    Int(&'a str, i64),
    Ints(&'a str, &'a [i64]),
}

fn node(op: &str, inputs: &[&str], output: &str, attrs: &[Attr]) -> Msg {
    let mut n = Msg::default();
    for i in inputs {
        n = n.str(1, i);
    }
    n = n.str(2, output).str(3, output).str(4, op);
    for a in attrs {
        let m = match a {
            Attr::Int(name, v) => Msg::default().str(1, name).int(3, *v).int(20, 2),
            Attr::Ints(name, vs) => vs.iter().fold(Msg::default().str(1, name), |m, v| m.int(8, *v)).int(20, 7),
        };
        n = n.msg(5, m);
    }
    n
}

/// A float tensor (`dims`, row-major `values`) or, with `int64`, an int64 one.
fn tensor(name: &str, dims: &[i64], floats: &[f32], int64: &[i64]) -> Msg {
    let t = dims.iter().fold(Msg::default(), |m, d| m.int(1, *d));
    if int64.is_empty() {
        let raw: Vec<u8> = floats.iter().flat_map(|f| f.to_le_bytes()).collect();
        t.int(2, 1).str(8, name).bytes(9, &raw)
    } else {
        let raw: Vec<u8> = int64.iter().flat_map(|f| f.to_le_bytes()).collect();
        t.int(2, 7).str(8, name).bytes(9, &raw)
    }
}

/// A float value with dimensions given as numbers or, for text, symbolic names.
fn value_info(name: &str, dims: &[&str]) -> Msg {
    let shape = dims.iter().fold(Msg::default(), |m, d| {
        let dim = match d.parse::<i64>() {
            Ok(v) => Msg::default().int(1, v),
            Err(_) => Msg::default().str(2, d),
        };
        m.msg(1, dim)
    });
    let tensor_type = Msg::default().int(1, 1).msg(2, shape);
    Msg::default().str(1, name).msg(2, Msg::default().msg(1, tensor_type))
}

fn model(nodes: Vec<Msg>, initializers: Vec<Msg>, inputs: Vec<Msg>, outputs: Vec<Msg>) -> Vec<u8> {
    let mut g = Msg::default();
    for n in nodes {
        g = g.msg(1, n);
    }
    g = g.str(2, "adversarial");
    for t in initializers {
        g = g.msg(5, t);
    }
    for i in inputs {
        g = g.msg(11, i);
    }
    for o in outputs {
        g = g.msg(12, o);
    }
    let opset = Msg::default().str(1, "").int(2, 13);
    Msg::default().int(1, 8).str(2, "emotiondetect-tests").msg(8, opset).msg(7, g).0
}

/// A detector with YuNet's input and outputs (`cls_S`, `obj_S`, `bbox_S`, `kps_S` for strides 8,
/// 16, 32, one row per grid cell) whose class scores are all `score` (e.g. NaN), objectness 1,
/// boxes and landmarks 0 (a box one stride wide on each cell).
pub fn yunet_like(path: &Path, score: f32) {
    let mut nodes = Vec::new();
    let mut outputs = Vec::new();
    let initializers = vec![
        tensor("zero", &[], &[0.0], &[]),
        tensor("one", &[], &[1.0], &[]),
        tensor("score", &[], &[score], &[]),
        tensor("rows", &[3], &[], &[1, -1, 1]),
    ];
    for s in [8i64, 16, 32] {
        let n = |k: &str| format!("{k}{s}");
        nodes.push(node("AveragePool", &["input"], &n("pool"), &[Attr::Ints("kernel_shape", &[s, s]), Attr::Ints("strides", &[s, s])]));
        nodes.push(node("ReduceMean", &[&n("pool")], &n("grey"), &[Attr::Ints("axes", &[1]), Attr::Int("keepdims", 1)]));
        nodes.push(node("Reshape", &[&n("grey"), "rows"], &n("cells"), &[]));
        nodes.push(node("Mul", &[&n("cells"), "zero"], &n("zeros"), &[]));
        nodes.push(node("Add", &[&n("zeros"), "score"], &format!("cls_{s}"), &[]));
        nodes.push(node("Add", &[&n("zeros"), "one"], &format!("obj_{s}"), &[]));
        let zeros = n("zeros");
        let z = zeros.as_str();
        nodes.push(node("Concat", &[z; 4], &format!("bbox_{s}"), &[Attr::Int("axis", 2)]));
        nodes.push(node("Concat", &[z; 10], &format!("kps_{s}"), &[Attr::Int("axis", 2)]));
        for (k, c) in [("cls", "1"), ("obj", "1"), ("bbox", "4"), ("kps", "10")] {
            outputs.push(value_info(&format!("{k}_{s}"), &["1", "cells", c]));
        }
    }
    let inputs = vec![value_info("input", &["1", "3", "height", "width"])];
    std::fs::write(path, model(nodes, initializers, inputs, outputs)).expect("writing the adversarial detector");
}

/// A classifier of 48x48 grey NCHW faces (as `spec_json` describes, written beside it as
/// `<stem>.json`) whose 7 logits are `logits` for every face.
pub fn classifier_like(path: &Path, logits: [f32; 7]) {
    let nodes = vec![
        node("ReduceMean", &["input"], "mean", &[Attr::Ints("axes", &[2, 3]), Attr::Int("keepdims", 0)]),
        node("Mul", &["mean", "zero"], "zeros", &[]),
        node("Add", &["zeros", "logits"], "output", &[]),
    ];
    let initializers = vec![tensor("zero", &[], &[0.0], &[]), tensor("logits", &[1, 7], &logits, &[])];
    let inputs = vec![value_info("input", &["N", "1", "48", "48"])];
    let outputs = vec![value_info("output", &["N", "7"])];
    std::fs::write(path, model(nodes, initializers, inputs, outputs)).expect("writing the adversarial classifier");
    std::fs::write(path.with_extension("json"), spec_json()).expect("writing its spec");
}

/// The spec of [`classifier_like`]'s models.
pub fn spec_json() -> &'static str {
    r#"{"name":"adversarial","input":{"layout":"NCHW","width":48,"height":48,"colour":"grey","scale":0.00392156862745098,"mean":[0.5],"std":[0.25]},
"output":{"kind":"logits"},"labels":["angry","disgust","fear","happy","sad","surprise","neutral"]}"#
}
