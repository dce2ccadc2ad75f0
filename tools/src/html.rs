// SPDX-License-Identifier: MIT
//! `<name>-report.html` of `emotiondetect-video`: one self-contained page that opens from disk
//! in any browser: the summary, the annotated video, each person's thumbnail with their figures
//! and share bar, the timeline, and links to the other outputs. Pictures are embedded as
//! `data:` URIs (nothing is fetched); the links are relative, so the page works wherever the
//! output folder is moved. No script.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;

use base64::Engine as _;
use emotiondetect_core::overlay::label_colour;

use crate::report::{label_name, PersonSummary};

/// What the page shows.
pub struct Page<'a> {
    /// The input's file name, the page's title.
    pub title: &'a str,
    /// The tool's one-line summary of the run.
    pub summary: &'a str,
    /// Why some faces have no emotion, when that is so.
    pub note: Option<&'a str>,
    /// The people, as in the people CSV.
    pub people: &'a [PersonSummary],
    /// The classifier's labels, in the order of [`PersonSummary::shares`].
    pub labels: &'a [String],
    /// JPEG thumbnails by track id.
    pub thumbnails: &'a HashMap<u64, Vec<u8>>,
    /// The timeline PNG.
    pub timeline_png: &'a [u8],
    /// The annotated video's file name (in the same folder), when there is one.
    pub video: Option<&'a OsStr>,
    /// The other outputs' file names (same folder), linked at the end.
    pub files: &'a [OsString],
    /// The tracks not counted as people, in words (empty: none).
    pub left_out: String,
}

/// `text` with `&`, `<`, `>`, `"` and `'` escaped for HTML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A file name as a relative URL: every byte but ASCII letters, digits and `-._~` percent-encoded
/// (so `#`, `?`, `%`, spaces and names that are not UTF-8 cannot break the link).
pub fn href(name: &OsStr) -> String {
    name.as_bytes()
        .iter()
        .map(|&b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

fn data_uri(mime: &str, bytes: &[u8]) -> String {
    format!("data:{mime};base64,{}", base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn css_colour(label: &str) -> String {
    let [r, g, b] = label_colour(label);
    format!("#{r:02x}{g:02x}{b:02x}")
}

const STYLE: &str = "body{font:15px/1.4 sans-serif;margin:24px;color:#222;max-width:1240px}\
table{border-collapse:collapse;margin:12px 0}td,th{padding:6px 10px;border-bottom:1px solid #ddd;text-align:left;vertical-align:middle}\
th{background:#f4f4f4}img.face{width:96px;height:auto;border-radius:4px}.bar{display:flex;width:320px;height:18px;border-radius:3px;overflow:hidden}\
.bar span{display:block;height:100%}.shares{font-size:13px;color:#555}\
.key{margin-right:14px;white-space:nowrap}.key i{display:inline-block;width:14px;height:14px;margin-right:5px;vertical-align:-2px;border-radius:2px}.note{color:#a01414;font-weight:bold}img.timeline{max-width:100%}video{max-width:100%}";

/// The page's HTML.
pub fn render(page: &Page) -> String {
    let mut h = String::new();
    let title = escape(page.title);
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}: emotions</title><style>{STYLE}</style></head><body>"
    );
    let _ = write!(h, "<h1>{title}: emotions</h1><p id=\"summary\">{}</p>", escape(page.summary));
    if let Some(note) = page.note {
        let _ = write!(h, "<p class=\"note\">{}</p>", escape(note));
    }
    if let Some(video) = page.video {
        let _ = write!(h, "<video controls preload=\"metadata\" src=\"{}\"></video>", href(video));
    }
    people_table(&mut h, page);
    let _ = write!(
        h,
        "<h2>Timeline</h2><img class=\"timeline\" alt=\"emotion timeline\" src=\"{}\">",
        data_uri("image/png", page.timeline_png)
    );
    h.push_str("<h2>Files</h2><ul>");
    for f in page.files {
        let _ = write!(h, "<li><a href=\"{}\">{}</a></li>", href(f), escape(&f.to_string_lossy()));
    }
    h.push_str("</ul></body></html>\n");
    h
}

fn people_table(h: &mut String, page: &Page) {
    let _ = write!(h, "<h2>People ({})</h2>", page.people.len());
    if !page.left_out.is_empty() {
        let _ = write!(h, "<p>{}: their faces are in the frames CSV and the JSON lines.</p>", escape(&page.left_out));
    }
    h.push_str(&legend(page.labels));
    h.push_str(
        "<table id=\"people\"><tr><th>face</th><th>person</th><th>mostly</th><th>seen (s)</th><th>on screen (s)</th>\
         <th>classified (s)</th><th>detector confidence (mean / min)</th><th>share of frames</th></tr>",
    );
    for p in page.people {
        let face = match page.thumbnails.get(&p.id) {
            Some(jpeg) => format!("<img class=\"face\" alt=\"person #{}\" src=\"{}\">", p.id, data_uri("image/jpeg", jpeg)),
            None => String::new(),
        };
        let _ = write!(
            h,
            "<tr id=\"person-{id}\"><td>{face}</td><td>#{id}</td><td>{}</td><td>{:.2}–{:.2}</td><td>{:.1}</td><td>{:.1}</td><td>{:.2} / {:.2}</td><td>{}</td></tr>",
            escape(label_name(page.labels, p.dominant)),
            p.first_seen,
            p.last_seen,
            p.seconds_seen,
            p.seconds_classified,
            p.mean_confidence,
            p.min_confidence,
            share_bar(p, page.labels),
            id = p.id,
        );
    }
    h.push_str("</table>");
}

/// Each emotion's share as a coloured part of a bar (the share in its tooltip), and the three
/// largest in words under it.
fn share_bar(p: &PersonSummary, labels: &[String]) -> String {
    let parts: Vec<(&str, f64)> = p.labelled_shares(labels).filter(|(_, _, s)| *s > 0.0).map(|(_, l, s)| (l, s)).collect();
    let spans: String = parts
        .iter()
        .map(|(l, s)| {
            let pct = 100.0 * s;
            format!("<span style=\"width:{pct:.2}%;background:{}\" title=\"{} {pct:.0} %\"></span>", css_colour(l), escape(l))
        })
        .collect();
    let mut top = parts.clone();
    top.sort_by(|a, b| b.1.total_cmp(&a.1));
    let words: Vec<String> = top.iter().take(3).map(|(l, s)| format!("{} {:.0} %", escape(l), 100.0 * s)).collect();
    format!("<div class=\"bar\">{spans}</div><div class=\"shares\">{}</div>", words.join(", "))
}

/// One swatch per label (and `unknown`), in the overlay's colours.
fn legend(labels: &[String]) -> String {
    let names = labels.iter().map(String::as_str).chain(std::iter::once(label_name(labels, None)));
    let items: String =
        names.map(|l| format!("<span class=\"key\"><i style=\"background:{}\"></i>{}</span>", css_colour(l), escape(l))).collect();
    format!("<p class=\"legend\">{items}</p>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_break_the_page() {
        assert_eq!(escape("<a href='x'>&\"</a>"), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
        assert_eq!(href(OsStr::new("my clip #1?.mp4")), "my%20clip%20%231%3F.mp4");
        assert_eq!(href(OsStr::new("caf\u{e9}.csv")), "caf%C3%A9.csv");
        assert_eq!(href(OsStr::from_bytes(b"caf\xe9.csv")), "caf%E9.csv");
    }
}
