// SPDX-License-Identifier: MIT
//! Classifier evaluation on a folder-per-class dataset: matching dataset classes to model labels,
//! the confusion matrix, per-class precision, recall and F1, macro-F1, and the confusion matrix
//! drawn as a PNG. The images are run by `emotiondetect-eval` (src/bin) through the element's
//! own pre-processing and [`emotiondetect_core::inference::EmotionClassifier`].

use plotters::prelude::*;

use crate::report::{encode_png, register_font, FONT};
use emotiondetect_core::classification::canonical_emotion;

/// For each dataset class (a folder name), the index of the model label with the same common
/// name ([`canonical_emotion`]: happy = happiness, angry = anger, ...), or an exact
/// case-insensitive match for names outside the emotion vocabulary. `None`: the model has no
/// such label.
pub fn match_labels(classes: &[String], labels: &[String]) -> Vec<Option<usize>> {
    let key = |s: &str| canonical_emotion(s).map(str::to_string).unwrap_or_else(|| s.trim().to_ascii_lowercase());
    classes.iter().map(|c| labels.iter().position(|l| key(l) == key(c))).collect()
}

/// The order of the matrix rows: the dataset classes that match a model label, in the model's
/// label order, then those that match none, in their given order. Returns indices into
/// `classes`. With rows and columns both in label order, correct answers lie on the diagonal
/// (whenever the dataset has a class for each of the first labels, as FER2013 has for all 7).
pub fn row_order(classes: &[String], labels: &[String]) -> Vec<usize> {
    let matched = match_labels(classes, labels);
    let mut order: Vec<usize> = (0..classes.len()).collect();
    // Stable: unmatched classes (key usize::MAX) keep their order, after the matched ones.
    order.sort_by_key(|&c| matched[c].unwrap_or(usize::MAX));
    order
}

/// Counts of (true dataset class, predicted model label). Columns are the model's labels in its
/// output order (a model may have labels the dataset lacks, such as contempt); rows are the
/// dataset classes in the same order ([`row_order`]), so the diagonal holds the correct answers.
#[derive(Clone, Debug, PartialEq)]
pub struct Confusion {
    pub classes: Vec<String>,
    pub labels: Vec<String>,
    /// For each class, the model label it matches ([`match_labels`]).
    pub matched: Vec<Option<usize>>,
    /// `counts[class][label]`.
    pub counts: Vec<Vec<u64>>,
    /// Per class, the images given no emotion (`unknown`: a face smaller than
    /// `min-emotion-face-size`). They count in the class's support and as wrong.
    pub unknown: Vec<u64>,
}

/// Precision, recall and F1 of one dataset class, and its number of images.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClassScores {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: u64,
}

impl Confusion {
    /// An empty matrix for `classes` against the model's `labels`. The classes are put in the
    /// labels' order ([`row_order`]): look a class's row up by name in `classes`
    /// ([`Confusion::row`]), not by its position in the argument.
    pub fn new(classes: Vec<String>, labels: Vec<String>) -> Confusion {
        let order = row_order(&classes, &labels);
        let classes: Vec<String> = order.iter().map(|&c| classes[c].clone()).collect();
        let matched = match_labels(&classes, &labels);
        let counts = vec![vec![0; labels.len()]; classes.len()];
        let unknown = vec![0; classes.len()];
        Confusion { classes, labels, matched, counts, unknown }
    }

    /// The row of the dataset class named `class`, if it is one.
    pub fn row(&self, class: &str) -> Option<usize> {
        self.classes.iter().position(|c| c == class)
    }

    /// Records one image of the class in row `class` predicted as label `label`.
    pub fn add(&mut self, class: usize, label: usize) {
        self.counts[class][label] += 1;
    }

    /// Records one image of the class in row `class` given no emotion (`unknown`).
    pub fn add_unknown(&mut self, class: usize) {
        self.unknown[class] += 1;
    }

    /// Images recorded, `unknown` ones included.
    pub fn total(&self) -> u64 {
        self.counts.iter().flatten().sum::<u64>() + self.unknown.iter().sum::<u64>()
    }

