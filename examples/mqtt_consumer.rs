// SPDX-License-Identifier: MIT
//! Aggregates what many cameras publish (`pipelines/cameras.sh`, or any
//! `emotionpublish uri=`): subscribes to `TOPIC/#` and prints, every 2 s, the latest emotion of every
//! person seen in the last 10 s, per camera (`source_id`). It reads both modes: frame reports
//! (`mode=frames`) and events (`mode=events`, read with the typed `emotiondetect_core::events`):
//! a person's `end` prints one line (`left`, how long, their dominant emotion and shares) and
//! `TOPIC/available` prints when a camera goes online or offline.
//!
//!     cargo run --release --example mqtt-consumer -- mqtt://127.0.0.1/cameras

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use emotiondetect_core::events::{Event as TrackEvent, EventType};
use emotiondetect_core::frame_report::FrameReport;
use emotiondetect_core::publish::MqttTarget;
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};

/// The latest of one person on one camera.
struct Seen {
    emotion: String,
    confidence: f32,
    at: Instant,
    utc: String,
    /// From events: kept until the person's `end`, not for 10 s.
    until_end: bool,
}

fn main() -> Result<(), String> {
    let uri = std::env::args().nth(1).ok_or("usage: mqtt-consumer mqtt://HOST[:PORT]/TOPIC")?;
    let target = MqttTarget::parse(&uri)?;
    let mut options = MqttOptions::new(format!("emotiondetect-consumer-{}", std::process::id()), target.host.clone(), target.port);
    options.set_keep_alive(Duration::from_secs(5)).set_max_packet_size(16 << 20, 16 << 20);
    if let Some(user) = &target.username {
        options.set_credentials(user.clone(), target.password.clone().unwrap_or_default());
    }
    let (client, mut connection) = Client::new(options, 64);
    let topic = format!("{}/#", target.topic.trim_end_matches('/'));
    let mut people: BTreeMap<(String, u64), Seen> = BTreeMap::new();
    let mut printed = Instant::now();
    for event in connection.iter() {
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => client.subscribe(&topic, QoS::AtLeastOnce).map_err(|e| e.to_string())?,
            Ok(Event::Incoming(Packet::Publish(p))) => {
                let text = String::from_utf8_lossy(&p.payload);
                if let Some(camera) = p.topic.strip_suffix("/available") {
                    println!("camera {camera} {text}");
                } else if let Ok(event) = TrackEvent::from_json(&text) {
                    on_event(&mut people, event);
                } else {
                    match FrameReport::from_json(&text) {
                        Ok(frame) => on_frame(&mut people, frame),
                        Err(e) => eprintln!("{}: neither a frame report nor an event: {e}", p.topic),
                    }
                }
            }
            Ok(_) => {}
            Err(e) => {
                eprintln!("broker {target}: {e}; retrying");
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        if printed.elapsed() >= Duration::from_secs(2) {
            people.retain(|_, s| s.until_end || s.at.elapsed() < Duration::from_secs(10));
            println!(
                "--- {} people on {} cameras",
                people.len(),
                people.keys().map(|k| &k.0).collect::<std::collections::BTreeSet<_>>().len()
            );
            for ((camera, id), s) in &people {
                println!("{camera:<16} #{id:<4} {:<9} {:.2}  {}", s.emotion, s.confidence, s.utc);
            }
            printed = Instant::now();
        }
    }
    Ok(())
}

fn on_frame(people: &mut BTreeMap<(String, u64), Seen>, frame: FrameReport) {
    for face in frame.objects {
        let seen = Seen {
            emotion: face.emotion.label,
            confidence: face.emotion.confidence,
            at: Instant::now(),
            utc: frame.timestamp_utc.clone().unwrap_or_default(),
            until_end: false,
        };
        people.insert((frame.source_id.clone(), face.id), seen);
    }
}

/// `new` and `update` keep the person's dominant emotion; `end` removes them with one line.
fn on_event(people: &mut BTreeMap<(String, u64), Seen>, e: TrackEvent) {
    let key = (e.source_id.clone(), e.track_id);
    if e.kind == EventType::End {
        people.remove(&key);
        let mut shares: Vec<(&String, &f64)> = e.after.shares.iter().filter(|(_, s)| **s > 0.0).collect();
        shares.sort_by(|a, b| b.1.total_cmp(a.1));
        let shares: Vec<String> = shares.iter().take(3).map(|(l, s)| format!("{l} {:.0} %", 100.0 * **s)).collect();
        println!(
            "{:<16} #{:<4} left after {:.1} s: mostly {} ({})",
            e.source_id,
            e.track_id,
            e.after.duration,
            e.after.dominant_emotion,
            shares.join(", ")
        );
        return;
    }
    let utc = e.timestamp_utc.unwrap_or_default();
    let seen = Seen { emotion: e.after.dominant_emotion, confidence: e.after.best_confidence, at: Instant::now(), utc, until_end: true };
    people.insert(key, seen);
}
