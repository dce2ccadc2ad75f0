// SPDX-License-Identifier: MIT
//! `emotiondetect-video INPUT [-o DIR] [--audio aac|copy|none] [PROP=VALUE ...]`: runs emotiondetect over
//! a video file and writes, named after the input, into DIR (default `./out`):
//!
//! - `<name>-emotions.mp4`: the annotated video (H.264 in MP4) with the input's first audio
//!   stream (`--audio aac`, the default: AAC and MP3 copied, anything else encoded to AAC, so
//!   browsers play it; `copy`: as it is whenever MP4 takes it; `none`: no audio);
//! - `<name>.jsonl`: one JSON object per frame (`emotionpublish location=`);
//! - `<name>-people.csv` and `<name>-people.json`: one row per person (track id), see
//!   `emotiondetect_tools::report`;
//! - `<name>-frames.csv`: one row per face per frame, with a probability column per label;
//! - `<name>-timeline.png`: the whole audience's and each person's emotions over time;
//! - `<name>-report.html`: all of it in one self-contained page (`emotiondetect_tools::html`).
//!
//! A still image (JPEG or PNG, by typefinding) gives `<name>-annotated.png` (the element's
//! overlay), `<name>-probabilities.png` (a bar chart per face), the JSON line and the frames CSV.
//!
//! The analysis itself is [`emotiondetect_tools::video::run`] (shared with `emotiondetect-web`):
//! everything is written to hidden `.<file>.<pid>.partial` names in DIR and renamed when all of
//! it is complete; on any error the partial files are removed, and those of a killed run
//! (SIGKILL) by the next run for the same name. Ctrl-C (or SIGTERM) sends EOS: the outputs then
//! cover the part analysed so far (exit status 130); when finishing the video makes no progress
//! for `--grace` seconds the reports are kept without the video; a second Ctrl-C stops at once
//! and removes them. File names need not be UTF-8.
//! DIR defaults to `./out` (as `pipelines/file-to-mp4.sh`), not to the input's directory, which
//! may be read-only or shared. The progress bar is drawn on stderr when both stdout and stderr
//! are terminals; the one-line summary always goes to stdout.
//! The element is registered from this crate, so no installed plugin is needed (ONNX Runtime and
//! the models come from ./setup.sh as for the plugin).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use emotiondetect_tools::report;
use emotiondetect_tools::video::{self, Args, Progress, TOOL};
use indicatif::{ProgressBar, ProgressStyle};

/// `--help`: what the tool does, how PROP=VALUE and Ctrl-C work.
const LONG_ABOUT: &str = "\
Detects faces and their emotions in the video file INPUT (any format GStreamer decodes) or in a \
still image (JPEG, PNG) and writes the annotated video and the reports into DIR, named after \
INPUT (see the list of outputs below).

PROP=VALUE pairs set emotiondetect properties, e.g. threshold=0.5 detector-size=320 \
inference-interval=3 (`gst-inspect-1.0 emotiondetect` lists them; the JSON lines always go to \
DIR/<name>.jsonl); a misspelt property name gets the nearest one suggested. Outputs appear only \
when complete. Ctrl-C stops early and keeps what was analysed (exit status 130); if finishing the \
video then makes no progress for --grace seconds, the reports are kept without the video; a \
second Ctrl-C discards everything. The progress bar shows on a terminal only. Exit status: 0 \
done, 1 an error, 2 a bad command line or property, 130 interrupted.";