    /// Share of images whose predicted label is their class's label (0 when empty).
    pub fn accuracy(&self) -> f64 {
        let correct: u64 = self.matched.iter().enumerate().filter_map(|(c, m)| m.map(|l| self.counts[c][l])).sum();
        ratio(correct, self.total())
    }

    /// Scores of dataset class `c`. Precision counts every image predicted as its label, from any
    /// class; a class the model lacks has precision, recall and F1 0.
    pub fn class_scores(&self, c: usize) -> ClassScores {
        let support: u64 = self.counts[c].iter().sum::<u64>() + self.unknown[c];
        let Some(l) = self.matched[c] else { return ClassScores { precision: 0.0, recall: 0.0, f1: 0.0, support } };
        let tp = self.counts[c][l];
        let predicted: u64 = self.counts.iter().map(|row| row[l]).sum();
        let (precision, recall) = (ratio(tp, predicted), ratio(tp, support));
        let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
        ClassScores { precision, recall, f1, support }
    }

    /// Unweighted mean of the dataset classes' F1.
    pub fn macro_f1(&self) -> f64 {
        let n = self.classes.len().max(1) as f64;
        (0..self.classes.len()).map(|c| self.class_scores(c).f1).sum::<f64>() / n
    }

    /// The lowest recall of any dataset class, and that class.
    pub fn worst_recall(&self) -> (f64, &str) {
        (0..self.classes.len()).map(|c| (self.class_scores(c).recall, self.classes[c].as_str())).fold((f64::INFINITY, ""), |a, b| {
            if b.0 < a.0 {
                b
            } else {
                a
            }
        })
    }

    /// The metrics as JSON (`emotiondetect-eval --json`): `accuracy`, `macro_f1`, `images`
    /// (classified or unknown), `unknown`, `worst_recall` `{class, recall}`, `per_class`
    /// `[{class, label, precision, recall, f1, support}]` (label: the model's label the class
    /// matches, or null) and `confusion` `{labels, classes, counts, unknown}` (rows: true
    /// class, columns: predicted label, in the model's label order).
    pub fn to_json(&self) -> serde_json::Value {
        let per_class: Vec<serde_json::Value> = (0..self.classes.len())
            .map(|c| {
                let s = self.class_scores(c);
                serde_json::json!({
                    "class": self.classes[c],
                    "label": self.matched[c].map(|l| self.labels[l].clone()),
                    "precision": s.precision, "recall": s.recall, "f1": s.f1, "support": s.support,
                })
            })
            .collect();
        let (recall, class) = self.worst_recall();
        serde_json::json!({
            "accuracy": self.accuracy(),
            "macro_f1": self.macro_f1(),
            "images": self.total(),
            "unknown": self.unknown.iter().sum::<u64>(),
            "worst_recall": { "class": class, "recall": recall },
            "per_class": per_class,
            "confusion": { "labels": self.labels, "classes": self.classes, "counts": self.counts, "unknown": self.unknown },
        })
    }

    /// The report `emotiondetect-eval` prints: `accuracy=`, `macro_f1=`, the per-class table and
    /// the confusion matrix (rows: true class, columns: predicted label).
    pub fn report(&self) -> String {
        let mut s = format!("accuracy={:.4}\nmacro_f1={:.4}\n", self.accuracy(), self.macro_f1());
        let unknown: u64 = self.unknown.iter().sum();
        if unknown > 0 {
            s += &format!("unknown={unknown} (no emotion: smaller than --min-emotion-face-size; counted as wrong)\n");
        }
        let (worst, class) = self.worst_recall();
        s += &format!(
            "worst_recall={worst:.4} ({class})\n\n{:<10} {:>9} {:>7} {:>7} {:>8}\n",
            "class", "precision", "recall", "f1", "support"
        );
        for (c, name) in self.classes.iter().enumerate() {
            let k = self.class_scores(c);
            s += &format!("{name:<10} {:>9.4} {:>7.4} {:>7.4} {:>8}\n", k.precision, k.recall, k.f1, k.support);
        }
        s += "\nconfusion matrix (rows: true class, columns: predicted label)\n";
        s += &format!("{:<10}", "");
        for l in &self.labels {
            s += &format!(" {:>8}", truncate(l, 8));
        }
        s.push('\n');
        for (c, row) in self.counts.iter().enumerate() {
            s += &format!("{:<10}", truncate(&self.classes[c], 10));
            for n in row {
                s += &format!(" {n:>8}");
            }
            s.push('\n');
        }
        s
    }

