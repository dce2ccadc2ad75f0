// SPDX-License-Identifier: MIT
//! Publishing each frame's [`crate::frame_report::FrameReport`] JSON to an MQTT broker
//! (the element's `publish` property; DL Streamer's `gvametapublish method=mqtt`).
//!
//! Publishing never blocks the streaming thread: [`Publisher::publish`] only puts the message in
//! a bounded queue (the newest are kept, the oldest dropped and counted). A sender thread hands
//! queued messages to the MQTT client ([`rumqttc`]) while the broker is connected; a connection
//! thread drives the client, reconnecting with exponential backoff (0.25 s doubling to 5 s).
//! With QoS 1 a message counts as delivered once the broker acknowledges it: messages the
//! broker had not acknowledged when a connection was lost are sent again after the reconnection
//! (by the client when the broker resumed the session, else from our queue), so every message is
//! either delivered at least once or counted as dropped. What is still queued or unacknowledged
//! when [`Publisher::flush`] gives up, or when the publisher is closed, is written off: counted
//! as dropped and never sent (with QoS 1, a message the client had already handed over may still
//! reach the broker later; it stays counted, as not confirmed in time).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rumqttc::{Client, Connection, Event, LastWill, MqttOptions, Outgoing, Packet, QoS, Transport};

use crate::error::{Error, Result};

/// Environment variables read for credentials when the URI has none.
pub const USERNAME_ENV: &str = "EMOTIONDETECT_MQTT_USERNAME";
pub const PASSWORD_ENV: &str = "EMOTIONDETECT_MQTT_PASSWORD";
/// A PEM file of CA certificates trusted for `mqtts://` besides the system's.
pub const CA_FILE_ENV: &str = "EMOTIONDETECT_MQTT_CA_FILE";

/// Where to publish: `mqtt://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC` (port 1883) or `mqtts://...`
/// (TLS, port 8883).
#[derive(Clone, PartialEq, Eq)]
pub struct MqttTarget {
    pub host: String,
    pub port: u16,
    /// The topic, without the leading `/`; may contain `/`.
    pub topic: String,
    pub tls: bool,
    pub username: Option<String>,
    pub password: Option<String>,
}

impl std::fmt::Debug for MqttTarget {
    // The password is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

impl std::fmt::Display for MqttTarget {
    /// The URI without the credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        write!(f, "{scheme}://{}:{}/{}", self.host, self.port, self.topic)
    }
}

impl MqttTarget {
    /// Parses a `publish` URI; credentials not in the URI come from [`USERNAME_ENV`] and
    /// [`PASSWORD_ENV`].
    ///
    /// Errors: [`Error::InvalidSetting`] naming `uri`, its value (without its password), what is
    /// wrong and what is expected.
    pub fn parse(uri: &str) -> Result<MqttTarget> {
        let bad = |why: &str| Error::InvalidSetting {
            setting: "uri".into(),
            value: uri.rsplit_once('@').map_or(uri.to_string(), |(_, rest)| format!("…@{rest}")),
            problem: why.to_string(),
            expected: "mqtt://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC or mqtts://...".into(),
        };
        let (tls, rest) = match uri.split_once("://") {
            Some(("mqtt", rest)) => (false, rest),
            Some(("mqtts", rest)) => (true, rest),
            Some((scheme, _)) => return Err(bad(&format!("the scheme '{scheme}' is not mqtt or mqtts"))),
            None => return Err(bad("no scheme")),
        };
        let (authority, topic) = rest.split_once('/').ok_or_else(|| bad("no /TOPIC"))?;
        if topic.is_empty() || topic.contains(['+', '#', '\0']) {
            return Err(bad("the topic is empty or has a wildcard (+, #)"));
        }
        let (credentials, hostport) = match authority.rsplit_once('@') {
            Some((c, h)) => (Some(c), h),
            None => (None, authority),
        };
        let (host, port) = split_host_port(hostport, if tls { 8883 } else { 1883 }).map_err(|e| bad(&e))?;
        let (mut username, mut password) = match credentials.map(|c| c.split_once(':').unwrap_or((c, ""))) {
            Some((u, p)) => (Some(u.to_string()), Some(p.to_string()).filter(|p| !p.is_empty())),
            None => (None, None),
        };
        if username.is_none() {
            username = std::env::var(USERNAME_ENV).ok().filter(|u| !u.is_empty());
        }
        if password.is_none() {
            password = std::env::var(PASSWORD_ENV).ok().filter(|p| !p.is_empty());
        }
        Ok(MqttTarget { host, port, topic: topic.to_string(), tls, username, password })
    }
}

