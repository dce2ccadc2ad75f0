// SPDX-License-Identifier: MIT
//! Aggregates what many cameras publish (`pipelines/mqtt-cameras.sh`, or any
//! `emotionpublish uri=`): subscribes to `TOPIC/#` and prints, every 2 s, the latest emotion of every
//! person seen in the last 10 s, per camera (`source_id`).
//!
//!     cargo run --release --example mqtt-consumer -- mqtt://127.0.0.1/cameras

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use emotiondetect_core::frame_report::FrameReport;
use emotiondetect_core::publish::MqttTarget;
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};

/// The latest of one person on one camera.
struct Seen {
    emotion: String,
    confidence: f32,
    at: Instant,
    utc: String,
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
            Ok(Event::Incoming(Packet::Publish(p))) => match FrameReport::from_json(&String::from_utf8_lossy(&p.payload)) {
                Ok(frame) => {
                    for face in frame.objects {
                        let seen = Seen {
                            emotion: face.emotion.label,
                            confidence: face.emotion.confidence,
                            at: Instant::now(),
                            utc: frame.timestamp_utc.clone().unwrap_or_default(),
                        };
                        people.insert((frame.source_id.clone(), face.id), seen);
                    }
                }
                Err(e) => eprintln!("{}: not a frame report: {e}", p.topic),
            },
            Ok(_) => {}
            Err(e) => {
                eprintln!("broker {target}: {e}; retrying");
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        if printed.elapsed() >= Duration::from_secs(2) {
            people.retain(|_, s| s.at.elapsed() < Duration::from_secs(10));
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