    /// Draws the matrix as a heat map (row-normalised: each cell is the share of its true
    /// class, with the count), `title` above it. Returns the PNG file's bytes (RGB).
    ///
    /// Errors: the font or the drawing failed.
    pub fn render_png(&self, title: &str) -> Result<Vec<u8>, String> {
        register_font()?;
        let cell = 78u32;
        let (left, top) = (120u32, 110u32);
        let w = left + cell * self.labels.len() as u32 + 30;
        let h = top + cell * self.classes.len() as u32 + 40;
        let mut rgb = vec![255u8; (w * h * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
            self.draw(&root, title, cell as i32, (left as i32, top as i32)).map_err(|e| format!("drawing the confusion matrix: {e}"))?;
            root.present().map_err(|e| format!("drawing the confusion matrix: {e}"))?;
        }
        encode_png(&rgb, w, h).map_err(|e| format!("encoding the confusion matrix PNG: {e}"))
    }

    fn draw(
        &self,
        root: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
        title: &str,
        cell: i32,
        (left, top): (i32, i32),
    ) -> Result<(), Box<dyn std::error::Error>> {
        root.fill(&WHITE)?;
        let text = |size: u32| TextStyle::from((FONT, size).into_font()).color(&BLACK);
        root.draw_text(title, &TextStyle::from((FONT, 18, FontStyle::Bold).into_font()).color(&BLACK), (12, 10))?;
        let sub = format!(
            "accuracy {:.1} %, macro-F1 {:.3}, {} images; rows: true class, columns: predicted",
            100.0 * self.accuracy(),
            self.macro_f1(),
            self.total()
        );
        root.draw_text(&sub, &text(13), (12, 36))?;
        for (l, name) in self.labels.iter().enumerate() {
            root.draw_text(name, &text(14), (left + l as i32 * cell + 6, top - 24))?;
        }
        for (c, row) in self.counts.iter().enumerate() {
            let y = top + c as i32 * cell;
            root.draw_text(&self.classes[c], &text(14), (12, y + cell / 2 - 8))?;
            let support: u64 = row.iter().sum::<u64>() + self.unknown[c];
            for (l, &n) in row.iter().enumerate() {
                let share = ratio(n, support);
                let x = left + l as i32 * cell;
                let shade = (255.0 * (1.0 - share)) as u8;
                root.draw(&Rectangle::new([(x, y), (x + cell - 2, y + cell - 2)], RGBColor(shade, shade, 255).filled()))?;
                if self.matched[c] == Some(l) {
                    // The correct answer's cell (the diagonal when rows and columns line up).
                    root.draw(&Rectangle::new([(x, y), (x + cell - 2, y + cell - 2)], ShapeStyle::from(&BLACK).stroke_width(2)))?;
                }
                let ink = if share > 0.5 { &WHITE } else { &BLACK };
                root.draw_text(&format!("{:.0} %", 100.0 * share), &TextStyle::from((FONT, 15).into_font()).color(ink), (x + 10, y + 22))?;
                root.draw_text(&n.to_string(), &TextStyle::from((FONT, 12).into_font()).color(ink), (x + 10, y + 44))?;
            }
        }
        Ok(())
    }
}

/// A classifier's scores on a dataset whose faces were shrunk to `size` x `size` pixels
/// (`emotiondetect-eval --face-size`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SizePoint {
    /// Face size, pixels (the shrunk image's side).
    pub size: u32,
    /// Accuracy 0..1.
    pub accuracy: f64,
    /// Macro-F1 0..1.
    pub macro_f1: f64,
}