pub(crate) fn split_host_port(s: &str, default_port: u16) -> std::result::Result<(String, u16), String> {
    let (host, port) = match s.strip_prefix('[') {
        // [IPv6]:port
        Some(v6) => {
            let (h, rest) = v6.split_once(']').ok_or("an unclosed [ in the host")?;
            (h, rest.strip_prefix(':'))
        }
        None => match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        },
    };
    if host.is_empty() {
        return Err("no host".into());
    }
    let port = match port {
        Some(p) => p.parse::<u16>().ok().filter(|&p| p > 0).ok_or(format!("the port '{p}' is not 1..65535"))?,
        None => default_port,
    };
    Ok((host.to_string(), port))
}

/// How to publish.
#[derive(Clone, Debug)]
pub struct PublishOptions {
    /// 0 (at most once) or 1 (at least once: the broker acknowledges each message).
    pub qos: u8,
    /// Messages kept while the broker is away (the oldest are dropped past it); at least 1.
    pub queue_size: usize,
    /// The MQTT client id (unique per broker).
    pub client_id: String,
    /// An availability topic (Frigate's `frigate/available`): `online` is published there,
    /// retained, at each connection, `offline` at close and, as the MQTT will, by the broker
    /// when the connection is lost. Both QoS 0, so that no acknowledgement mixes with the
    /// messages' own.
    pub availability: Option<String>,
}

/// The payloads of [`PublishOptions::availability`].
pub const ONLINE: &str = "online";
pub const OFFLINE: &str = "offline";

/// What happened to the connection, for the element to report.
#[derive(Clone, Debug, PartialEq)]
pub enum Notice {
    /// The first connection failed: the broker is retried.
    Unreachable { reason: String },
    /// An outage ended: the broker was away for `seconds` and `dropped` messages were lost. Sent
    /// once the backlog has drained after the reconnection, so that it counts every drop.
    Recovered { seconds: f64, dropped: u64 },
}

#[derive(Default)]
struct Counters {
    /// Messages acknowledged by the broker (QoS 1) or handed to the client (QoS 0).
    delivered: u64,
    /// Messages dropped in all (queue full, or written off by a flush that gave up or a close).
    dropped: u64,
    /// Dropped during the current outage.
    dropped_in_outage: u64,
    /// QoS 1: handed to the client and not acknowledged yet, oldest first (the broker
    /// acknowledges in order).
    inflight: VecDeque<Vec<u8>>,
    /// Acknowledgements still due for messages taken out of `inflight` when written off: they
    /// must not pop the messages sent after them.
    acks_written_off: usize,
    /// When the current outage began, if one is going on (until the backlog has drained).
    outage_since: Option<Instant>,
    /// When the broker came back in the current outage, while the backlog drains.
    reconnected_at: Option<Instant>,
    connected_once: bool,
}

struct Shared {
    queue: Mutex<VecDeque<Vec<u8>>>,
    counters: Mutex<Counters>,
    /// Signalled when the queue, the connection or the counters change.
    changed: Condvar,
    connected: AtomicBool,
    stop: AtomicBool,
    queue_size: usize,
    /// Called from the publisher's threads.
    notify: Box<dyn Fn(Notice) + Send + Sync>,
}

