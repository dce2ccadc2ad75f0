// SPDX-License-Identifier: MIT
//! `emotiondetect-web`: the browser app of emotiondetect (webcam, photo, video, live streams)
//! and its HTTP API, on 127.0.0.1:8080 by default. The element runs in this process
//! (registered from the crate, as `emotiondetect-video` does); all its pipelines share one
//! model instance ([`engine::MODEL_INSTANCE_ID`]). The page's HTML, JS and CSS are embedded in
//! the binary. `--help` lists the options; docs/web.md describes the API.

mod config;
mod engine;
mod jobs;
mod routes;
mod samples;
mod server;
mod sources;
mod upload;

use std::process::ExitCode;
use std::sync::Arc;

const TOOL: &str = "emotiondetect-web";

fn main() -> ExitCode {
    // A bad command line: clap's message with the usage line, exit status 2; --help: exit 0.
    let config = config::parse_args(std::env::args_os().skip(1)).unwrap_or_else(|e| e.exit());
    match serve(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{TOOL}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Loads the models, starts the sources and serves until SIGINT/SIGTERM.
fn serve(config: config::Config) -> Result<(), String> {
    // Uploads, reports and the MP4s GStreamer writes are the server's alone (0600, dirs 0700),
    // whatever umask the server was started with.
    // SAFETY: umask(2) cannot fail; no other thread creates files yet.
    unsafe { libc::umask(0o077) };
    emotiondetect_tools::video::init().map_err(|f| f.message)?;
    let models = engine::Models::load()?;
    let jobs = jobs::Jobs::new(config.max_kept_videos)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| format!("cannot start tokio: {e}"))?;
    let listener =
        runtime.block_on(tokio::net::TcpListener::bind(config.listen)).map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let samples = match config.samples.clone().or_else(samples::default_dir) {
        Some(dir) => samples::load(&dir, config.max_image_bytes)?,
        None => Vec::new(),
    };
    let sources: Vec<_> = config.sources.iter().map(sources::Source::start).collect();
    let app = Arc::new(routes::App::new(config, models.device(), jobs, sources, samples));
    println!("{TOOL}: listening on http://{addr}/ (models on {}, temporary files in {})", app.device, app.jobs.root().display());
    let router = routes::router(app.clone());
    let limits = server::Limits {
        header_timeout: std::time::Duration::from_secs(app.config.header_timeout),
        max_connections: app.config.max_connections,
    };
    runtime.block_on(async move {
        tokio::select! {
            _ = server::serve(listener, router, limits) => {}
            _ = shutdown_signal() => {}
        }
    });
    app.jobs.stop_all();
    // Open streams (MJPEG, SSE, WebSockets) end with the runtime.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    for s in &app.sources {
        s.stop();
    }
    drop(models);
    println!("{TOOL}: stopped");
    Ok(())
}

/// SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}