/// The smallest measured size from which on every larger size keeps an accuracy of at least
/// `floor` (0..1): faces below it are better reported without an emotion. `None` when even the
/// largest size is under `floor`.
pub fn min_reliable_size(points: &[SizePoint], floor: f64) -> Option<u32> {
    let mut sorted = points.to_vec();
    sorted.sort_by_key(|p| p.size);
    let first_good = sorted.iter().rposition(|p| p.accuracy < floor).map_or(0, |i| i + 1);
    sorted.get(first_good).map(|p| p.size)
}

/// Draws accuracy and macro-F1 against the face size, with the `floor` line (e.g. 0.5) and,
/// when given, the chosen `threshold` size. Returns the PNG file's bytes (RGB).
///
/// Errors: no points, or the font or the drawing failed.
pub fn render_size_curve(points: &[SizePoint], title: &str, floor: f64, threshold: Option<u32>) -> Result<Vec<u8>, String> {
    if points.is_empty() {
        return Err("no face sizes to draw".into());
    }
    register_font()?;
    let (w, h) = (720u32, 420u32);
    let mut rgb = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        draw_size_curve(&root, points, title, floor, threshold).map_err(|e| format!("drawing the face-size curve: {e}"))?;
        root.present().map_err(|e| format!("drawing the face-size curve: {e}"))?;
    }
    encode_png(&rgb, w, h).map_err(|e| format!("encoding the face-size PNG: {e}"))
}

