// SPDX-License-Identifier: MIT
//! Secrets out of everything shown: the one redaction of URIs that every output uses (report
//! fields, API answers, events, errors, warnings, logs).
//!
//! [`uri`] masks a URI's user-info (`rtsp://admin:pw@cam/x` -> `rtsp://***@cam/x`) and the
//! values of query and fragment parameters that carry secrets (`?token=`, `?password=`, ...);
//! [`text`] does it to every URI inside a free text (a GStreamer error's debug string). Both keep
//! the scheme, host (IPv6 in brackets too), port and path, so that a message still says which
//! camera it is about.

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// Query and fragment parameters whose values are masked (compared case-insensitively, after
/// `-` is read as `_`): the names cameras, brokers and signed URLs use for credentials.
const SECRET_PARAMS: [&str; 17] = [
    "password",
    "passwd",
    "pass",
    "pwd",
    "token",
    "access_token",
    "auth",
    "authorization",
    "key",
    "apikey",
    "api_key",
    "secret",
    "client_secret",
    "signature",
    "sig",
    "credential",
    "pem",
];

/// `uri` with its user-info and secret parameter values replaced by [`MASK`]; a text without
/// `://` is returned unchanged.
///
/// The user-info is everything before the last `@` that comes before the path's first `/`, so
/// an unescaped `@`, `:`, `?` or `#` in a password is masked with the rest of it (a `/` cannot be
/// in an unescaped password: no URI parser would read one). A `?...@` in a host-only URI is
/// masked too: masking too much is the safe side.
pub fn uri(uri: &str) -> String {
    let Some(at) = uri.find("://") else { return uri.to_string() };
    let (scheme, rest) = (&uri[..at], &uri[at + 3..]);
    let before_path = &rest[..rest.find('/').unwrap_or(rest.len())];
    let rest = match before_path.rfind('@') {
        Some(i) => format!("{MASK}@{}", mask_params(&rest[i + 1..])),
        None => mask_params(rest),
    };
    format!("{scheme}://{rest}")
}

