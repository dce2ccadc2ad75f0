// SPDX-License-Identifier: MIT
fn main() {
    gst_plugin_version_helper::info();
    // The plugin's origin (gst-inspect-1.0's "Origin URL"): the package's `repository` when it
    // has one; the project has no public repository yet, so otherwise the source tree this build
    // came from, rather than an invented URL.
    let origin = match std::env::var("CARGO_PKG_REPOSITORY") {
        Ok(r) if !r.is_empty() => r,
        _ => format!("file://{}", std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default()),
    };
    println!("cargo:rustc-env=EMOTIONDETECT_ORIGIN={origin}");
    println!("cargo:rerun-if-env-changed=CARGO_PKG_REPOSITORY");
}
