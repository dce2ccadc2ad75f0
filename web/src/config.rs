// SPDX-License-Identifier: MIT
//! The command line of `emotiondetect-web`.

use std::net::SocketAddr;

/// The usage text (`--help`).
pub const USAGE: &str = "\
usage: emotiondetect-web [--listen ADDR:PORT] [--allow-remote] [--source NAME=URI ...] [limits]

Serves the emotiondetect browser app and its HTTP API: webcam, photo, video and live streams.
Open http://127.0.0.1:8080/ (the default address) in a browser.

options:
  --listen ADDR:PORT       where to listen (default 127.0.0.1:8080; port 0: any free port)
  --allow-remote           allow a non-loopback --listen address: anyone who can reach it can
                           use the app and the API (upload files, read the streams)
  --source NAME=URI        a live source shown in the Streams tab (repeatable): an RTSP or
                           HTTP URI, a file:// URI or a file path (files loop); NAME: letters,
                           digits, '-' and '_'
  --max-image-mb MB        largest image body (POST /api/analyse, webcam frame) (default 20)
  --max-video-mb MB        largest video upload (default 500)
  --max-video-jobs N       video analyses running at once; more are refused (default 1)
  --max-kept-videos N      finished video reports kept for download, oldest removed (default 8)
  --max-webcam-clients N   webcam WebSocket clients at once; more are refused (default 16)
  --max-photo-jobs N       photo analyses running at once; more wait (default 2)
  -h, --help               this help";

/// A live source given with `--source NAME=URI`.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceArg {
    /// The name shown in the page and used in the API's URLs.
    pub name: String,
    /// A URI GStreamer's uridecodebin opens (file paths are turned into file:// URIs).
    pub uri: String,
}

/// The server's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub listen: SocketAddr,
    pub allow_remote: bool,
    pub sources: Vec<SourceArg>,
    /// Largest image body, bytes.
    pub max_image_bytes: usize,
    /// Largest video upload, bytes.
    pub max_video_bytes: u64,
    pub max_video_jobs: usize,
    pub max_kept_videos: usize,
    pub max_webcam_clients: usize,
    pub max_photo_jobs: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            allow_remote: false,
            sources: Vec::new(),
            max_image_bytes: 20 << 20,
            max_video_bytes: 500 << 20,
            max_video_jobs: 1,
            max_kept_videos: 8,
            max_webcam_clients: 16,
            max_photo_jobs: 2,
        }
    }
}

/// Parses the command line (without the program name). `Ok(None)`: help was asked for.
///
/// Errors: an unknown option, a missing or bad value (naming the option and the value), a
/// non-loopback `--listen` without `--allow-remote`, a repeated or malformed source name.
pub fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Config>, String> {
    let mut c = Config::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = || inline.clone().or_else(|| args.next()).ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--allow-remote" => c.allow_remote = true,
            "--listen" => {
                let v = value()?;
                c.listen = v.parse().map_err(|e| format!("--listen {v}: not an ADDR:PORT ({e}); e.g. 127.0.0.1:8080"))?;
            }
            "--source" => c.sources.push(parse_source(&value()?)?),
            "--max-image-mb" => c.max_image_bytes = megabytes(&flag, &value()?)? as usize,
            "--max-video-mb" => c.max_video_bytes = megabytes(&flag, &value()?)?,
            "--max-video-jobs" => c.max_video_jobs = count(&flag, &value()?)?,
            "--max-kept-videos" => c.max_kept_videos = count(&flag, &value()?)?,
            "--max-webcam-clients" => c.max_webcam_clients = count(&flag, &value()?)?,
            "--max-photo-jobs" => c.max_photo_jobs = count(&flag, &value()?)?,
            _ => return Err(format!("unknown argument {arg}")),
        }
    }
    if !c.listen.ip().is_loopback() && !c.allow_remote {
        return Err(format!(
            "--listen {}: not a loopback address; add --allow-remote to serve other machines (anyone who can reach it can upload \
             files and watch the streams)",
            c.listen
        ));
    }
    for (i, s) in c.sources.iter().enumerate() {
        if c.sources[..i].iter().any(|o| o.name == s.name) {
            return Err(format!("--source {}: the name is given twice", s.name));
        }
    }
    Ok(Some(c))
}

/// `NAME=URI`, a path becoming a file:// URI.
fn parse_source(v: &str) -> Result<SourceArg, String> {
    let (name, uri) = v.split_once('=').ok_or_else(|| format!("--source {v}: expected NAME=URI"))?;
    if name.is_empty() || name.len() > 64 || !name.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_') {
        return Err(format!("--source {v}: the name must be 1-64 letters, digits, '-' or '_'"));
    }
    if uri.is_empty() {
        return Err(format!("--source {v}: no URI"));
    }
    let uri = if uri.contains("://") {
        uri.to_string()
    } else {
        let path = std::path::Path::new(uri);
        if !path.is_file() {
            return Err(format!("--source {v}: {uri} is not a URI and no such file"));
        }
        let abs = path.canonicalize().map_err(|e| format!("--source {v}: {uri}: {e}"))?;
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

/// A size in MB (fractions allowed), in bytes.
fn megabytes(flag: &str, v: &str) -> Result<u64, String> {
    match v.parse::<f64>() {
        Ok(mb) if mb > 0.0 && mb <= 1e6 => Ok((mb * 1024.0 * 1024.0) as u64),
        _ => Err(format!("{flag} {v}: expected a size in MB, > 0")),
    }
}

/// A count >= 1.
fn count(flag: &str, v: &str) -> Result<usize, String> {
    match v.parse::<usize>() {
        Ok(n) if (1..=10_000).contains(&n) => Ok(n),
        _ => Err(format!("{flag} {v}: expected a whole number 1..10000")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(a: &[&str]) -> Result<Option<Config>, String> {
        parse_args(a.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults_are_loopback_8080() {
        let c = parse(&[]).unwrap().unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert!(parse(&["--help"]).unwrap().is_none());
    }

    #[test]
    fn remote_addresses_need_the_flag() {
        let err = parse(&["--listen", "0.0.0.0:8080"]).unwrap_err();
        assert!(err.contains("--allow-remote"), "{err}");
        assert!(parse(&["--listen=0.0.0.0:8080", "--allow-remote"]).unwrap().is_some());
        assert!(parse(&["--listen", "[::1]:9000"]).unwrap().is_some());
        assert!(parse(&["--listen", "localhost"]).unwrap_err().contains("ADDR:PORT"));
    }

    #[test]
    fn limits_and_sources() {
        let c = parse(&["--max-image-mb", "0.5", "--max-video-jobs=3", "--source", "cam=rtsp://h/x"]).unwrap().unwrap();
        assert_eq!((c.max_image_bytes, c.max_video_jobs), (512 * 1024, 3));
        assert_eq!(c.sources, [SourceArg { name: "cam".into(), uri: "rtsp://h/x".into() }]);
        for bad in [
            &["--max-image-mb", "0"][..],
            &["--max-video-jobs", "x"],
            &["--source", "a/b=rtsp://h"],
            &["--source", "x=/no/such/file"],
            &["--source", "a=rtsp://h", "--source", "a=rtsp://i"],
            &["--bogus"],
            &["--listen"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(percent_encode_path("/a b/ü.avi"), "/a%20b/%C3%BC.avi");
    }
}
