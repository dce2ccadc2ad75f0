// SPDX-License-Identifier: MIT
//! Publishing each message (a frame's [`crate::frame_report::FrameReport`] JSON or an
//! [`crate::events::Event`]) to a Kafka topic: `emotionpublish uri=kafka://…`, as DL Streamer's
//! `gvametapublish method=kafka` and DeepStream's `nvmsgbroker` Kafka adapter do.
//!
//! The client is librdkafka (through [`rdkafka`]). The message key is the source id, so that one
//! camera's messages stay in order in one partition; the value is the JSON unchanged.
//!
//! The guarantees are [`crate::publish`]'s: [`KafkaPublisher::publish`] never blocks (librdkafka
//! queues at most `queue_size` messages; past that the new message is refused and counted as
//! dropped), librdkafka's own thread sends and retries, and every message ends either delivered
//! (acknowledged by the broker, `acks=all` by default) or counted in
//! [`KafkaPublisher::dropped`] (refused by the full queue, failed, or written off by a
//! [`KafkaPublisher::flush`] that gave up or by [`KafkaPublisher::close`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, PurgeConfig, ThreadedProducer};

use crate::error::{Error, Result};
use crate::publish::{split_host_port, Notice, OFFLINE, ONLINE};

/// Environment variables read for SASL credentials when the URI has none (`sasl.username`,
/// `sasl.password`), so that a password need not be on a command line.
pub const USERNAME_ENV: &str = "EMOTIONDETECT_KAFKA_USERNAME";
pub const PASSWORD_ENV: &str = "EMOTIONDETECT_KAFKA_PASSWORD";

/// Kafka's port when the URI gives none.
pub const DEFAULT_PORT: u16 = 9092;

/// librdkafka properties the URI may not set: the element sets them from the URI's brokers and
/// from `queue-size`.
const RESERVED: [&str; 3] = ["bootstrap.servers", "metadata.broker.list", "queue.buffering.max.messages"];

/// Where to publish: `kafka://HOST[:PORT][,HOST[:PORT]…]/TOPIC[?PROPERTY=VALUE&…]`.
///
/// The query's pairs are librdkafka producer properties passed through unchanged
/// (percent-decoded): TLS with `security.protocol=ssl` and `ssl.ca.location=PATH`, SASL with
/// `security.protocol=sasl_ssl&sasl.mechanism=SCRAM-SHA-256&sasl.username=…`, and tuning such
/// as `compression.type=lz4` or `message.timeout.ms`.
#[derive(Clone, PartialEq, Eq)]
pub struct KafkaTarget {
    /// `host:port,host:port`, librdkafka's `bootstrap.servers`.
    pub brokers: String,
    /// Kafka's topic rules: 1 to 249 of `[A-Za-z0-9._-]`, not `.` or `..`.
    pub topic: String,
    /// The query's librdkafka properties, in order, credentials from the environment added.
    pub properties: Vec<(String, String)>,
}

impl std::fmt::Debug for KafkaTarget {
    // Secrets are never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

impl std::fmt::Display for KafkaTarget {
    /// The URI with the values of secret properties (`sasl.password`, …) masked.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut uri = format!("kafka://{}/{}", self.brokers, self.topic);
        for (i, (k, v)) in self.properties.iter().enumerate() {
            uri.push(if i == 0 { '?' } else { '&' });
            uri.push_str(&format!("{k}={v}"));
        }
        f.write_str(&crate::redact::uri(&uri))
    }
}

