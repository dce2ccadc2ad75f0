// SPDX-License-Identifier: MIT
//! `emotiondetect-video INPUT [-o DIR] [--no-audio] [PROP=VALUE ...]`: runs emotiondetect over
//! a video file and writes, named after the input, into DIR (default `./out`):
//!
//! - `<name>-emotions.mp4`: the annotated video (H.264 in MP4) with the input's first audio
//!   stream (copied when mp4mux takes it as it is, else encoded to AAC; `--no-audio`: none);
//! - `<name>.jsonl`: one JSON object per frame (`emotionpublish location=`);
//! - `<name>-people.csv`: one row per person (track id), see `emotiondetect_tools::report`;
//! - `<name>-frames.csv`: one row per face per frame, with a probability column per label;
//! - `<name>-timeline.png`: the whole audience's and each person's emotions over time.
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

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use emotiondetect_tools::report;
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
(exit status 130); if finishing the video then makes no progress for --grace seconds, the
reports are kept without the video; a second Ctrl-C discards everything. The progress bar
shows on a terminal only.

options:
  -o, --output-dir DIR   where the outputs go (created if needed; default ./out)
  --no-audio             leave the audio out of the MP4
  --plot-people N        plot the N people seen longest in the timeline (default 20); the
                         others are summed up in one line (all are in the people CSV)
  --grace S              after Ctrl-C, give up finishing the video after S seconds without
                         progress, keeping the reports (default 10; 0: at once)
  -h, --help             this help";

/// A bad command line: exit status 2, with the usage line.
fn usage(message: impl Into<String>) -> Failure {
    Failure::usage(message, USAGE.lines().next().unwrap_or_default())
}

/// The value after option `opt`, as UTF-8 text.
fn option_text(opt: &str, value: Option<OsString>) -> Result<String, Failure> {
    let value = value.ok_or_else(|| usage(format!("{opt} needs a value")))?;
    value.into_string().map_err(|v| usage(format!("{opt}: `{}` is not UTF-8 text", v.to_string_lossy())))
}

/// `--grace S`: seconds, 0 to a day.
fn grace_seconds(v: &str) -> Result<Duration, Failure> {
    let secs: f64 = v
        .parse()
        .ok()
        .filter(|s: &f64| s.is_finite() && (0.0..=86_400.0).contains(s))
        .ok_or_else(|| usage(format!("--grace needs seconds (0 to 86400), got `{v}`")))?;
    Ok(Duration::from_secs_f64(secs))
}

/// Parses the command line (without the program name), as the OS gives it: paths need not be
/// UTF-8. `Ok(None)`: help was asked for.
fn parse_args(args: impl IntoIterator<Item = OsString>) -> Result<Option<Args>, Failure> {
    let mut input: Option<OsString> = None;
    let mut out_dir: Option<OsString> = None;
    let mut props = Vec::new();
    let (mut no_audio, mut plot_people, mut grace) = (false, report::DEFAULT_MAX_PEOPLE, video::EOS_GRACE);
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        // Options are UTF-8; INPUT and DIR may be any file name.
        let text = arg.to_str().unwrap_or_default();
        match text {
            "-h" | "--help" => return Ok(None),
            "--no-audio" => no_audio = true,
            "-o" | "--output-dir" => out_dir = Some(args.next().ok_or_else(|| usage(format!("{text} needs a directory")))?),
            "--plot-people" => {
                let v = option_text(text, args.next())?;
                plot_people = v.parse().map_err(|_| usage(format!("--plot-people needs a whole number, got `{v}`")))?;
            }
            "--grace" => grace = grace_seconds(&option_text(text, args.next())?)?,
            _ if text.starts_with("--output-dir=") => out_dir = Some(text["--output-dir=".len()..].into()),
            _ if text.starts_with('-') && text.len() > 1 && input.is_none() && !Path::new(&arg).exists() => {
                return Err(usage(format!("unknown option {text}")))
            }
            _ if input.is_none() => input = Some(arg),
            _ => match arg.to_str().and_then(|a| a.split_once('=')) {
                Some((k, v)) if !k.is_empty() => props.push((k.to_string(), v.to_string())),
                _ => return Err(usage(format!("expected PROP=VALUE, got `{}`", arg.to_string_lossy()))),
            },
        }
    }
    let input = input.ok_or_else(|| usage("no INPUT given"))?;
    let out_dir = match out_dir {
        Some(d) if d.is_empty() => return Err(usage("-o needs a directory")),
        Some(d) => PathBuf::from(d),
        None => PathBuf::from("out"),
    };
    Ok(Some(Args { input: PathBuf::from(input), out_dir, props, no_audio, plot_people, grace }))
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args_os().skip(1)) {
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
    use std::ffi::OsStr;

    fn args(a: &[&str]) -> Result<Option<Args>, Failure> {
        parse_args(a.iter().map(OsString::from))
    }

    #[test]
    fn non_utf8_paths_and_the_new_options() {
        use std::os::unix::ffi::OsStrExt;
        let odd = OsStr::from_bytes(b"caf\xe9.avi");
        let a = parse_args([odd.to_os_string(), "-o".into(), OsStr::from_bytes(b"d\xff").into()]).ok().unwrap().unwrap();
        assert_eq!((a.input.as_os_str(), a.out_dir.as_os_str()), (odd, OsStr::from_bytes(b"d\xff")));
        let a = args(&["v.mp4", "--plot-people", "5", "--grace", "0.5"]).ok().unwrap().unwrap();
        assert_eq!((a.plot_people, a.grace), (5, Duration::from_millis(500)));
        for bad in [&["v.mp4", "--plot-people", "x"][..], &["v.mp4", "--grace", "-1"], &["v.mp4", "--grace", "nan"]] {
            assert_eq!(args(bad).err().map(|f| f.code), Some(2), "{bad:?}");
        }
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
