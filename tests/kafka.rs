// SPDX-License-Identifier: MIT
//! Publishing to a real Kafka broker (`uri=kafka://...`): the broker `scripts/kafka-broker.sh`
//! starts on 127.0.0.1 at a free port (Tansu, an Apache Kafka compatible broker; the script
//! installs it on first use), read back with librdkafka's consumer. Every frame of Megamind
//! arrives keyed by its source id, in order on one partition; a broker killed and restarted
//! mid-stream never stalls the video and every message is delivered or counted; a broker that
//! accepts TCP and never answers costs at most `flush-timeout`; events and the availability
//! topic; bad URIs fail NULL->READY.

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use emotiondetect_core::events::{Event, EventType};
use emotiondetect_core::frame_report::FrameReport;
use gst::prelude::*;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};

const MEGAMIND_FRAMES: usize = 270;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A broker started by `scripts/kafka-broker.sh start PORT`, stopped when dropped.
struct Broker {
    port: u16,
}

impl Broker {
    fn start(port: u16) -> Broker {
        script("start", port);
        Broker { port }
    }

    /// Kills the broker (SIGKILL, a crash): its in-memory log is gone with it.
    fn kill(&self) {
        script("kill", self.port);
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        script("stop", self.port);
    }
}

fn script(action: &str, port: u16) {
    let script = repo_dir().join("scripts/kafka-broker.sh");
    let out = Command::new("bash").arg(&script).arg(action).arg(port.to_string()).output().expect("bash runs");
    assert!(
        out.status.success(),
        "{} {action} {port} failed: {}{}",
        script.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes `topic` through a metadata request that may create it.
fn create_topic(port: u16, topic: &str) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", format!("127.0.0.1:{port}"))
        .set("allow.auto.create.topics", "true")
        .create()
        .expect("a client");
    consumer.fetch_metadata(Some(topic), Duration::from_secs(10)).expect("the topic's metadata");
}

/// One consumed message.
struct Consumed {
    key: String,
    partition: i32,
    payload: String,
}

/// Every message of `topic` from the start of each partition, once `n` have arrived or nothing
/// came for 3 s (at most `timeout`).
fn consume(port: u16, topic: &str, n: usize, timeout: Duration) -> Vec<Consumed> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", format!("127.0.0.1:{port}"))
        .set("group.id", "emotiondetect-test")
        .set("enable.auto.commit", "false")
        .set("allow.auto.create.topics", "true")
        .create()
        .expect("a consumer");
    let start = Instant::now();
    let mut assignment = TopicPartitionList::new();
    // A topic the producer has just created may have no partitions in the first answer.
    while assignment.count() == 0 {
        assert!(start.elapsed() < Duration::from_secs(10), "{topic}: no partitions");
        let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10)).expect("the topic's metadata");
        for p in metadata.topics().iter().flat_map(|t| t.partitions()) {
            assignment.add_partition_offset(topic, p.id(), Offset::Beginning).unwrap();
        }
    }
    consumer.assign(&assignment).unwrap();
    let (start, mut last, mut got) = (Instant::now(), Instant::now(), Vec::new());
    while got.len() < n && last.elapsed() < Duration::from_secs(3) && start.elapsed() < timeout {
        let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) else { continue };
        got.push(Consumed {
            key: String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned(),
            partition: m.partition(),
            payload: String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned(),
        });
        last = Instant::now();
    }
    got
}

fn frames(got: &[Consumed]) -> Vec<FrameReport> {
    got.iter().map(|m| FrameReport::from_json(&m.payload).unwrap_or_else(|e| panic!("not a FrameReport: {e}: {}", m.payload))).collect()
}

/// The frames' PTS in the order consumed, and whether that order is strictly increasing.
fn in_order(reports: &[FrameReport]) -> bool {
    reports.windows(2).all(|w| w[0].timestamp.unwrap() < w[1].timestamp.unwrap())
}