impl KafkaTarget {
    /// Parses a `kafka://` URI (see [`KafkaTarget`]); SASL credentials not in it come from
    /// [`USERNAME_ENV`] and [`PASSWORD_ENV`].
    ///
    /// Errors: [`Error::InvalidSetting`] naming `uri`, its value (secrets masked), what is wrong
    /// and what is expected. Property names and values are checked by librdkafka when the
    /// producer is made ([`KafkaPublisher::start`]).
    pub fn parse(uri: &str) -> Result<KafkaTarget> {
        let bad = |why: &str| Error::InvalidSetting {
            setting: "uri".into(),
            value: crate::redact::uri(uri),
            problem: why.to_string(),
            expected: "kafka://HOST[:PORT][,HOST[:PORT]...]/TOPIC[?PROPERTY=VALUE&...] (librdkafka properties)".into(),
        };
        let rest = match uri.split_once("://") {
            Some(("kafka", rest)) => rest,
            Some((scheme, _)) => return Err(bad(&format!("the scheme '{scheme}' is not kafka"))),
            None => return Err(bad("no scheme")),
        };
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, topic) = rest.split_once('/').ok_or_else(|| bad("no /TOPIC"))?;
        check_topic(topic).map_err(|e| bad(&e))?;
        let mut brokers = Vec::new();
        for hostport in authority.split(',') {
            if hostport.contains('@') {
                return Err(bad("credentials go in the query (sasl.username, sasl.password) or the environment"));
            }
            let (host, port) = split_host_port(hostport, DEFAULT_PORT).map_err(|e| bad(&e))?;
            brokers.push(if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") });
        }
        let mut properties = Vec::new();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            check_property(&key, &value).map_err(|e| bad(&e))?;
            properties.push((key.into_owned(), value.into_owned()));
        }
        for (key, env) in [("sasl.username", USERNAME_ENV), ("sasl.password", PASSWORD_ENV)] {
            let value = std::env::var(env).ok().filter(|v| !v.is_empty());
            if let (false, Some(v)) = (properties.iter().any(|(k, _)| k == key), value) {
                properties.push((key.to_string(), v));
            }
        }
        Ok(KafkaTarget { brokers: brokers.join(","), topic: topic.to_string(), properties })
    }
}

/// Kafka's rules for a topic name (its `Topic.validate`).
fn check_topic(topic: &str) -> std::result::Result<(), String> {
    let legal = |c: char| c.is_ascii_alphanumeric() || "._-".contains(c);
    match topic {
        "" => Err("the topic is empty".into()),
        "." | ".." => Err(format!("the topic '{topic}' is not allowed")),
        t if t.len() > 249 => Err(format!("the topic has {} characters, at most 249", t.len())),
        t if !t.chars().all(legal) => Err(format!("the topic '{t}' has characters other than A-Z a-z 0-9 . _ -")),
        _ => Ok(()),
    }
}

fn check_property(key: &str, value: &str) -> std::result::Result<(), String> {
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || "._".contains(c)) {
        return Err(format!("'{key}' is not a librdkafka property name"));
    }
    if RESERVED.contains(&key) {
        return Err(format!("{key} is set by the element (the URI's brokers, queue-size)"));
    }
    if value.is_empty() {
        return Err(format!("{key} has no value"));
    }
    Ok(())
}

/// How to publish.
#[derive(Clone, Debug)]
pub struct KafkaOptions {
    /// Messages librdkafka holds while the broker is behind or away (its
    /// `queue.buffering.max.messages`); past it new messages are dropped and counted. At least 1.
    pub queue_size: usize,
    /// librdkafka's `client.id`, shown in the broker's logs and metrics.
    pub client_id: String,
    /// An availability topic: `online` is sent there for each source id
    /// [`KafkaPublisher::announce`] is given, keyed by it (with log compaction, the latest value
    /// per camera), and `offline` for each at close. Kafka has no will: a publisher that is
    /// killed leaves `online`.
    pub availability: Option<String>,
}

#[derive(Default)]
struct Counters {
    dropped: u64,
    /// Dropped since the current outage began (or since the last one ended).
    dropped_in_outage: u64,
    delivered: u64,
    /// When the broker was last found away, until a delivery succeeds again.
    outage_since: Option<Instant>,
    delivered_once: bool,
    unreachable_told: bool,
}

