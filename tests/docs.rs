// SPDX-License-Identifier: MIT
//! The manual stays findable and complete: every relative link of README.md and docs/*.md points
//! to a file that exists (and, with `#anchor`, to a heading of that page), README stays a short
//! entry point, and every property of both elements, as `gst-inspect-1.0` lists them, is on the
//! element page (docs/element.md).

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use gst::prelude::*;

/// The most lines README.md may have: what it is, the two commands, a quick start per user, links.
const README_MAX_LINES: usize = 250;

/// README.md and every page of docs/.
fn pages() -> Vec<PathBuf> {
    let root = common::repo_dir();
    let mut pages = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

/// The page's lines outside fenced and indented code blocks.
fn prose(text: &str) -> Vec<&str> {
    let mut fenced = false;
    text.lines()
        .filter(|l| {
            if l.trim_start().starts_with("```") {
                fenced = !fenced;
                return false;
            }
            !fenced && !l.starts_with("    ")
        })
        .collect()
}

/// The targets of the `[text](target)` links of `text`'s prose.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in prose(text) {
        let mut rest = line;
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let Some(end) = after.find(')') else { break };
            out.push(after[..end].to_string());
            rest = &after[end..];
        }
    }
    out
}

/// GitHub's anchor of a heading: lower case, punctuation other than `-` and `_` removed, spaces
/// as `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a page's headings.
fn anchors(page: &Path) -> HashSet<String> {
    let text = std::fs::read_to_string(page).unwrap_or_default();
    prose(&text).iter().filter_map(|l| l.trim_start_matches('#').strip_prefix(' ').filter(|_| l.starts_with('#'))).map(slug).collect()
}

/// Where a relative link leads: None when it is fine, else why not.
fn broken(page: &Path, target: &str) -> Option<String> {
    if target.contains("://") || target.starts_with("mailto:") {
        return None;
    }
    let (path, anchor) = target.split_once('#').map_or((target, None), |(p, a)| (p, Some(a)));
    let file = if path.is_empty() { page.to_path_buf() } else { page.parent().unwrap().join(path) };
    if !file.exists() {
        return Some(format!("{} does not exist", file.display()));
    }
    match anchor {
        Some(a) if file.extension().is_some_and(|e| e == "md") && !anchors(&file).contains(a) => {
            Some(format!("{} has no heading #{a} (it has {:?})", file.display(), anchors(&file)))
        }
        _ => None,
    }
}

#[test]
fn every_relative_link_of_the_readme_and_the_docs_leads_somewhere() {
    let mut dead = Vec::new();
    let mut checked = 0;
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for target in links(&text) {
            checked += 1;
            if let Some(why) = broken(&page, &target) {
                dead.push(format!("{}: ({target}): {why}", page.display()));
            }
        }
    }
    println!("{checked} links checked in {} pages", pages().len());
    assert!(checked > 20, "only {checked} links found: is the link reader broken?");
    assert!(dead.is_empty(), "dead links:\n{}", dead.join("\n"));
}

#[test]
fn the_readme_is_short_and_links_each_page_of_the_manual() {
    let readme = std::fs::read_to_string(common::repo_dir().join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(lines <= README_MAX_LINES, "README.md has {lines} lines; the manual goes to docs/ (at most {README_MAX_LINES})");
    let linked: HashSet<String> = links(&readme).into_iter().map(|t| t.split('#').next().unwrap().to_string()).collect();
    for page in pages().iter().skip(1) {
        let name = format!("docs/{}", page.file_name().unwrap().to_string_lossy());
        assert!(linked.contains(&name), "README.md does not link {name}");
    }
}

#[test]
fn every_property_of_both_elements_is_on_the_element_page() {
    common::init();
    let page = std::fs::read_to_string(common::repo_dir().join("docs/element.md")).unwrap();
    let mut missing = Vec::new();
    for factory in ["emotiondetect", "emotionpublish"] {
        let element = gst::ElementFactory::make(factory).build().unwrap_or_else(|e| panic!("{factory}: {e}"));
        for p in element.list_properties() {
            // GstObject's own (`name`, `parent`) are every element's.
            if p.owner_type() == gst::Object::static_type() {
                continue;
            }
            if !page.contains(&format!("`{}`", p.name())) {
                missing.push(format!("{factory}: {}", p.name()));
            }
        }
    }
    assert!(missing.is_empty(), "properties of gst-inspect-1.0 not in docs/element.md: {missing:?}");
}