#[test]
fn every_frame_is_consumed_keyed_by_source_id_in_order_on_one_partition() {
    let broker = Broker::start(free_port());
    let run = run_publishing(&format!("uri=kafka://127.0.0.1:{}/emotions source-id=door-7", broker.port), false, |_| {});
    assert_eq!((run.arrivals.len(), run.dropped, run.delivered), (MEGAMIND_FRAMES, 0, MEGAMIND_FRAMES as u64), "{:?}", run.warnings);
    assert!(run.warnings.is_empty(), "{:?}", run.warnings);
    let got = consume(broker.port, "emotions", MEGAMIND_FRAMES, Duration::from_secs(30));
    assert_eq!(got.len(), MEGAMIND_FRAMES, "one message per frame");
    assert!(got.iter().all(|m| m.key == "door-7"), "keyed by source-id");
    assert!(got.iter().all(|m| m.partition == got[0].partition), "one camera, one partition");
    let reports = frames(&got);
    assert!(in_order(&reports), "in order");
    assert!(reports.iter().all(|r| r.source_id == "door-7"));
    let faces: usize = reports.iter().map(|r| r.objects.len()).sum();
    assert!(faces > 200, "faces {faces}");

    // Without source-id the key is the report's own source_id (the stream's URI).
    let run = run_publishing(&format!("uri=kafka://127.0.0.1:{}/unnamed", broker.port), false, |_| {});
    assert_eq!(run.delivered, MEGAMIND_FRAMES as u64);
    let got = consume(broker.port, "unnamed", MEGAMIND_FRAMES, Duration::from_secs(30));
    let report = FrameReport::from_json(&got[0].payload).unwrap();
    assert!(!report.source_id.is_empty() && got.iter().all(|m| m.key == report.source_id), "key {} vs {}", got[0].key, report.source_id);
}

#[test]
fn a_broker_killed_and_restarted_never_stalls_the_video_and_every_message_is_delivered_or_counted() {
    let broker = Broker::start(free_port());
    // Real time (11 s): the broker is killed at 3 s and back at 5.5 s; the queue holds 1 s.
    let props = format!("uri=kafka://127.0.0.1:{}/restart queue-size=24", broker.port);
    let (mut stopped, mut restarted) = (false, false);
    let run = run_publishing(&props, true, |t| {
        if !stopped && t > Duration::from_secs(3) {
            broker.kill();
            stopped = true;
        }
        if stopped && !restarted && t > Duration::from_millis(5500) {
            script("start", broker.port);
            // Kafka keeps its topics across a restart; the in-memory broker needs it made again
            // (it acknowledges produce requests for a topic it does not know, and drops them).
            create_topic(broker.port, "restart");
            restarted = true;
        }
    });
    assert!(restarted, "the broker was restarted mid-stream");
    assert_eq!(run.arrivals.len(), MEGAMIND_FRAMES);
    let gap = run.arrivals.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    println!("largest gap at the sink {gap:?}; delivered {}, dropped {}; warnings {:?}", run.delivered, run.dropped, run.warnings);
    assert!(gap < Duration::from_millis(500), "the pipeline stalled for {gap:?}");
    assert_eq!(run.delivered + run.dropped, MEGAMIND_FRAMES as u64, "every message delivered or counted");
    assert!(run.dropped > 0, "a 2.5 s outage with a 1 s queue drops messages");
    // The restarted broker (in-memory) holds what was delivered after the restart: the frames
    // up to the end, in order.
    let got = frames(&consume(broker.port, "restart", MEGAMIND_FRAMES, Duration::from_secs(30)));
    assert!(!got.is_empty() && (got.len() as u64) < run.delivered, "{} consumed after the restart", got.len());
    assert!(in_order(&got), "in order");
    assert!(got.last().unwrap().timestamp.unwrap() > 10_000_000_000, "messages up to the end of the video");
    let warned = format!("{} messages dropped", run.dropped);
    assert!(run.warnings.iter().any(|w| w.contains("was away for") && w.contains(&warned)), "{:?}", run.warnings);
}

#[test]
fn a_broker_that_accepts_tcp_and_never_answers_costs_at_most_the_flush_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts and reads, never writes: librdkafka's requests are never answered.
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut s = stream;
                let mut buf = [0u8; 4096];
                while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
            });
        }
    });
    let start = Instant::now();
    let run = run_publishing(&format!("uri=kafka://127.0.0.1:{port}/silent flush-timeout=1000"), false, |_| {});
    let took = start.elapsed();
    println!("{took:?}; delivered {}, dropped {}; warnings {:?}", run.delivered, run.dropped, run.warnings);
    assert_eq!(run.arrivals.len(), MEGAMIND_FRAMES, "the video ran to the end");
    assert_eq!((run.delivered, run.dropped), (0, MEGAMIND_FRAMES as u64), "nothing delivered, everything counted");
    let gap = run.arrivals.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    assert!(gap < Duration::from_millis(500), "the pipeline stalled for {gap:?}");
    assert!(took < Duration::from_secs(60), "{took:?}");
    assert!(run.warnings.iter().any(|w| w.contains(&format!("{MEGAMIND_FRAMES} messages not delivered"))), "{:?}", run.warnings);
}