/// `--help`, after the options: the outputs.
const OUTPUTS: &str = "\
Outputs (in DIR, named after INPUT):
  <name>-emotions.mp4   the video with boxes and labels (H.264, MP4), with INPUT's
                        first audio stream (AAC or MP3 copied, anything else
                        encoded to AAC: --audio)
  <name>.jsonl          one JSON object per frame (DL Streamer gvametaconvert shape)
  <name>-people.csv     one row per person: track id, first/last seen, frames,
                        detector confidence, dominant emotion and the share of
                        frames with each of the 7 emotions
  <name>-people.json    the same, with the limits that decided who is a person
  <name>-frames.csv     one row per face per frame: time, track id, box, label and
                        one column per emotion (its smoothed probability)
  <name>-timeline.png   the whole audience's emotions over time, then each
                        person's face, emotion band and shares (people seen
                        < 1 s are left out)
  <name>-report.html    all of it in one page that opens from disk in a browser
People are the tracks seen for --min-track-seconds or more that the detector was
on average --min-track-confidence sure of (tracks whose faces were too small to
classify are not judged by confidence); the others stay in the JSON lines and
the frames CSV.
For a still image (JPEG, PNG), instead of the MP4, people CSV and timeline:
  <name>-annotated.png     the image with boxes and labels
  <name>-probabilities.png one bar chart of the emotion probabilities per face";

/// The command line of `emotiondetect-video`, as the OS gives it: INPUT and DIR need not be
/// UTF-8; options, numbers and PROP=VALUE are.
#[derive(Parser, Debug)]
#[command(
    name = TOOL,
    version,
    about = "Detects faces and their emotions in a video file or photo and writes the annotated \
             video, JSON lines, CSV reports and plots",
    long_about = LONG_ABOUT,
    after_long_help = OUTPUTS
)]
struct Cli {
    /// The video file (any format GStreamer decodes) or still image (JPEG, PNG) to analyse
    #[arg(value_name = "INPUT")]
    input: PathBuf,
    /// emotiondetect properties, e.g. threshold=0.5 detector-size=320 inference-interval=3
    #[arg(value_name = "PROP=VALUE", value_parser = property)]
    props: Vec<(String, String)>,
    /// Where the outputs go (created if needed)
    #[arg(short = 'o', long = "output-dir", value_name = "DIR", default_value = "out", allow_hyphen_values = true)]
    out_dir: PathBuf,
    /// The input's first audio stream in the MP4: aac = playable in browsers (AAC and MP3
    /// copied, AC-3, Opus and others encoded to AAC), copy = as it is whenever MP4 takes it,
    /// none = no audio
    #[arg(long, value_enum, value_name = "MODE", default_value = "aac")]
    audio: video::Audio,
    /// The same as --audio none
    #[arg(long, conflicts_with = "audio")]
    no_audio: bool,
    /// Tracks seen for less than S seconds are not people (one-off detections): they stay in the
    /// JSON lines and frames CSV but not in the people CSV/JSON, the timeline or the report
    #[arg(long, value_name = "S", default_value_t = video::MIN_TRACK_SECONDS, value_parser = track_seconds)]
    min_track_seconds: f64,
    /// Tracks whose faces were classified but which the detector was on average less sure of
    /// than C (0..1) are not people either (a large face the detector doubts is rarely a face)
    #[arg(long, value_name = "C", default_value_t = video::MIN_TRACK_CONFIDENCE, value_parser = unit_interval)]
    min_track_confidence: f64,
    /// Plot the N people seen longest in the timeline; the others are summed up in one line
    /// (all are in the people CSV)
    #[arg(long, value_name = "N", default_value_t = report::DEFAULT_MAX_PEOPLE)]
    plot_people: usize,
    /// After Ctrl-C, give up finishing the video after S seconds without progress, keeping the
    /// reports (0: at once; at most 86400)
    #[arg(long, value_name = "S", default_value_t = video::EOS_GRACE.as_secs_f64(), value_parser = grace_seconds,
          allow_negative_numbers = true)]
    grace: f64,
    /// Refuse a picture or video frame larger than N pixels (width x height, as its header
    /// declares it), before decoding it [default: 40000000 for a picture, 33177600 (7680x4320)
    /// for a video]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_pixels: Option<u64>,
}