impl Shared {
    fn new(queue_size: usize, notify: impl Fn(Notice) + Send + Sync + 'static) -> Shared {
        Shared {
            queue: Mutex::new(VecDeque::new()),
            counters: Mutex::default(),
            changed: Condvar::new(),
            connected: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            queue_size: queue_size.max(1),
            notify: Box::new(notify),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running publisher (see the module). Dropping it disconnects.
pub struct Publisher {
    shared: Arc<Shared>,
    client: Client,
    target: MqttTarget,
    availability: Option<String>,
}

impl Publisher {
    /// Starts publishing to `target`; the connection is made in the background (an unreachable
    /// broker is a [`Notice::Unreachable`], retried). `notify` is called from the publisher's
    /// threads.
    ///
    /// Errors: [`Error::EnvFile`] or [`Error::Tls`] when TLS cannot be set up (CA file
    /// unreadable), [`Error::ThreadStart`] when a thread cannot start.
    pub fn start(target: &MqttTarget, options: &PublishOptions, notify: impl Fn(Notice) + Send + Sync + 'static) -> Result<Publisher> {
        let mut mqtt = MqttOptions::new(options.client_id.clone(), target.host.clone(), target.port);
        mqtt.set_keep_alive(Duration::from_secs(5)).set_clean_session(false).set_max_packet_size(16 << 20, 16 << 20);
        if let Some(user) = &target.username {
            mqtt.set_credentials(user.clone(), target.password.clone().unwrap_or_default());
        }
        if target.tls {
            mqtt.set_transport(Transport::tls_with_config(tls_config()?));
        }
        if let Some(topic) = &options.availability {
            mqtt.set_last_will(LastWill::new(topic.clone(), OFFLINE, QoS::AtMostOnce, true));
        }
        let (client, connection) = Client::new(mqtt, 16);
        let shared = Arc::new(Shared::new(options.queue_size, notify));
        let qos = if options.qos == 0 { QoS::AtMostOnce } else { QoS::AtLeastOnce };
        let spawn_error = |thread: &'static str| {
            move |e: std::io::Error| Error::ThreadStart { purpose: "publish".into(), thread: thread.to_string(), source: Arc::new(e) }
        };
        let (s, c, available) = (shared.clone(), client.clone(), options.availability.clone());
        std::thread::Builder::new()
            .name("emotiondetect-mqtt".into())
            .spawn(move || drive(connection, &s, qos, &c, available.as_deref()))
            .map_err(spawn_error("emotiondetect-mqtt"))?;
        let (s, c, topic) = (shared.clone(), client.clone(), target.topic.clone());
        std::thread::Builder::new()
            .name("emotiondetect-mqtt-send".into())
            .spawn(move || send(&s, &c, &topic, qos))
            .map_err(spawn_error("emotiondetect-mqtt-send"))?;
        Ok(Publisher { shared, client, target: target.clone(), availability: options.availability.clone() })
    }

    /// The broker and topic (without credentials).
    pub fn target(&self) -> &MqttTarget {
        &self.target
    }

    /// Queues one message; never blocks. When the queue is full the oldest message is dropped
    /// and counted.
    pub fn publish(&self, payload: Vec<u8>) {
        let full = {
            let mut q = lock(&self.shared.queue);
            let full = q.len() >= self.shared.queue_size;
            if full {
                q.pop_front();
            }
            q.push_back(payload);
            full
        };
        // Locks are taken one at a time (never the counters while holding the queue, or the
        // reverse), so no two threads can wait on each other.
        if full {
            drop_messages(&self.shared, 1);
        }
        self.shared.changed.notify_all();
    }

    /// Messages not delivered so far: dropped from the full queue, or written off by
    /// [`Publisher::flush`] or [`Publisher::close`]. Never waits on the broker.
    pub fn dropped(&self) -> u64 {
        lock(&self.shared.counters).dropped
    }

    /// Messages acknowledged by the broker (QoS 1) or handed to the connection (QoS 0) so far.
    pub fn delivered(&self) -> u64 {
        lock(&self.shared.counters).delivered
    }

    /// Waits, at most `timeout`, until every queued message has been handed over and (QoS 1)
    /// acknowledged; gives up right away while the broker is away. What is left then is written
    /// off (counted in [`Publisher::dropped`], never sent). Returns how many were written off.
    pub fn flush(&self, timeout: Duration) -> u64 {
        let deadline = Instant::now() + timeout;
        let mut q = lock(&self.shared.queue);
        loop {
            let unacked = lock(&self.shared.counters).inflight.len() as u64;
            let now = Instant::now();
            if q.len() as u64 + unacked == 0 {
                drop(q);
                report_if_drained(&self.shared);
                return 0;
            }
            if now >= deadline || !self.shared.connected.load(Ordering::Acquire) {
                return write_off(&self.shared, &mut q);
            }
            q = self
                .shared
                .changed
                .wait_timeout(q, (deadline - now).min(Duration::from_millis(50)))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Stops sending and disconnects without waiting; what is still queued or unacknowledged
    /// is written off. Returns [`Publisher::dropped`], final from now on. Dropping closes too.
    pub fn close(&self) -> u64 {
        // `stop` first: the sender thread checks it under the queue lock, so it takes nothing
        // after the write-off.
        self.shared.stop.store(true, Ordering::Release);
        self.shared.changed.notify_all();
        write_off(&self.shared, &mut lock(&self.shared.queue));
        if let Some(topic) = &self.availability {
            // Best effort: when it does not go out, the broker sends the will, also `offline`.
            let _ = self.client.try_publish(topic.clone(), QoS::AtMostOnce, true, OFFLINE);
        }
        // The threads see `stop` and end by themselves; a broker that is away never delays this.
        let _ = self.client.try_disconnect();
        self.dropped()
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.close();
    }
}

fn drop_messages(shared: &Shared, n: u64) {
    let mut c = lock(&shared.counters);
    c.dropped += n;
    c.dropped_in_outage += n;
}

/// Counts as dropped, and forgets, the queue `q` (the locked `shared.queue`) and the
/// unacknowledged messages. Returns how many.
fn write_off(shared: &Shared, q: &mut VecDeque<Vec<u8>>) -> u64 {
    let mut c = lock(&shared.counters);
    let unacked = c.inflight.len();
    c.inflight.clear();
    c.acks_written_off += unacked;
    let n = (q.len() + unacked) as u64;
    q.clear();
    c.dropped += n;
    c.dropped_in_outage += n;
    n
}

enum Next {
    Stop,
    Idle,
    Send(Vec<u8>),
}

/// The next message to send while connected; waits at most 100 ms for one. With QoS 1 it is
/// kept in `inflight` until acknowledged, moved there under the queue lock so that a write-off
/// sees it in one place or the other.
fn next_message(shared: &Shared, qos: QoS) -> Next {
    let mut q = lock(&shared.queue);
    for waited in [false, true] {
        if shared.stop.load(Ordering::Acquire) {
            return Next::Stop;
        }
        if shared.connected.load(Ordering::Acquire) {
            if let Some(p) = q.pop_front() {
                if qos != QoS::AtMostOnce {
                    // Kept before it is handed over, so that its acknowledgement can never come first.
                    lock(&shared.counters).inflight.push_back(p.clone());
                }
                return Next::Send(p);
            }
        }
        if !waited {
            q = shared.changed.wait_timeout(q, Duration::from_millis(100)).unwrap_or_else(PoisonError::into_inner).0;
        }
    }
    Next::Idle
}

/// The sender thread: hands queued messages to the client while connected (QoS 1: keeping a
/// copy until the broker acknowledges it), and reports an outage's end once the backlog is out.
fn send(shared: &Shared, client: &Client, topic: &str, qos: QoS) {
    loop {
        match next_message(shared, qos) {
            Next::Stop => return,
            Next::Idle => {}
            Next::Send(payload) => {
                if client.publish(topic, qos, false, payload).is_err() {
                    return;
                }
                if qos == QoS::AtMostOnce {
                    lock(&shared.counters).delivered += 1;
                }
            }
        }
        if shared.connected.load(Ordering::Acquire) && lock(&shared.queue).is_empty() {
            report_if_drained(shared);
        }
    }
}

/// Ends an outage whose backlog has been sent: [`Notice::Recovered`] with every message the
/// outage dropped (drops go on while the queue is full, after the reconnection too).
fn report_if_drained(shared: &Shared) {
    let mut c = lock(&shared.counters);
    let (Some(since), Some(at)) = (c.outage_since, c.reconnected_at) else { return };
    let notice = Notice::Recovered { seconds: at.duration_since(since).as_secs_f64(), dropped: c.dropped_in_outage };
    (c.outage_since, c.reconnected_at, c.dropped_in_outage) = (None, None, 0);
    drop(c);
    (shared.notify)(notice);
}

/// The connection thread: polls the client's event loop, which reconnects after errors.
fn drive(mut connection: Connection, shared: &Shared, qos: QoS, client: &Client, availability: Option<&str>) {
    let mut backoff = Duration::from_millis(250);
    let mut stopping: Option<Instant> = None;
    for event in connection.iter() {
        if shared.stop.load(Ordering::Acquire) {
            // Polled on until the DISCONNECT that `close` asked for is out (a clean disconnect:
            // the broker then drops the will), at most 2 s; a broker that is away ends it at once.
            let since = *stopping.get_or_insert_with(Instant::now);
            let out = matches!(event, Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_));
            if out || since.elapsed() > Duration::from_secs(2) {
                return;
            }
            continue;
        }
        match event {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                backoff = Duration::from_millis(250);
                if let Some(topic) = availability {
                    let _ = client.try_publish(topic, QoS::AtMostOnce, true, ONLINE);
                }
                connected(shared, ack.session_present, qos);
            }
            Ok(Event::Incoming(Packet::PubAck(_))) => {
                acknowledged(shared);
                shared.changed.notify_all();
            }
            Ok(_) => {}
            Err(e) => {
                if let Some(n) = disconnected(shared, &e.to_string()) {
                    (shared.notify)(n);
                }
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// The broker acknowledged the oldest message in flight (or one written off before).
fn acknowledged(shared: &Shared) {
    let mut c = lock(&shared.counters);
    if c.acks_written_off > 0 {
        c.acks_written_off -= 1;
    } else if c.inflight.pop_front().is_some() {
        c.delivered += 1;
    }
}

fn connected(shared: &Shared, session_present: bool, qos: QoS) {
    if !session_present && qos != QoS::AtMostOnce {
        // A new session: the client forgets what the broker had not acknowledged; it goes back
        // to the front of the queue. The broker may have received some of it (only the
        // acknowledgement was lost), so none of it is dropped: the queue may exceed its bound by
        // the client's in-flight window until it is sent. Written-off ones will never be acknowledged.
        let unacked = {
            let mut c = lock(&shared.counters);
            c.acks_written_off = 0;
            std::mem::take(&mut c.inflight)
        };
        let mut q = lock(&shared.queue);
        for payload in unacked.into_iter().rev() {
            q.push_front(payload);
        }
    }
    let mut c = lock(&shared.counters);
    c.connected_once = true;
    if c.outage_since.is_some() {
        c.reconnected_at = Some(Instant::now());
    }
    drop(c);
    shared.connected.store(true, Ordering::Release);
    shared.changed.notify_all();
}

fn disconnected(shared: &Shared, reason: &str) -> Option<Notice> {
    shared.connected.store(false, Ordering::Release);
    let mut c = lock(&shared.counters);
    // Lost again before the backlog drained: the same outage goes on.
    c.reconnected_at = None;
    if c.outage_since.is_some() {
        return None;
    }
    c.outage_since = Some(Instant::now());
    c.dropped_in_outage = 0;
    (!c.connected_once).then(|| Notice::Unreachable { reason: reason.to_string() })
}

/// rustls with the system's roots (and [`CA_FILE_ENV`]'s), on the ring provider.
fn tls_config() -> Result<rumqttc::TlsConfiguration> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = std::env::var_os(CA_FILE_ENV) {
        let path = std::path::PathBuf::from(path);
        let file_error = |e: std::io::Error| Error::EnvFile { variable: CA_FILE_ENV, path: path.clone(), source: Arc::new(e) };
        let text = std::fs::read(&path).map_err(file_error)?;
        for cert in rustls_pemfile::certs(&mut text.as_slice()) {
            let cert = cert.map_err(file_error)?;
            let _ = roots.add(cert);
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls { source: Arc::new(e) })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(rumqttc::TlsConfiguration::Rustls(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_parse_with_defaults_and_errors_name_the_value() {
        let t = MqttTarget::parse("mqtt://broker.lan/cameras/door").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.topic.as_str(), t.tls), ("broker.lan", 1883, "cameras/door", false));
        let t = MqttTarget::parse("mqtts://u:secret@10.0.0.2:9000/e").unwrap();
        assert_eq!((t.port, t.tls, t.username.as_deref(), t.password.as_deref()), (9000, true, Some("u"), Some("secret")));
        assert_eq!(t.to_string(), "mqtts://10.0.0.2:9000/e", "no credentials printed");
        assert!(!format!("{t:?}").contains("secret"));
        assert_eq!(MqttTarget::parse("mqtts://h/t").unwrap().port, 8883);
        assert_eq!(MqttTarget::parse("mqtt://[::1]:1884/t").unwrap().host, "::1");
        for (bad, why) in [
            ("http://h/t", "scheme 'http'"),
            ("h/t", "no scheme"),
            ("mqtt://h", "no /TOPIC"),
            ("mqtt://h/", "topic is empty"),
            ("mqtt://h/a/#", "wildcard"),
            ("mqtt://h:0/t", "port '0'"),
            ("mqtt://h:99999/t", "port '99999'"),
            ("mqtt://:1883/t", "no host"),
        ] {
            let e = MqttTarget::parse(bad).unwrap_err();
            assert!(matches!(&e, Error::InvalidSetting { setting, value, .. } if setting == "uri" && value == bad), "{e:?}");
            let e = e.to_string();
            assert!(e.contains(why) && e.starts_with(&format!("uri '{bad}': ")), "{bad}: {e}");
        }
        let e = MqttTarget::parse("mqtt://u:secret@h:x/t").unwrap_err().to_string();
        assert!(!e.contains("secret"), "{e}");
    }

    #[test]
    fn a_full_queue_drops_the_oldest_and_counts() {
        // Nothing listens on this port: the messages stay queued.
        let target = MqttTarget::parse("mqtt://127.0.0.1:9/t").unwrap();
        let options = PublishOptions { qos: 1, queue_size: 3, client_id: "unit".into(), availability: None };
        let p = Publisher::start(&target, &options, |_| {}).unwrap();
        for i in 0..5u8 {
            p.publish(vec![i]);
        }
        assert_eq!(p.dropped(), 2);
        assert_eq!(lock(&p.shared.queue).iter().map(|m| m[0]).collect::<Vec<_>>(), [2, 3, 4], "the newest kept");
        assert_eq!(p.flush(Duration::from_secs(5)), 3, "no wait while the broker is away");
        assert_eq!(p.dropped(), 5, "what the flush gave up on counts");
        assert!(lock(&p.shared.queue).is_empty(), "and is never sent");
        p.publish(vec![5]);
        assert_eq!(p.close(), 6, "closing writes off the queue");
        assert_eq!(p.flush(Duration::ZERO), 0);
    }

    #[test]
    fn written_off_messages_in_flight_count_once_and_their_late_acks_pop_nothing_newer() {
        let shared = Shared::new(10, |_| {});
        connected(&shared, true, QoS::AtLeastOnce);
        lock(&shared.queue).extend([vec![0], vec![1], vec![2]]);
        for _ in 0..2 {
            assert!(matches!(next_message(&shared, QoS::AtLeastOnce), Next::Send(_)));
        }
        assert_eq!(write_off(&shared, &mut lock(&shared.queue)), 3, "two in flight, one queued");
        lock(&shared.queue).push_back(vec![3]);
        assert!(matches!(next_message(&shared, QoS::AtLeastOnce), Next::Send(p) if p == [3]));
        acknowledged(&shared);
        acknowledged(&shared);
        assert_eq!(lock(&shared.counters).inflight.len(), 1, "the late acks were the written-off ones'");
        acknowledged(&shared);
        assert!(lock(&shared.counters).inflight.is_empty());
        assert_eq!(lock(&shared.counters).dropped, 3);
    }

    #[test]
    fn an_outage_is_reported_once_its_backlog_drained_with_every_drop() {
        let notices = Arc::new(Mutex::new(Vec::new()));
        let n = notices.clone();
        let shared = Shared::new(2, move |notice| lock(&n).push(notice));
        connected(&shared, false, QoS::AtLeastOnce);
        assert!(disconnected(&shared, "gone").is_none(), "not the first connection");
        drop_messages(&shared, 3);
        connected(&shared, true, QoS::AtLeastOnce);
        // The backlog is still draining: drops now belong to the outage.
        drop_messages(&shared, 1);
        assert!(lock(&notices).is_empty(), "no notice before the backlog drained");
        report_if_drained(&shared);
        let got = lock(&notices).clone();
        assert!(matches!(got[..], [Notice::Recovered { dropped: 4, .. }]), "{got:?}");
        report_if_drained(&shared);
        assert_eq!(lock(&notices).len(), 1, "one notice an outage");
    }
}