#[test]
fn events_reach_kafka_once_per_person_with_the_camera_online_then_offline() {
    let broker = Broker::start(free_port());
    let props = format!("uri=kafka://127.0.0.1:{}/events mode=events source-id=lobby", broker.port);
    let run = run_publishing(&props, false, |_| {});
    assert_eq!(run.dropped, 0, "{:?}", run.warnings);
    let got = consume(broker.port, "events", usize::MAX, Duration::from_secs(20));
    assert!(got.iter().all(|m| m.key == "lobby"));
    let events: Vec<Event> = got.iter().map(|m| Event::from_json(&m.payload).unwrap_or_else(|e| panic!("{e}: {}", m.payload))).collect();
    let ids: std::collections::BTreeSet<u64> = events.iter().map(|e| e.track_id).collect();
    assert!(ids.len() >= 3, "people {ids:?}");
    for id in &ids {
        let kinds: Vec<EventType> = events.iter().filter(|e| e.track_id == *id).map(|e| e.kind).collect();
        assert_eq!(kinds.first(), Some(&EventType::New), "#{id}: {kinds:?}");
        assert_eq!(kinds.last(), Some(&EventType::End), "#{id}: {kinds:?}");
        assert_eq!(kinds.iter().filter(|k| **k != EventType::Update).count(), 2, "#{id}: one new, one end: {kinds:?}");
    }
    assert!(events.len() * 20 <= MEGAMIND_FRAMES, "{} events for {MEGAMIND_FRAMES} frames", events.len());
    let available: Vec<(String, String)> =
        consume(broker.port, "events.available", 2, Duration::from_secs(10)).into_iter().map(|m| (m.key, m.payload)).collect();
    assert_eq!(available, [("lobby".to_string(), "online".to_string()), ("lobby".to_string(), "offline".to_string())]);

    // The aggregating consumer examples, Rust and Python, read the same topic and agree.
    let uri = format!("kafka://127.0.0.1:{}/events", broker.port);
    let exe = std::env::current_exe().unwrap();
    let consumer = require_file(&exe.parent().unwrap().join("../examples/kafka-consumer"), "the consumer example", "cargo test builds it");
    let rust = consumer_summary(Command::new(consumer).arg(&uri), ids.len());
    let lobby = &rust["lobby"];
    assert_eq!(lobby["events"], events.len());
    assert_eq!(lobby["ended"], ids.len());
    assert_eq!(lobby["available"], "offline");
    let python = consumer_summary(Command::new(python()).arg(repo_dir().join("examples/python/kafka_consumer.py")).arg(&uri), ids.len());
    assert_eq!(python, rust, "the Python consumer's summary");
}

/// Runs a consumer example with `--idle 3 --json`; checks it printed one line per person's end
/// and returns its JSON summary.
fn consumer_summary(cmd: &mut Command, people: usize) -> serde_json::Value {
    let out = cmd.args(["--idle", "3", "--json"]).output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{cmd:?}: {stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.lines().filter(|l| l.contains("left after")).count(), people, "{stdout}");
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("a JSON summary")
}

#[test]
fn bad_kafka_uris_fail_at_ready_naming_the_problem() {
    init();
    for (uri, why) in [
        ("kafka://127.0.0.1:9092", "no /TOPIC"),
        ("kafka://127.0.0.1/a/b", "characters other than"),
        ("kafka://127.0.0.1/t?no.such.property=1", "No such configuration property: \"no.such.property\""),
        ("kafka://127.0.0.1/t?security.protocol=ssl&ssl.ca.location=/nonexistent/ca.pem", "/nonexistent/ca.pem"),
    ] {
        let err = ready_error(&publisher(&[("uri", uri)]));
        assert!(err.matches(gst::LibraryError::Settings), "{uri}: {err}");
        assert!(err.message().contains("uri '") && err.message().contains(why), "{uri}: {}", err.message());
    }
    // A password given in the URI is never shown.
    let e = publisher(&[("uri", "kafka://127.0.0.1/t?sasl.password=hunter2&no.such.property=1")]);
    let err = ready_error(&e);
    assert!(!err.message().contains("hunter2"), "{}", err.message());
    assert!(!e.property::<String>("uri").contains("hunter2"));
}
