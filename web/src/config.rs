// SPDX-License-Identifier: MIT
//! The command line of `emotiondetect-web` (clap): [`parse_args`] gives the server's
//! [`Config`].

use std::ffi::OsString;
use std::net::SocketAddr;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};

/// `--help`: what the server does.
const LONG_ABOUT: &str = "\
Serves the emotiondetect browser app and its HTTP API: webcam, photo, video and live streams. \
Open http://127.0.0.1:8080/ (the default address) in a browser.

Exit status: 0 stopped (SIGINT, SIGTERM), 1 an error, 2 a bad command line.";

/// A live source given with `--source NAME=URI`.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceArg {
    /// The name shown in the page and used in the API's URLs.
    pub name: String,
    /// A URI GStreamer's uridecodebin opens (file paths are turned into file:// URIs).
    pub uri: String,
}

/// The server's settings: the parsed command line. Each field's doc comment is its `--help`.
#[derive(Clone, Debug, PartialEq, Parser)]
#[command(
    name = "emotiondetect-web",
    version,
    about = "Serves the emotiondetect browser app (webcam, photo, video, live streams) and its HTTP \
             API",
    long_about = LONG_ABOUT
)]
pub struct Config {
    /// Where to listen (port 0: any free port)
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8080", value_parser = listen_address)]
    pub listen: SocketAddr,
    /// Allow a non-loopback --listen address: anyone who can reach it can use the app and the API
    /// (upload files, read the streams)
    #[arg(long)]
    pub allow_remote: bool,
    /// A live source shown in the Streams tab (repeatable): an RTSP or HTTP URI, a file:// URI or
    /// a file path (files loop); NAME: letters, digits, '-' and '_'
    #[arg(long = "source", value_name = "NAME=URI", value_parser = parse_source)]
    pub sources: Vec<SourceArg>,
    /// Largest image body (POST /api/analyse, webcam frame), in MB
    #[arg(long = "max-image-mb", value_name = "MB", default_value = "20", value_parser = image_megabytes)]
    pub max_image_bytes: usize,
    /// Largest video upload, in MB
    #[arg(long = "max-video-mb", value_name = "MB", default_value = "500", value_parser = megabytes)]
    pub max_video_bytes: u64,
    /// Video analyses running at once; more are refused
    #[arg(long, value_name = "N", default_value = "1", value_parser = count)]
    pub max_video_jobs: usize,
    /// Finished video reports kept for download, oldest removed
    #[arg(long, value_name = "N", default_value = "8", value_parser = count)]
    pub max_kept_videos: usize,
    /// Webcam WebSocket clients at once; more are refused
    #[arg(long, value_name = "N", default_value = "16", value_parser = count)]
    pub max_webcam_clients: usize,
    /// Photo analyses running at once; more wait
    #[arg(long, value_name = "N", default_value = "2", value_parser = count)]
    pub max_photo_jobs: usize,
    /// Refuse a photo, webcam frame or video frame larger than N pixels (width x height, as its
    /// header declares it) before decoding it [default: 40000000 for pictures, 33177600
    /// (7680x4320) for video]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_pixels: Option<u64>,
    /// Seconds a client has to send a request's headers, from when the connection opens or its
    /// last response was sent (idle keep-alive connections close after it too)
    #[arg(long, value_name = "S", default_value = "10", value_parser = seconds)]
    pub header_timeout: u64,
    /// Seconds a request body may take before --min-body-rate counts
    #[arg(long, value_name = "S", default_value = "10", value_parser = seconds)]
    pub body_timeout: u64,
    /// Slowest upload kept, in KB/s: each KB received extends --body-timeout by 1/RATE s; a
    /// slower upload is cut off (408) and frees its slot
    #[arg(long, value_name = "KB", default_value = "16", value_parser = count)]
    pub min_body_rate: usize,
    /// Connections served at once; more wait until one closes
    #[arg(long, value_name = "N", default_value = "256", value_parser = count)]
    pub max_connections: usize,
    /// Sample photos offered on the Photo tab: the JPEG and PNG files of DIR (the first 12 by
    /// name) [default: samples/ of the data directory, which ./setup.sh fills]
    #[arg(long, value_name = "DIR")]
    pub samples: Option<std::path::PathBuf>,
}

/// Parses the command line (without the program name).
///
/// Errors (a [`clap::Error`]: its `exit()` prints it, or the help, and exits with its status:
/// 0 for `--help`, else 2): help was asked for, an unknown option, a missing or bad value
/// (naming the option and the value), a non-loopback `--listen` without `--allow-remote`, a
/// repeated or malformed source name.
pub fn parse_args<I, T>(args: I) -> Result<Config, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let program = std::iter::once(OsString::from("emotiondetect-web"));
    let config = Config::try_parse_from(program.chain(args.into_iter().map(Into::into)))?;
    config.check().map_err(|message| Config::command().error(ErrorKind::ArgumentConflict, message))?;
    Ok(config)
}

impl Config {
    /// What clap cannot check alone: a remote address needs `--allow-remote`, source names are
    /// unique.
    fn check(&self) -> Result<(), String> {
        if !self.listen.ip().is_loopback() && !self.allow_remote {
            return Err(format!(
                "--listen {}: not a loopback address; add --allow-remote to serve other machines (anyone who can reach it can \
                 upload files and watch the streams)",
                self.listen
            ));
        }
        for (i, s) in self.sources.iter().enumerate() {
            if self.sources[..i].iter().any(|o| o.name == s.name) {
                return Err(format!("--source {}: the name is given twice", s.name));
            }
        }
        Ok(())
    }
}