fn draw_size_curve(
    root: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    points: &[SizePoint],
    title: &str,
    floor: f64,
    threshold: Option<u32>,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut sorted = points.to_vec();
    sorted.sort_by_key(|p| p.size);
    let max = sorted.last().map_or(48, |p| p.size).max(1) as f64;
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 18, FontStyle::Bold))
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..max + 2.0, 0.0..1.0)?;
    chart
        .configure_mesh()
        .x_desc("face size, pixels (shrunk before the classifier)")
        .y_desc("FER2013 val")
        .label_style((FONT, 13))
        .draw()?;
    let blue = RGBColor(31, 119, 180);
    let orange = RGBColor(230, 120, 20);
    for (name, colour, value) in [("accuracy", blue, 0), ("macro-F1", orange, 1)] {
        let xy: Vec<(f64, f64)> = sorted.iter().map(|p| (p.size as f64, if value == 0 { p.accuracy } else { p.macro_f1 })).collect();
        chart
            .draw_series(LineSeries::new(xy.clone(), ShapeStyle::from(&colour).stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], ShapeStyle::from(&colour).stroke_width(2)));
        chart.draw_series(xy.iter().map(|&p| Circle::new(p, 4, colour.filled())))?;
    }
    let grey = RGBColor(120, 120, 120);
    chart
        .draw_series(std::iter::once(PathElement::new(vec![(0.0, floor), (max + 2.0, floor)], ShapeStyle::from(&grey).stroke_width(1))))?
        .label(format!("{:.0} %", 100.0 * floor))
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], ShapeStyle::from(&grey).stroke_width(1)));
    if let Some(t) = threshold {
        let red = RGBColor(200, 30, 30);
        chart
            .draw_series(std::iter::once(PathElement::new(vec![(t as f64, 0.0), (t as f64, 1.0)], ShapeStyle::from(&red).stroke_width(1))))?
            .label(format!("min-emotion-face-size {t}"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], ShapeStyle::from(&red).stroke_width(1)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE)
        .border_style(BLACK)
        .label_font((FONT, 13))
        .draw()?;
    Ok(())
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

fn truncate(s: &str, n: usize) -> &str {
    s.char_indices().nth(n).map_or(s, |(i, _)| &s[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn dataset_classes_match_model_labels_by_synonym() {
        let classes = strings(&["angry", "happy", "sad", "surprise", "other"]);
        let labels = strings(&["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt"]);
        assert_eq!(match_labels(&classes, &labels), vec![Some(4), Some(1), Some(3), Some(2), None]);
        assert_eq!(match_labels(&strings(&["Fearful"]), &strings(&["fear"])), vec![Some(0)]);
    }

    #[test]
    fn the_json_holds_the_printed_metrics() {
        let mut m = Confusion::new(strings(&["happy", "sad", "other"]), strings(&["sad", "happy"]));
        let (happy, sad, other) = (m.row("happy").unwrap(), m.row("sad").unwrap(), m.row("other").unwrap());
        for (row, label) in [(happy, 1), (happy, 1), (happy, 0), (sad, 0), (other, 1)] {
            m.add(row, label);
        }
        m.add_unknown(sad);
        let j = m.to_json();
        assert_eq!(j["images"], 6);
        assert_eq!(j["unknown"], 1);
        assert!((j["accuracy"].as_f64().unwrap() - m.accuracy()).abs() < 1e-12 && (m.accuracy() - 3.0 / 6.0).abs() < 1e-12);
        assert_eq!(j["worst_recall"]["class"], "other");
        let happy_row = &j["per_class"][happy];
        assert_eq!(
            (happy_row["class"].as_str(), happy_row["label"].as_str(), happy_row["support"].as_u64()),
            (Some("happy"), Some("happy"), Some(3))
        );
        assert!((happy_row["recall"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert!(j["per_class"][other]["label"].is_null(), "a class the model lacks");
        assert_eq!(j["confusion"]["counts"][happy], serde_json::json!([1, 2]));
    }

    #[test]
    fn scores_follow_the_definitions() {
        // classes a, b; model labels b, a, x (x: a label the dataset lacks)
        let mut m = Confusion::new(strings(&["happy", "sad"]), strings(&["sadness", "happiness", "contempt"]));
        assert_eq!(m.classes, strings(&["sad", "happy"]), "rows in the labels' order");
        for (class, label, n) in [("happy", 1, 8), ("happy", 0, 1), ("happy", 2, 1), ("sad", 0, 6), ("sad", 1, 4)] {
            let row = m.row(class).unwrap();
            (0..n).for_each(|_| m.add(row, label));
        }
        assert_eq!(m.total(), 20);
        assert!((m.accuracy() - 14.0 / 20.0).abs() < 1e-12);
        let happy = m.class_scores(m.row("happy").unwrap());
        assert!((happy.recall - 0.8).abs() < 1e-12 && (happy.precision - 8.0 / 12.0).abs() < 1e-12);
        assert!((happy.f1 - 2.0 * 0.8 * (8.0 / 12.0) / (0.8 + 8.0 / 12.0)).abs() < 1e-12);
        let sad = m.class_scores(m.row("sad").unwrap());
        assert!((sad.recall - 0.6).abs() < 1e-12 && (sad.precision - 6.0 / 7.0).abs() < 1e-12);
        assert!((m.macro_f1() - (happy.f1 + sad.f1) / 2.0).abs() < 1e-12);
        assert_eq!(m.worst_recall(), (0.6, "sad"));
        let r = m.report();
        assert!(r.starts_with("accuracy=0.7000\n"), "{r}");
        assert!(r.contains("happy"));
    }

    /// The real counts of `emotiondetect-eval ../shared/datasets/fer2013/val` with the default
    /// classifier (emotion_fer2013_vggbn.onnx, 3589 images), per true class: predictions in the
    /// model's label order.
    const FER2013_VAL_VGGBN: [(&str, [u64; 7]); 7] = [
        ("angry", [307, 6, 30, 16, 46, 10, 52]),
        ("disgust", [12, 36, 0, 2, 3, 1, 2]),
        ("fear", [47, 1, 236, 15, 93, 42, 62]),
        ("happy", [19, 1, 12, 768, 16, 23, 56]),
        ("sad", [76, 1, 55, 23, 357, 15, 126]),
        ("surprise", [11, 0, 26, 19, 9, 344, 6]),
        ("neutral", [47, 0, 23, 41, 75, 9, 412]),
    ];

    #[test]
    fn the_diagonal_holds_each_class_recall() {
        // The dataset's folders come sorted (neutral before sad and surprise); the model's labels
        // end with sad, surprise, neutral. Rows must follow the labels.
        let folders = strings(&["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]);
        let labels = strings(&emotiondetect_core::classification::FER2013_LABELS);
        let mut m = Confusion::new(folders, labels.clone());
        assert_eq!(m.classes, labels, "rows in the model's label order");
        for (class, predicted) in FER2013_VAL_VGGBN {
            let row = m.row(class).unwrap();
            for (label, &n) in predicted.iter().enumerate() {
                (0..n).for_each(|_| m.add(row, label));
            }
        }
        assert_eq!(m.total(), 3589);
        for (c, class) in m.classes.iter().enumerate() {
            assert_eq!(m.matched[c], Some(c), "{class} on the diagonal");
            let support: u64 = m.counts[c].iter().sum();
            let recall = m.counts[c][c] as f64 / support as f64;
            assert!((m.class_scores(c).recall - recall).abs() < 1e-12, "{class}: diagonal {recall} is the recall");
        }
        assert!((m.accuracy() - 0.6854).abs() < 5e-5, "accuracy {}", m.accuracy());
        assert_eq!(m.worst_recall().1, "fear");
        assert!((m.class_scores(2).recall - 236.0 / 496.0).abs() < 1e-12);
        // The printed matrix: its rows are in the columns' order.
        let report = m.report();
        let matrix: Vec<&str> = report.lines().skip_while(|l| !l.starts_with("confusion matrix")).skip(1).collect();
        let columns: Vec<&str> = matrix[0].split_whitespace().collect();
        let rows: Vec<&str> = matrix[1..].iter().map(|l| l.split_whitespace().next().unwrap()).collect();
        assert_eq!(columns, rows, "{report}");
        assert!(matrix[7].starts_with("neutral") && matrix[7].trim_end().ends_with("412"), "{report}");
    }

    #[test]
    fn unknown_images_count_as_wrong() {
        let mut m = Confusion::new(strings(&["happy", "sad"]), strings(&["happy", "sad"]));
        (0..3).for_each(|_| m.add(0, 0));
        m.add_unknown(0);
        assert_eq!(m.total(), 4);
        assert!((m.accuracy() - 0.75).abs() < 1e-12);
        let happy = m.class_scores(0);
        assert_eq!((happy.support, happy.precision), (4, 1.0));
        assert!((happy.recall - 0.75).abs() < 1e-12);
        assert!(m.report().contains("unknown=1 "), "{}", m.report());
    }

    #[test]
    fn the_reliable_size_is_where_accuracy_stays_above_the_floor() {
        let p = |size, accuracy| SizePoint { size, accuracy, macro_f1: accuracy };
        let curve = [p(48, 0.68), p(8, 0.2), p(12, 0.45), p(16, 0.55), p(24, 0.62)];
        assert_eq!(min_reliable_size(&curve, 0.5), Some(16));
        // A dip at 24 moves it past the dip.
        assert_eq!(min_reliable_size(&[p(16, 0.55), p(24, 0.49), p(32, 0.6)], 0.5), Some(32));
        assert_eq!(min_reliable_size(&[p(8, 0.3), p(48, 0.4)], 0.5), None);
        assert_eq!(min_reliable_size(&[p(8, 0.6)], 0.5), Some(8));
        let png = render_size_curve(&curve, "test", 0.5, Some(16)).unwrap();
        let reader = png::Decoder::new(std::io::Cursor::new(png)).read_info().unwrap();
        assert_eq!((reader.info().width, reader.info().height), (720, 420));
        assert!(render_size_curve(&[], "test", 0.5, None).is_err());
    }

    #[test]
    fn the_png_has_one_cell_per_class_and_label() {
        let mut m = Confusion::new(strings(&["happy", "sad"]), strings(&["happy", "sad", "fear"]));
        m.add(0, 0);
        m.add(1, 0);
        let png = m.render_png("test").unwrap();
        let reader = png::Decoder::new(std::io::Cursor::new(png)).read_info().unwrap();
        let info = reader.info();
        assert_eq!((info.width, info.height), (120 + 78 * 3 + 30, 110 + 78 * 2 + 40));
    }
}