struct Shared {
    counters: Mutex<Counters>,
    /// Sent to librdkafka and not reported yet.
    pending: AtomicU64,
    /// Called from librdkafka's thread.
    notify: Box<dyn Fn(Notice) + Send + Sync>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn drop_messages(&self, n: u64) {
        let mut c = lock(&self.counters);
        c.dropped += n;
        c.dropped_in_outage += n;
    }
}

/// librdkafka's callbacks, on its polling thread.
struct Context {
    shared: Arc<Shared>,
}

impl ClientContext for Context {
    /// An outage begins when librdkafka finds every broker down; the first one, before anything
    /// was delivered, is told as [`Notice::Unreachable`].
    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() != Some(RDKafkaErrorCode::AllBrokersDown) {
            return;
        }
        let mut c = lock(&self.shared.counters);
        c.outage_since.get_or_insert_with(Instant::now);
        let tell = !c.delivered_once && !c.unreachable_told;
        c.unreachable_told |= tell;
        drop(c);
        if tell {
            (self.shared.notify)(Notice::Unreachable { reason: reason.to_string() });
        }
    }
}

impl ProducerContext for Context {
    type DeliveryOpaque = ();

    /// Counts the outcome; the first delivery after an outage, once nothing is pending, ends it
    /// with [`Notice::Recovered`].
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        // Saturating: a report that comes after a write-off gave up on it was counted already.
        let _ = self.shared.pending.fetch_update(Ordering::AcqRel, Ordering::Acquire, |p| Some(p.saturating_sub(1)));
        let mut c = lock(&self.shared.counters);
        if result.is_err() {
            c.dropped += 1;
            c.dropped_in_outage += 1;
            return;
        }
        c.delivered += 1;
        c.delivered_once = true;
        let Some(since) = c.outage_since.filter(|_| self.shared.pending.load(Ordering::Acquire) == 0) else { return };
        let notice = Notice::Recovered { seconds: since.elapsed().as_secs_f64(), dropped: c.dropped_in_outage };
        (c.outage_since, c.dropped_in_outage) = (None, 0);
        drop(c);
        (self.shared.notify)(notice);
    }
}

/// A running Kafka producer (see the module). Dropping it closes it.
pub struct KafkaPublisher {
    shared: Arc<Shared>,
    /// Taken out by [`KafkaPublisher::close`]; a message published after that is dropped.
    producer: Mutex<Option<Arc<ThreadedProducer<Context>>>>,
    target: KafkaTarget,
    availability: Option<String>,
    /// The source ids announced `online`, at most [`MAX_ANNOUNCED`].
    announced: Mutex<Vec<String>>,
}

/// Source ids one publisher keeps `online` (a pipeline has one or a few).
pub const MAX_ANNOUNCED: usize = 64;

impl KafkaPublisher {
    /// Makes the producer; it connects in the background (an unreachable broker is a
    /// [`Notice::Unreachable`], retried by librdkafka). `notify` is called from librdkafka's
    /// thread.
    ///
    /// Errors: [`Error::InvalidSetting`] naming `uri` when librdkafka refuses a property or
    /// cannot set up TLS or SASL with them (its message says which), [`Error::ThreadStart`] when
    /// its thread cannot start.
    pub fn start(target: &KafkaTarget, options: &KafkaOptions, notify: impl Fn(Notice) + Send + Sync + 'static) -> Result<KafkaPublisher> {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &target.brokers)
            .set("client.id", &options.client_id)
            .set("queue.buffering.max.messages", options.queue_size.max(1).to_string())
            // A frame's message waits at most 5 ms for others to share its request.
            .set("linger.ms", "5")
            // A broker that comes back is found within 2 s (librdkafka's default backs off to
            // 10 s: minutes of video dropped for a restart of seconds).
            .set("reconnect.backoff.max.ms", "2000");
        for (k, v) in &target.properties {
            config.set(k, v);
        }
        let shared = Arc::new(Shared { counters: Mutex::default(), pending: AtomicU64::new(0), notify: Box::new(notify) });
        let producer: ThreadedProducer<Context> = config.create_with_context(Context { shared: shared.clone() }).map_err(|e| match e {
            KafkaError::ClientConfig(_, reason, _, _) | KafkaError::ClientCreation(reason) => Error::InvalidSetting {
                setting: "uri".into(),
                value: target.to_string(),
                problem: format!("librdkafka refused it: {reason}"),
                expected: "librdkafka producer properties (docs/surveillance.md, Kafka)".into(),
            },
            other => Error::ThreadStart {
                purpose: "publish".into(),
                thread: "librdkafka".into(),
                source: Arc::new(std::io::Error::other(other.to_string())),
            },
        })?;
        Ok(KafkaPublisher {
            shared,
            producer: Mutex::new(Some(Arc::new(producer))),
            target: target.clone(),
            availability: options.availability.clone(),
            announced: Mutex::default(),
        })
    }