/// `--listen ADDR:PORT`.
fn listen_address(v: &str) -> Result<SocketAddr, String> {
    v.parse().map_err(|e| format!("not an ADDR:PORT ({e}); e.g. 127.0.0.1:8080"))
}

/// `NAME=URI`, a path becoming a file:// URI.
fn parse_source(v: &str) -> Result<SourceArg, String> {
    let (name, uri) = v.split_once('=').ok_or("expected NAME=URI")?;
    if name.is_empty() || name.len() > 64 || !name.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_') {
        return Err("the name must be 1-64 letters, digits, '-' or '_'".into());
    }
    if uri.is_empty() {
        return Err("no URI".into());
    }
    let uri = if uri.contains("://") {
        uri.to_string()
    } else {
        let path = std::path::Path::new(uri);
        if !path.is_file() {
            return Err(format!("{uri} is not a URI and no such file"));
        }
        let abs = path.canonicalize().map_err(|e| format!("{uri}: {e}"))?;
        format!("file://{}", percent_encode_path(&abs.to_string_lossy()))
    };
    Ok(SourceArg { name: name.to_string(), uri })
}

/// A path as the path part of a file:// URI (bytes other than unreserved ones and '/' escaped).
fn percent_encode_path(path: &str) -> String {
    path.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A size in MB (fractions allowed, up to 10^6), in bytes.
fn megabytes(v: &str) -> Result<u64, String> {
    match v.parse::<f64>() {
        Ok(mb) if mb > 0.0 && mb <= 1e6 => Ok((mb * 1024.0 * 1024.0) as u64),
        _ => Err("expected a size in MB, > 0".into()),
    }
}

/// [`megabytes`], for the image body limit.
fn image_megabytes(v: &str) -> Result<usize, String> {
    megabytes(v).map(|bytes| bytes as usize)
}

/// Seconds, 1..=3600.
fn seconds(v: &str) -> Result<u64, String> {
    match v.parse::<u64>() {
        Ok(n) if (1..=3600).contains(&n) => Ok(n),
        _ => Err("expected a whole number of seconds 1..3600".into()),
    }
}

/// A count, 1..=10000.
fn count(v: &str) -> Result<usize, String> {
    match v.parse::<usize>() {
        Ok(n) if (1..=10_000).contains(&n) => Ok(n),
        _ => Err("expected a whole number 1..10000".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(a: &[&str]) -> Result<Config, clap::Error> {
        parse_args(a)
    }

    #[test]
    fn the_command_is_consistent() {
        Config::command().debug_assert();
    }

    #[test]
    fn defaults_are_loopback_8080() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert!(!c.allow_remote && c.sources.is_empty());
        assert_eq!((c.max_image_bytes, c.max_video_bytes), (20 << 20, 500 << 20));
        assert_eq!((c.max_video_jobs, c.max_kept_videos, c.max_webcam_clients, c.max_photo_jobs), (1, 8, 16, 2));
        assert_eq!((c.max_pixels, c.header_timeout, c.body_timeout, c.min_body_rate, c.max_connections), (None, 10, 10, 16, 256));
        let help = parse(&["--help"]).unwrap_err();
        assert_eq!((help.kind(), help.exit_code()), (ErrorKind::DisplayHelp, 0));
    }

    #[test]
    fn remote_addresses_need_the_flag() {
        let err = parse(&["--listen", "0.0.0.0:8080"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("--allow-remote"), "{err}");
        assert!(parse(&["--listen=0.0.0.0:8080", "--allow-remote"]).is_ok());
        assert!(parse(&["--listen", "[::1]:9000"]).is_ok());
        let err = parse(&["--listen", "localhost"]).unwrap_err().to_string();
        assert!(err.contains("ADDR:PORT") && err.contains("localhost"), "{err}");
    }

    #[test]
    fn limits_and_sources() {
        let c = parse(&["--max-image-mb", "0.5", "--max-video-jobs=3", "--source", "cam=rtsp://h/x"]).unwrap();
        assert_eq!((c.max_image_bytes, c.max_video_jobs), (512 * 1024, 3));
        assert_eq!(c.sources, [SourceArg { name: "cam".into(), uri: "rtsp://h/x".into() }]);
        for bad in [
            &["--max-image-mb", "0"][..],
            &["--max-video-jobs", "x"],
            &["--max-photo-jobs", "10001"],
            &["--max-pixels", "0"],
            &["--header-timeout", "0"],
            &["--source", "a/b=rtsp://h"],
            &["--source", "x=/no/such/file"],
            &["--source", "a=rtsp://h", "--source", "a=rtsp://i"],
            &["--bogus"],
            &["--listen"],
        ] {
            assert_eq!(parse(bad).err().map(|e| e.exit_code()), Some(2), "{bad:?}");
        }
        let err = parse(&["--source", "a=rtsp://h", "--source", "a=rtsp://i"]).unwrap_err().to_string();
        assert!(err.contains("--source a: the name is given twice"), "{err}");
        let err = parse(&["--max-video-jobs", "x"]).unwrap_err().to_string();
        assert!(err.contains("--max-video-jobs") && err.contains("expected a whole number 1..10000"), "{err}");
        assert_eq!(percent_encode_path("/a b/ü.avi"), "/a%20b/%C3%BC.avi");
    }
}
