// SPDX-License-Identifier: MIT
//! `emotiondetect-video INPUT [-o DIR] [--no-audio] [PROP=VALUE ...]`: runs emotiondetect over
//! a video file and writes, named after the input, into DIR (default `./out`):
//!
//! - `<name>-emotions.mp4`: the annotated video (H.264 in MP4) with the input's first audio
//!   stream (copied when mp4mux takes it as it is, else encoded to AAC; `--no-audio`: none);
//! - `<name>.jsonl`: one JSON object per frame (the element's `metadata-file`);
//! - `<name>-people.csv`: one row per person (track id), see `emotiondetect_tools::report`;
//! - `<name>-frames.csv`: one row per face per frame, with a probability column per label;
//! - `<name>-timeline.png`: the whole audience's and each person's emotions over time.
//!
//! A still image (JPEG or PNG, by typefinding) gives `<name>-annotated.png` (the element's
//! overlay), `<name>-probabilities.png` (a bar chart per face), the JSON line and the frames CSV.
//!
//! The analysis itself is [`emotiondetect_tools::video::run`] (shared with `emotiondetect-web`):
//! everything is written to hidden `.<file>.partial` names in DIR and renamed when all of it is
//! complete; on any error the partial files are removed. Ctrl-C (or SIGTERM) sends EOS: the
//! outputs then cover the part analysed so far (exit status 130); a second one stops at once
//! and removes them.
//! DIR defaults to `./out` (as `pipelines/file-to-mp4.sh`), not to the input's directory, which
//! may be read-only or shared. The progress bar is drawn on stderr when both stdout and stderr
//! are terminals; the one-line summary always goes to stdout.
//! The element is registered from this crate, so no installed plugin is needed (ONNX Runtime and
//! the models come from ./setup.sh as for the plugin).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use emotiondetect_tools::video::{self, Args, Failure, Progress, TOOL};
use indicatif::{ProgressBar, ProgressStyle};

const USAGE: &str = "\
usage: emotiondetect-video INPUT [-o DIR] [--no-audio] [PROP=VALUE ...]

Detects faces and their emotions in the video file INPUT (any format GStreamer decodes) and
writes into DIR (default: ./out), named after INPUT:
  <name>-emotions.mp4   the video with boxes and labels (H.264, MP4), with INPUT's first
                        audio stream (copied when MP4 takes it, else encoded to AAC)
  <name>.jsonl          one JSON object per frame (DL Streamer gvametaconvert shape)
  <name>-people.csv     one row per person: track id, first/last seen, frames, dominant
                        emotion and the share of frames with each of the 7 emotions
  <name>-frames.csv     one row per face per frame: time, track id, box, label and one
                        column per emotion (its smoothed probability)
  <name>-timeline.png   the whole audience's emotions over time, then each person's
                        (people seen < 1 s are left out)
For a still image (JPEG, PNG), instead of the MP4, people CSV and timeline:
  <name>-annotated.png     the image with boxes and labels
  <name>-probabilities.png one bar chart of the emotion probabilities per face

PROP=VALUE pairs set emotiondetect properties, e.g. threshold=0.5 detector-size=320
inference-interval=3 (`gst-inspect-1.0 emotiondetect` lists them; metadata-file is set by
this tool). Outputs appear only when complete. Ctrl-C stops early and keeps what was analysed
(exit status 130); a second Ctrl-C discards it. The progress bar shows on a terminal only.

options:
  -o, --output-dir DIR   where the outputs go (created if needed; default ./out)
  --no-audio             leave the audio out of the MP4
  -h, --help             this help";

/// A bad command line: exit status 2, with the usage line.
fn usage(message: impl Into<String>) -> Failure {
    Failure::usage(message, USAGE.lines().next().unwrap_or_default())
}

/// Parses the command line (without the program name). `Ok(None)`: help was asked for.
fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Args>, Failure> {
    let mut input = None;
    let mut out_dir = None;
    let mut props = Vec::new();
    let mut no_audio = false;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--no-audio" => no_audio = true,
            "-o" | "--output-dir" => out_dir = Some(args.next().ok_or_else(|| usage(format!("{arg} needs a directory")))?),
            _ if arg.starts_with("--output-dir=") => out_dir = Some(arg["--output-dir=".len()..].to_string()),
            _ if arg.starts_with('-') && arg.len() > 1 && input.is_none() && !Path::new(&arg).exists() => {
                return Err(usage(format!("unknown option {arg}")))
            }
            _ if input.is_none() => input = Some(arg),
            _ => match arg.split_once('=') {
                Some((k, v)) if !k.is_empty() => props.push((k.to_string(), v.to_string())),
                _ => return Err(usage(format!("expected PROP=VALUE, got `{arg}`"))),
            },
        }
    }
    let input = input.ok_or_else(|| usage("no INPUT given"))?;
    let out_dir = match out_dir {
        Some(d) if d.is_empty() => return Err(usage("-o needs a directory")),
        Some(d) => PathBuf::from(d),
        None => PathBuf::from("out"),
    };
    Ok(Some(Args { input: PathBuf::from(input), out_dir, props, no_audio }))
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(f) => {
            eprintln!("{TOOL}: {}", f.message);
            return ExitCode::from(f.code);
        }
    };
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

    fn args(a: &[&str]) -> Result<Option<Args>, Failure> {
        parse_args(a.iter().map(|s| s.to_string()))
    }

    #[test]
    fn command_line() {
        let a = args(&["v.mp4", "-o", "d", "threshold=0.5", "device=cuda:0"]).ok().unwrap().unwrap();
        assert_eq!(a.input, PathBuf::from("v.mp4"));
        assert_eq!(a.out_dir, PathBuf::from("d"));
        assert_eq!(a.props, [("threshold".to_string(), "0.5".to_string()), ("device".into(), "cuda:0".into())]);
        assert_eq!(args(&["a=b.mp4"]).ok().unwrap().unwrap().input, PathBuf::from("a=b.mp4"), "the first argument is the input");
        assert_eq!(args(&["v.mp4"]).ok().unwrap().unwrap().out_dir, PathBuf::from("out"));
        assert_eq!(args(&["--output-dir=x", "v.mp4"]).ok().unwrap().unwrap().out_dir, PathBuf::from("x"));
        assert!(args(&["-h"]).ok().unwrap().is_none());
        for bad in [&[][..], &["v.mp4", "threshold"], &["v.mp4", "=1"], &["v.mp4", "-o"], &["--bogus", "v.mp4"]] {
            assert_eq!(args(bad).err().map(|f| f.code), Some(2), "{bad:?}");
        }
    }
}