impl Cli {
    /// What [`video::run`] takes.
    fn into_args(self) -> Args {
        let Cli { input, props, out_dir, audio, no_audio, min_track_seconds, min_track_confidence, plot_people, grace, max_pixels } = self;
        let audio = if no_audio { video::Audio::None } else { audio };
        let grace = Duration::from_secs_f64(grace);
        Args { input, out_dir, props, audio, min_track_seconds, min_track_confidence, plot_people, grace, max_pixels }
    }
}

/// A `PROP=VALUE` argument: a non-empty property name, `=` and the value (which may be empty
/// or contain `=`). Whether the element has the property is checked by [`video::run`].
fn property(arg: &str) -> Result<(String, String), String> {
    match arg.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected PROP=VALUE, got `{arg}`")),
    }
}

/// `--grace S`: seconds, 0 to a day.
fn grace_seconds(v: &str) -> Result<f64, String> {
    v.parse().ok().filter(|s: &f64| s.is_finite() && (0.0..=86_400.0).contains(s)).ok_or_else(|| "expected seconds, 0 to 86400".to_string())
}

/// `--min-track-seconds S`: seconds, 0 to an hour.
fn track_seconds(v: &str) -> Result<f64, String> {
    v.parse().ok().filter(|s: &f64| s.is_finite() && (0.0..=3600.0).contains(s)).ok_or_else(|| "expected seconds, 0 to 3600".to_string())
}

/// `--min-track-confidence C`: 0 to 1.
fn unit_interval(v: &str) -> Result<f64, String> {
    v.parse().ok().filter(|c: &f64| (0.0..=1.0).contains(c)).ok_or_else(|| "expected a confidence, 0 to 1".to_string())
}

