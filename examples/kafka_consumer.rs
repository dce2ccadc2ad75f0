// SPDX-License-Identifier: MIT
//! Aggregates per camera what many `emotionpublish uri=kafka://…` publish to one topic, keyed
//! by camera (`source-id`): the scale-out recipe of docs/surveillance.md. Run one per machine
//! with the same `--group` and Kafka shares the topic's partitions among them, each camera's
//! messages staying in order on one of them.
//!
//! It reads both modes: frame reports (`mode=frames`: faces per emotion) and events
//! (`mode=events`, read with the typed `emotiondetect_core::events`: a person's `end` prints one
//! line), and the `TOPIC.available` topic (a camera online or offline). Every `--every` seconds
//! it prints one line per camera; at the end (`--idle` seconds without a message, or
//! `--max-messages`) a summary, as JSON with `--json`.
//!
//!     cargo run --release --example kafka-consumer -- kafka://127.0.0.1:9092/emotions
//!     cargo run --release --example kafka-consumer -- kafka://b1,b2/emotions --group dashboards

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use emotiondetect_core::events::{Event as TrackEvent, EventType};
use emotiondetect_core::frame_report::FrameReport;
use emotiondetect_core::kafka::KafkaTarget;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};

const USAGE: &str = "usage: kafka-consumer kafka://HOST[:PORT][,...]/TOPIC[?PROPERTY=VALUE...] [--group ID] [--every SECONDS] \
                     [--idle SECONDS] [--max-messages N] [--json]";

/// What one camera sent, as far as this consumer has read.
#[derive(Default, serde::Serialize)]
struct Camera {
    messages: u64,
    frames: u64,
    events: u64,
    /// The partitions its messages came from (one, when keyed).
    partitions: BTreeSet<i32>,
    /// Track ids with a `new` event, or seen in a frame.
    people: BTreeSet<u64>,
    /// People whose `end` came (events only).
    ended: u64,
    /// Faces per emotion (frames), or people per dominant emotion at their `end` (events).
    emotions: BTreeMap<String, u64>,
    /// The latest availability message (`online`, `offline`).
    available: Option<String>,
}

struct Args {
    target: KafkaTarget,
    group: Option<String>,
    every: f64,
    idle: Option<f64>,
    max_messages: Option<u64>,
    json: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let target = KafkaTarget::parse(&args.next().ok_or(USAGE)?).map_err(|e| e.to_string())?;
    let mut out = Args { target, group: None, every: 5.0, idle: None, max_messages: None, json: false };
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value; {USAGE}"));
        let number = |v: String, name: &str| {
            v.parse::<f64>().ok().filter(|x| x.is_finite() && *x > 0.0).ok_or(format!("{name} '{v}': not a positive number"))
        };
        match a.as_str() {
            "--group" => out.group = Some(value("--group")?),
            "--every" => out.every = number(value("--every")?, "--every")?,
            "--idle" => out.idle = Some(number(value("--idle")?, "--idle")?),
            "--max-messages" => out.max_messages = Some(number(value("--max-messages")?, "--max-messages")? as u64),
            "--json" => out.json = true,
            other => return Err(format!("unknown argument '{other}'; {USAGE}")),
        }
    }
    Ok(out)
}

/// A consumer of the topic and its availability topic: in `group` (Kafka shares the partitions
/// among its members and keeps their offsets), else every partition from the start.
fn consumer(args: &Args) -> Result<BaseConsumer, String> {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &args.target.brokers).set("auto.offset.reset", "earliest");
    for (k, v) in &args.target.properties {
        config.set(k, v);
    }
    config.set("group.id", args.group.as_deref().unwrap_or("emotiondetect-kafka-consumer"));
    let consumer: BaseConsumer = config.create().map_err(|e| format!("{}: {e}", args.target))?;
    let topics = [args.target.topic.clone(), format!("{}.available", args.target.topic)];
    if args.group.is_some() {
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer.subscribe(&names).map_err(|e| e.to_string())?;
        return Ok(consumer);
    }
    let mut assignment = TopicPartitionList::new();
    for topic in &topics {
        let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10)).map_err(|e| format!("{}: {e}", args.target))?;
        for p in metadata.topics().iter().flat_map(|t| t.partitions()) {
            assignment.add_partition_offset(topic, p.id(), Offset::Beginning).map_err(|e| e.to_string())?;
        }
    }
    consumer.assign(&assignment).map_err(|e| e.to_string())?;
    Ok(consumer)
}