    /// With an availability topic, sends `online` keyed by `source_id` the first time it is
    /// given (up to [`MAX_ANNOUNCED`] ids); cheap to call for every frame.
    pub fn announce(&self, source_id: &str) {
        let Some(topic) = &self.availability else { return };
        let mut announced = lock(&self.announced);
        if announced.len() >= MAX_ANNOUNCED || announced.iter().any(|k| k == source_id) {
            return;
        }
        announced.push(source_id.to_string());
        drop(announced);
        self.send(topic, source_id, ONLINE.as_bytes());
    }

    /// The brokers and topic (secrets masked).
    pub fn target(&self) -> &KafkaTarget {
        &self.target
    }

    /// Queues one message keyed by `key` (the source id); never blocks. When librdkafka's queue
    /// is full, or the publisher is closed, the message is dropped and counted.
    pub fn publish(&self, key: &str, payload: &[u8]) {
        self.send(&self.target.topic, key, payload);
    }

    fn send(&self, topic: &str, key: &str, payload: &[u8]) {
        // The lock only copies the Arc: librdkafka's send does not wait either.
        let Some(producer) = lock(&self.producer).clone() else {
            self.shared.drop_messages(1);
            return;
        };
        // Counted before the send: its delivery report can come before `send` returns.
        self.shared.pending.fetch_add(1, Ordering::AcqRel);
        if producer.send(BaseRecord::to(topic).key(key).payload(payload)).is_err() {
            self.shared.pending.fetch_sub(1, Ordering::AcqRel);
            self.shared.drop_messages(1);
        }
    }

    /// Messages not delivered so far (see the module). Never waits on the broker.
    pub fn dropped(&self) -> u64 {
        lock(&self.shared.counters).dropped
    }

    /// Messages the broker acknowledged so far.
    pub fn delivered(&self) -> u64 {
        lock(&self.shared.counters).delivered
    }

    /// Waits, at most `timeout`, until every queued message is delivered or failed; what is
    /// left then is written off (purged from librdkafka, counted in [`KafkaPublisher::dropped`],
    /// never sent). Returns how many were written off.
    pub fn flush(&self, timeout: Duration) -> u64 {
        let Some(producer) = lock(&self.producer).clone() else { return 0 };
        if producer.flush(timeout).is_ok() {
            return 0;
        }
        write_off(&producer, &self.shared)
    }

    /// Sends `offline` (at most 1 s), then stops: what is still queued is written off. Returns
    /// [`KafkaPublisher::dropped`], final from now on. Dropping closes too.
    pub fn close(&self) -> u64 {
        let announced = std::mem::take(&mut *lock(&self.announced));
        if let (Some(topic), false) = (&self.availability, announced.is_empty()) {
            for key in &announced {
                self.send(topic, key, OFFLINE.as_bytes());
            }
            self.flush(Duration::from_secs(1));
        }
        if let Some(producer) = lock(&self.producer).take() {
            write_off(&producer, &self.shared);
        }
        self.dropped()
    }
}

impl Drop for KafkaPublisher {
    fn drop(&mut self) {
        self.close();
    }
}