fn main() -> ExitCode {
    // A bad command line: clap's message with the usage line, exit status 2; --help: exit 0.
    let args = Cli::parse().into_args();
    let signals = Arc::new(AtomicUsize::new(0));
    {
        let signals = signals.clone();
        // SIGINT and SIGTERM: counted here, acted on by the analysis loop.
        let _ = ctrlc::set_handler(move || {
            signals.fetch_add(1, Ordering::SeqCst);
        });
    }
    match video::run(&args, &Bar(progress_bar()), &signals) {
        Ok(done) => {
            println!("{}", done.summary);
            ExitCode::from(done.code)
        }
        Err(f) => {
            eprintln!("{TOOL}: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

/// The progress bar on stderr (hidden unless stdout and stderr are terminals).
struct Bar(ProgressBar);

impl Progress for Bar {
    fn set_length(&self, duration_ns: u64) {
        set_bar_length(&self.0, duration_ns);
    }
    fn update(&self, position_ns: u64, message: &str) {
        self.0.set_position(position_ns / 1_000_000);
        self.0.set_message(message.to_string());
        self.0.tick();
    }
    fn note(&self, text: &str) {
        self.0.suspend(|| eprintln!("{TOOL}: {text}"));
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

fn progress_bar() -> ProgressBar {
    if !std::io::stderr().is_terminal() || !std::io::stdout().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    bar.set_style(ProgressStyle::with_template("{spinner} {msg}").unwrap());
    bar
}

fn set_bar_length(bar: &ProgressBar, duration_ns: u64) {
    bar.set_length(duration_ns / 1_000_000);
    bar.set_style(ProgressStyle::with_template("{spinner} [{wide_bar}] {msg} ETA {eta}").unwrap().progress_chars("=> "));
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;
    use clap::CommandFactory;
    use std::ffi::{OsStr, OsString};

    fn parse<I: IntoIterator<Item = OsString>>(a: I) -> Result<Args, clap::Error> {
        Cli::try_parse_from(std::iter::once(OsString::from(TOOL)).chain(a)).map(Cli::into_args)
    }

    fn args(a: &[&str]) -> Result<Args, clap::Error> {
        parse(a.iter().map(OsString::from))
    }

    #[test]
    fn the_command_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn non_utf8_paths_and_the_new_options() {
        use std::os::unix::ffi::OsStrExt;
        let odd = OsStr::from_bytes(b"caf\xe9.avi");
        let a = parse([odd.to_os_string(), "-o".into(), OsStr::from_bytes(b"d\xff").into()]).unwrap();
        assert_eq!((a.input.as_os_str(), a.out_dir.as_os_str()), (odd, OsStr::from_bytes(b"d\xff")));
        let a = args(&["v.mp4", "--plot-people", "5", "--grace", "0.5"]).unwrap();
        assert_eq!((a.plot_people, a.grace), (5, Duration::from_millis(500)));
        for bad in [&["v.mp4", "--plot-people", "x"][..], &["v.mp4", "--grace", "-1"], &["v.mp4", "--grace", "nan"]] {
            assert_eq!(args(bad).err().map(|e| e.exit_code()), Some(2), "{bad:?}");
        }
        let err = args(&["v.mp4", "--grace", "-1"]).unwrap_err().to_string();
        assert!(err.contains("0 to 86400"), "{err}");
    }

    #[test]
    fn command_line() {
        let a = args(&["v.mp4", "-o", "d", "threshold=0.5", "device=cuda:0"]).unwrap();
        assert_eq!(a.input, PathBuf::from("v.mp4"));
        assert_eq!(a.out_dir, PathBuf::from("d"));
        assert_eq!(a.props, [("threshold".to_string(), "0.5".to_string()), ("device".into(), "cuda:0".into())]);
        assert_eq!(args(&["a=b.mp4"]).unwrap().input, PathBuf::from("a=b.mp4"), "the first argument is the input");
        let a = args(&["v.mp4"]).unwrap();
        assert_eq!(
            (a.out_dir, a.plot_people, a.grace, a.audio, a.min_track_seconds),
            (PathBuf::from("out"), report::DEFAULT_MAX_PEOPLE, video::EOS_GRACE, video::Audio::Aac, video::MIN_TRACK_SECONDS)
        );
        assert_eq!(args(&["v.mp4", "--audio", "copy"]).unwrap().audio, video::Audio::Copy);
        assert_eq!(args(&["v.mp4", "--min-track-seconds", "0"]).unwrap().min_track_seconds, 0.0);
        for bad in [
            &["v.mp4", "--audio", "ac3"][..],
            &["v.mp4", "--audio", "aac", "--no-audio"],
            &["v.mp4", "--min-track-seconds", "-1"],
            &["v.mp4", "--min-track-confidence", "1.5"],
        ] {
            assert_eq!(args(bad).err().map(|e| e.exit_code()), Some(2), "{bad:?}");
        }
        assert_eq!(args(&["--output-dir=x", "v.mp4"]).unwrap().out_dir, PathBuf::from("x"));
        assert_eq!(args(&["threshold=1", "--no-audio"]).unwrap().input, PathBuf::from("threshold=1"));
        assert_eq!(args(&["v.mp4", "x=1", "--no-audio", "y=2"]).unwrap().audio, video::Audio::None, "options anywhere");
        assert_eq!(args(&["--", "-v.mp4"]).unwrap().input, PathBuf::from("-v.mp4"), "`--` before an INPUT starting with -");
        assert_eq!(args(&["-h"]).unwrap_err().kind(), ErrorKind::DisplayHelp);
        assert_eq!(args(&["--help"]).unwrap_err().exit_code(), 0);
        for bad in [&[][..], &["v.mp4", "threshold"], &["v.mp4", "=1"], &["v.mp4", "-o"], &["v.mp4", "-o", ""], &["--bogus", "v.mp4"]] {
            assert_eq!(args(bad).err().map(|e| e.exit_code()), Some(2), "{bad:?}");
        }
        let err = args(&["v.mp4", "threshold"]).unwrap_err().to_string();
        assert!(err.contains("expected PROP=VALUE, got `threshold`"), "{err}");
    }
}