/// `text` with every URI in it passed through [`uri`]. A URI runs from its scheme to the next
/// white space, double quote, backtick or angle bracket (none of which a URI holds unescaped),
/// less the punctuation that ends a sentence or a quote: `,.;:)'`.
pub fn text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(sep) = rest.find("://") {
        let start = rest[..sep].rfind(|c: char| !is_scheme_char(c)).map_or(0, |i| i + 1);
        let end = rest[sep..].find(|c: char| c.is_whitespace() || "\"<>`".contains(c)).map_or(rest.len(), |i| sep + i);
        let end = start + rest[start..end].trim_end_matches([',', '.', ';', ':', ')', '\'']).len();
        let end = end.max(sep + 3);
        out.push_str(&rest[..start]);
        out.push_str(&uri(&rest[start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn is_scheme_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "+-.".contains(c)
}

/// `host/path?query#fragment` with the secret parameters of the query and fragment masked.
fn mask_params(rest: &str) -> String {
    let (before_fragment, fragment) = match rest.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (rest, None),
    };
    let mut out = match before_fragment.split_once('?') {
        Some((path, query)) => format!("{path}?{}", mask_pairs(query)),
        None => before_fragment.to_string(),
    };
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(&mask_pairs(f));
    }
    out
}

/// `a=1&token=x;b=2` -> `a=1&token=***;b=2`.
fn mask_pairs(pairs: &str) -> String {
    let mut out = String::with_capacity(pairs.len());
    for piece in pairs.split_inclusive(['&', ';']) {
        let (pair, sep) = match piece.strip_suffix(['&', ';']) {
            Some(p) => (p, &piece[p.len()..]),
            None => (piece, ""),
        };
        match pair.split_once('=') {
            Some((name, _)) if is_secret(name) => out.push_str(&format!("{name}={MASK}")),
            _ => out.push_str(pair),
        }
        out.push_str(sep);
    }
    out
}

/// Dotted names (librdkafka's `sasl.password`, `ssl.key.pem`) are judged by their last part.
fn is_secret(name: &str) -> bool {
    let name = name.trim().to_ascii_lowercase().replace('-', "_");
    let last = name.rsplit('.').next().unwrap_or_default();
    SECRET_PARAMS.contains(&name.as_str()) || SECRET_PARAMS.contains(&last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn user_info_and_tokens_are_masked() {
        assert_eq!(uri("rtsp://admin:s3cretpw@10.0.0.2:554/live"), "rtsp://***@10.0.0.2:554/live");
        assert_eq!(uri("rtsp://admin:p@ss:w?rd#x@cam/a"), "rtsp://***@cam/a");
        assert_eq!(uri("rtsp://u:p%40ss@[fe80::1%25eth0]:8554/s"), "rtsp://***@[fe80::1%25eth0]:8554/s");
        assert_eq!(uri("http://cam/snap.jpg?Token=abc&w=640;Pass-Word=x"), "http://cam/snap.jpg?Token=***&w=640;Pass-Word=x");
        assert_eq!(uri("http://cam/x?api-key=k#access_token=t&s=1"), "http://cam/x?api-key=***#access_token=***&s=1");
        assert_eq!(uri("https://h?password=p"), "https://h?password=***");
        assert_eq!(uri("kafka://h/t?sasl.password=p&ssl.key.pem=k&acks=all"), "kafka://h/t?sasl.password=***&ssl.key.pem=***&acks=all");
        assert_eq!(uri("rtsp://cam/a@b"), "rtsp://cam/a@b");
        assert_eq!(uri("file:///srv/v.mp4"), "file:///srv/v.mp4");
        assert_eq!(uri("no uri: a@b"), "no uri: a@b");
        assert_eq!(uri("1x://u:p@h"), "1x://***@h");
    }

    #[test]
    fn every_uri_of_a_text_is_masked() {
        let t = "Could not connect (URL: http://admin:pw1@cam:80/x?token=t0k, Redirect to: \"rtsps://u:pw2@[::1]/y\")";
        assert_eq!(text(t), "Could not connect (URL: http://***@cam:80/x?token=***, Redirect to: \"rtsps://***@[::1]/y\")");
        assert_eq!(text("nothing here"), "nothing here");
        assert_eq!(text("://x ://u:p@h"), "://x ://***@h");
    }

    /// A password: a marker no host, path or name below can contain, then URI characters, some
    /// unescaped (`@`, `:`, `?`, `#`, sub-delimiters), some percent-escaped.
    fn password() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            "[A-Za-z0-9._~-]{1,4}",
            Just("@".to_string()),
            Just(":".to_string()),
            Just("?".to_string()),
            Just("#".to_string()),
            "[!$&'()*+,;=]",
            "%[0-9A-F]{2}",
        ];
        prop::collection::vec(piece, 1..6).prop_map(|p| format!("Zq9{}", p.concat()))
    }

    fn host() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z]{1,8}(\\.[a-z]{2,5})?",
            "(25[0-5]|1[0-9]{2}|[1-9]?[0-9])(\\.(25[0-5]|1[0-9]{2}|[1-9]?[0-9])){3}",
            "\\[(fe80|2001|::1)(:[0-9a-f]{1,4}){0,4}(%25[a-z0-9]{1,4})?\\]",
        ]
    }

    proptest! {
        #[test]
        fn no_password_or_token_survives(
            scheme in "(rtsp|rtsps|http|https|mqtt|mqtts|rtmp)",
            user in "[a-z0-9]{0,6}(%40[a-z]{1,3})?",
            pw in password(),
            host in host(),
            port in prop::option::of(1u16..),
            path in "(/[a-z0-9@._-]{0,8}){0,3}",
            token in "Zq9[A-Za-z0-9._~%-]{1,12}",
            key in "(token|password|api_key|Signature|access_token)",
            before in "[a-z ]{0,10}",
        ) {
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            let given = format!("{scheme}://{user}:{pw}@{host}{port}{path}?a=1&{key}={token}");
            let shown = uri(&given);
            prop_assert!(!shown.contains(&pw) && !shown.contains(&token), "{given} -> {shown}");
            prop_assert!(shown.contains(&format!("{host}{port}{path}")), "{given} -> {shown}");
            let message = format!("{before}cannot open \"{given}\": refused ({given})");
            let shown = text(&message);
            prop_assert!(!shown.contains("Zq9"), "{message} -> {shown}");
        }
    }
}