/// Purges librdkafka's queues and waits (at most 1 s) for the purged messages' reports, which
/// count them as dropped. Returns how many were written off.
fn write_off(producer: &ThreadedProducer<Context>, shared: &Shared) -> u64 {
    let before = lock(&shared.counters).dropped;
    producer.purge(PurgeConfig::default().queue().inflight());
    let deadline = Instant::now() + Duration::from_secs(1);
    while shared.pending.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    // Reports that did not come in time are counted here; a late one then counts again, which
    // errs on the side of "not delivered".
    let late = shared.pending.swap(0, Ordering::AcqRel);
    shared.drop_messages(late);
    lock(&shared.counters).dropped - before
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_parse_into_brokers_topic_and_properties() {
        let t = KafkaTarget::parse("kafka://10.0.0.5,[::1]:9093,broker-2:19092/cameras.emotions?compression.type=lz4&sasl.password=p%26w")
            .unwrap();
        assert_eq!(t.brokers, "10.0.0.5:9092,[::1]:9093,broker-2:19092");
        assert_eq!(t.topic, "cameras.emotions");
        assert_eq!(t.properties[0], ("compression.type".to_string(), "lz4".to_string()));
        assert_eq!(t.properties[1], ("sasl.password".to_string(), "p&w".to_string()));
        let shown = t.to_string();
        assert!(shown.contains("sasl.password=***") && !shown.contains("p&w"), "{shown}");
    }

    #[test]
    fn bad_uris_are_refused_saying_why() {
        let cases = [
            ("mqtt://h/t", "is not kafka"),
            ("kafka://h", "no /TOPIC"),
            ("kafka://h/", "empty"),
            ("kafka://h/a/b", "characters other than"),
            ("kafka://h/..", "not allowed"),
            ("kafka://h:0/t", "not 1..65535"),
            ("kafka://,h/t", "no host"),
            ("kafka://u:pw@h/t", "credentials go in the query"),
            ("kafka://h/t?bootstrap.servers=x", "set by the element"),
            ("kafka://h/t?acks=", "no value"),
            ("kafka://h/t?a%20b=1", "not a librdkafka property"),
        ];
        for (uri, why) in cases {
            let e = KafkaTarget::parse(uri).unwrap_err().to_string();
            assert!(e.contains(why), "{uri}: {e}");
            assert!(!e.contains("pw@"), "{e}");
        }
        let long = format!("kafka://h/{}", "t".repeat(250));
        assert!(KafkaTarget::parse(&long).unwrap_err().to_string().contains("at most 249"));
    }

    #[test]
    fn librdkafka_refuses_an_unknown_property_at_start_naming_it() {
        let t = KafkaTarget::parse("kafka://127.0.0.1:1/t?no.such.property=1").unwrap();
        let options = KafkaOptions { queue_size: 10, client_id: "test".into(), availability: None };
        let e = KafkaPublisher::start(&t, &options, |_| {}).err().expect("refused").to_string();
        assert!(e.contains("no.such.property"), "{e}");
    }

    #[test]
    fn an_absent_broker_drops_nothing_silently() {
        // Port 1 on loopback refuses connections: nothing is delivered, and everything queued
        // is written off and counted when the flush gives up.
        let t = KafkaTarget::parse("kafka://127.0.0.1:1/t").unwrap();
        let options = KafkaOptions { queue_size: 3, client_id: "test".into(), availability: None };
        let told = Arc::new(Mutex::new(Vec::new()));
        let t2 = told.clone();
        let p = KafkaPublisher::start(&t, &options, move |n| t2.lock().unwrap().push(n)).unwrap();
        for _ in 0..5 {
            p.publish("cam", b"{}");
        }
        assert_eq!(p.dropped(), 2, "the queue holds 3");
        assert_eq!(p.flush(Duration::from_millis(300)), 3);
        assert_eq!((p.dropped(), p.delivered()), (5, 0));
        assert_eq!(p.close(), 5);
        p.publish("cam", b"{}");
        assert_eq!(p.dropped(), 6, "a message after close is counted");
    }
}