fn main() -> Result<(), String> {
    let args = parse_args()?;
    let consumer = consumer(&args)?;
    let mut cameras: BTreeMap<String, Camera> = BTreeMap::new();
    let (mut total, mut last_message, mut printed) = (0u64, Instant::now(), Instant::now());
    loop {
        match consumer.poll(Duration::from_millis(200)) {
            // librdkafka retries by itself: an error (a topic not created yet, a broker away) is
            // only told.
            Some(Err(e)) => eprintln!("{}: {e}", args.target),
            Some(Ok(m)) => {
                let key = String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned();
                let payload = String::from_utf8_lossy(m.payload().unwrap_or_default());
                let camera = cameras.entry(key).or_default();
                if m.topic() == args.target.topic {
                    camera.messages += 1;
                    camera.partitions.insert(m.partition());
                    on_message(camera, m.key().map(String::from_utf8_lossy).as_deref().unwrap_or(""), &payload);
                    total += 1;
                } else {
                    camera.available = Some(payload.into_owned());
                }
                last_message = Instant::now();
            }
            None => {}
        }
        if printed.elapsed().as_secs_f64() >= args.every {
            print_lines(&cameras);
            printed = Instant::now();
        }
        let idle = args.idle.is_some_and(|s| last_message.elapsed().as_secs_f64() >= s);
        if idle || args.max_messages.is_some_and(|n| total >= n) {
            break;
        }
    }
    if args.json {
        println!("{}", serde_json::to_string(&cameras).map_err(|e| e.to_string())?);
    } else {
        print_lines(&cameras);
    }
    Ok(())
}

/// A frame report counts its faces per emotion; an event its person (and at `end` one line).
fn on_message(camera: &mut Camera, key: &str, payload: &str) {
    if let Ok(e) = TrackEvent::from_json(payload) {
        camera.events += 1;
        camera.people.insert(e.track_id);
        if e.kind == EventType::End {
            camera.ended += 1;
            *camera.emotions.entry(e.after.dominant_emotion.clone()).or_default() += 1;
            println!("{key:<16} #{:<4} left after {:.1} s: mostly {}", e.track_id, e.after.duration, e.after.dominant_emotion);
        }
        return;
    }
    match FrameReport::from_json(payload) {
        Ok(frame) => {
            camera.frames += 1;
            for face in frame.objects {
                camera.people.insert(face.id);
                *camera.emotions.entry(face.emotion.label).or_default() += 1;
            }
        }
        Err(e) => eprintln!("{key}: neither a frame report nor an event: {e}"),
    }
}

fn print_lines(cameras: &BTreeMap<String, Camera>) {
    for (name, c) in cameras.iter().filter(|(_, c)| c.messages > 0) {
        let counted: u64 = c.emotions.values().sum();
        let mut top: Vec<(&String, &u64)> = c.emotions.iter().collect();
        top.sort_by(|a, b| b.1.cmp(a.1));
        let top: Vec<String> = top.iter().take(3).map(|(l, n)| format!("{l} {:.0} %", 100.0 * **n as f64 / counted as f64)).collect();
        println!(
            "{name:<16} {:>6} messages on partition {:?}, {} people, {}{}",
            c.messages,
            c.partitions,
            c.people.len(),
            top.join(", "),
            c.available.as_deref().map(|a| format!(" [{a}]")).unwrap_or_default()
        );
    }
}
