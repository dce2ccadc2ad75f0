// SPDX-License-Identifier: MIT
//! Model instances shared across streams (`model-instance-id`, as in DL Streamer).
//!
//! Elements that set the same id share one loaded face detector and one emotion classifier.
//! The process-wide registry keeps a weak reference per id: the first element to reach READY
//! loads the models, the others join, and the models are freed when the last element holding
//! them goes to NULL. Joining with other model settings is an error, never a silent reuse.
//!
//! Classification goes through a [`Combiner`] ("flat combining"): each caller queues its faces
//! and whoever finds the model idle runs every queued request as one batch, so the faces of
//! several streams share classifier calls without timers or added latency.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, LazyLock, Mutex, MutexGuard, PoisonError, Weak};

use ort::environment::Environment;

use crate::backend::EngineKind;
use crate::classification::ClassifierSpec;
use crate::error::{panic_message, Error, Result, SettingDifference};
use crate::inference::{DetectorFamily, Device, EmotionClassifier, FaceDetector, SessionConfig};

// ------------------------------------------------------------------------------------------
// The combiner

/// A model that runs batches of equally sized float items, each giving equally many floats.
pub trait BatchModel: Send {
    /// Floats per item in.
    fn item_len(&self) -> usize;
    /// Floats per item out.
    fn output_len(&self) -> usize;
    /// Largest batch the model takes.
    fn max_batch(&self) -> usize;
    /// Runs the `n` items of `tensor` and appends `n` x [`Self::output_len`] floats to `out`.
    ///
    /// Errors: the model failed on this batch.
    fn run(&mut self, tensor: &[f32], n: usize, out: &mut Vec<f32>) -> Result<()>;
}

impl BatchModel for EmotionClassifier {
    fn item_len(&self) -> usize {
        self.spec.target().len()
    }

    /// Probabilities in label order.
    fn output_len(&self) -> usize {
        self.spec.labels.len()
    }

    fn max_batch(&self) -> usize {
        self.max_batch
    }

    fn run(&mut self, tensor: &[f32], n: usize, out: &mut Vec<f32>) -> Result<()> {
        self.classify_tensor(tensor, n, out)
    }
}

/// Counters of a combiner's model calls (cumulative, shared with the registry).
#[derive(Debug, Default)]
pub struct BatchCounters {
    batches: AtomicU64,
    items: AtomicU64,
    multi_stream_batches: AtomicU64,
    max_streams_per_batch: AtomicUsize,
    max_requests_per_round: AtomicUsize,
}

/// A snapshot of [`BatchCounters`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchStats {
    /// Model calls.
    pub batches: u64,
    /// Items (faces) classified.
    pub items: u64,
    /// Model calls whose items came from two or more streams (owners).
    pub multi_stream_batches: u64,
    /// The most streams in one model call.
    pub max_streams_per_batch: usize,
    /// The most requests served by one drain of the queue.
    pub max_requests_per_round: usize,
}

impl BatchCounters {
    /// The counters now.
    pub fn snapshot(&self) -> BatchStats {
        BatchStats {
            batches: self.batches.load(Ordering::Relaxed),
            items: self.items.load(Ordering::Relaxed),
            multi_stream_batches: self.multi_stream_batches.load(Ordering::Relaxed),
            max_streams_per_batch: self.max_streams_per_batch.load(Ordering::Relaxed),
            max_requests_per_round: self.max_requests_per_round.load(Ordering::Relaxed),
        }
    }

    fn count_batch(&self, items: usize, streams: usize) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.items.fetch_add(items as u64, Ordering::Relaxed);
        if streams > 1 {
            self.multi_stream_batches.fetch_add(1, Ordering::Relaxed);
        }
        self.max_streams_per_batch.fetch_max(streams, Ordering::Relaxed);
    }
}

/// What a request gets back: its results (`n` x [`BatchModel::output_len`] floats, in item
/// order) and its tensor, both for reuse.
pub struct Served {
    pub results: Result<Vec<f32>>,
    pub tensor: Vec<f32>,
}

struct Request {
    ticket: u64,
    owner: u64,
    tensor: Vec<f32>,
    n: usize,
    batch_size: usize,
    /// The caller's buffer, filled by the round that serves it (or its error).
    results: Result<Vec<f32>>,
}

struct Queue {
    next_ticket: u64,
    waiting: Vec<Request>,
    /// The last round's emptied list, swapped with `waiting` by the next: no allocation a round.
    spare: Vec<Request>,
    done: HashMap<u64, Served>,
    /// Someone is running a round; only changed under this lock, so no wake-up is lost.
    busy: bool,
}

/// The model with the buffers of its rounds, reused from round to round.
struct Runner<M> {
    model: M,
    /// The items of a call that spans several requests, copied together.
    scratch: Vec<f32>,
    out: Vec<f32>,
    sizes: Vec<usize>,
    segments: Vec<Segment>,
    owners: Vec<u64>,
}

/// Runs the requests of several callers as shared batches (flat combining, see the module).
pub struct Combiner<M: BatchModel> {
    model: Mutex<Runner<M>>,
    queue: Mutex<Queue>,
    served: Condvar,
    counters: Arc<BatchCounters>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic is caught inside a round; the data stays consistent, so poisoning is ignored.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<M: BatchModel> Combiner<M> {
    /// A combiner over `model`, counting its calls in `counters`.
    pub fn new(model: M, counters: Arc<BatchCounters>) -> Self {
        let queue = Queue { next_ticket: 0, waiting: Vec::new(), spare: Vec::new(), done: HashMap::new(), busy: false };
        let runner = Runner { model, scratch: Vec::new(), out: Vec::new(), sizes: Vec::new(), segments: Vec::new(), owners: Vec::new() };
        Combiner { model: Mutex::new(runner), queue: Mutex::new(queue), served: Condvar::new(), counters }
    }

    /// Floats per item ([`BatchModel::item_len`]).
    pub fn item_len(&self) -> usize {
        lock(&self.model).model.item_len()
    }

    /// [`Self::run_into`] with a new results buffer.
    pub fn run(&self, owner: u64, tensor: Vec<f32>, n: usize, batch_size: usize) -> Served {
        self.run_into(owner, tensor, Vec::new(), n, batch_size)
    }

    /// Runs the `n` items of `tensor` (`n` x [`Self::item_len`] floats) for stream `owner`,
    /// in model calls of at most `batch_size` items (the smallest `batch_size` of the requests
    /// served together, and at most the model's maximum), into `results` (cleared first). Blocks
    /// until served: by this caller, or by another that ran this request with its own. A steady
    /// stream that passes back the buffers it was served allocates nothing here.
    ///
    /// Errors (in `results`): the model failed on a batch holding some of these items.
    pub fn run_into(&self, owner: u64, tensor: Vec<f32>, results: Vec<f32>, n: usize, batch_size: usize) -> Served {
        let mut q = lock(&self.queue);
        let ticket = q.next_ticket;
        q.next_ticket += 1;
        q.waiting.push(Request { ticket, owner, tensor, n, batch_size, results: Ok(results) });
        loop {
            if let Some(served) = q.done.remove(&ticket) {
                return served;
            }
            if q.busy {
                q = self.served.wait(q).unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            q.busy = true;
            let mut round = std::mem::take(&mut q.spare);
            std::mem::swap(&mut round, &mut q.waiting);
            drop(q);
            self.round(&mut round);
            q = lock(&self.queue);
            for r in round.drain(..) {
                q.done.insert(r.ticket, Served { results: r.results, tensor: r.tensor });
            }
            q.spare = round;
            q.busy = false;
            self.served.notify_all();
        }
    }

    /// Runs every request of one drain, filling each one's results; never panics, so `busy` is
    /// always reset.
    fn round(&self, requests: &mut [Request]) {
        self.counters.max_requests_per_round.fetch_max(requests.len(), Ordering::Relaxed);
        let mut runner = lock(&self.model);
        let Runner { model, scratch, out, sizes, segments, owners } = &mut *runner;
        let batch = requests.iter().map(|r| r.batch_size).min().unwrap_or(1).clamp(1, model.max_batch().max(1));
        let (per, out_len) = (model.item_len(), model.output_len());
        sizes.clear();
        sizes.extend(requests.iter().map(|r| r.n));
        for r in requests.iter_mut() {
            if let Ok(v) = r.results.as_mut() {
                v.clear();
            }
        }
        let mut cursor = (0, 0);
        while next_call(sizes, &mut cursor, batch, segments) {
            let total: usize = segments.iter().map(|s| s.count).sum();
            let tensor = match segments.as_slice() {
                // One request's items lie contiguous in its tensor: no copy.
                [s] => &requests[s.request].tensor[s.start * per..(s.start + s.count) * per],
                _ => {
                    scratch.clear();
                    for s in segments.iter() {
                        scratch.extend_from_slice(&requests[s.request].tensor[s.start * per..(s.start + s.count) * per]);
                    }
                    &scratch[..]
                }
            };
            out.clear();
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| model.run(tensor, total, out)))
                .unwrap_or_else(|payload| Err(Error::Panicked { what: "the classifier".into(), message: panic_message(payload.as_ref()) }))
                .and_then(|()| match out.len() == total * out_len {
                    true => Ok(()),
                    false => Err(Error::BatchResults { faces: total, results: out.len() / out_len.max(1) }),
                });
            owners.clear();
            owners.extend(segments.iter().map(|s| requests[s.request].owner));
            owners.sort_unstable();
            owners.dedup();
            self.counters.count_batch(total, owners.len());
            let mut offset = 0;
            for s in segments.iter() {
                match (&outcome, &mut requests[s.request].results) {
                    (Ok(()), Ok(r)) => r.extend_from_slice(&out[offset * out_len..(offset + s.count) * out_len]),
                    (Err(e), r) => *r = Err(e.clone()),
                    (Ok(()), Err(_)) => {}
                }
                offset += s.count;
            }
        }
    }
}

/// Part of one request in one model call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Segment {
    request: usize,
    start: usize,
    count: usize,
}

/// The next model call of at most `batch` items over requests of `sizes` items, taken in order
/// from `cursor` (request, first item not yet called), into `segments`; `false` when no item
/// is left.
fn next_call(sizes: &[usize], cursor: &mut (usize, usize), batch: usize, segments: &mut Vec<Segment>) -> bool {
    segments.clear();
    let mut room = batch;
    let (request, start) = cursor;
    while *request < sizes.len() && room > 0 {
        let n = sizes[*request];
        if *start >= n {
            *request += 1;
            *start = 0;
            continue;
        }
        let count = room.min(n - *start);
        segments.push(Segment { request: *request, start: *start, count });
        *start += count;
        room -= count;
    }
    !segments.is_empty()
}

// ------------------------------------------------------------------------------------------
// Loaded models and the registry

/// The settings that make two elements' models the same: sharing needs them all equal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelKey {
    pub engine: EngineKind,
    pub face_model: PathBuf,
    pub emotion_model: PathBuf,
    pub emotion_model_proc: Option<PathBuf>,
    pub device: Device,
    pub threads: usize,
    pub spinning: bool,
}

impl ModelKey {
    /// The first setting that differs (its property, our value and `other`'s), or `None`.
    pub fn difference(&self, other: &ModelKey) -> Option<SettingDifference> {
        let path = |p: &PathBuf| p.display().to_string();
        let proc = |p: &Option<PathBuf>| p.as_ref().map_or("(none)".to_string(), path);
        let pairs = [
            ("engine", self.engine.name().to_string(), other.engine.name().to_string()),
            ("face-model", path(&self.face_model), path(&other.face_model)),
            ("emotion-model", path(&self.emotion_model), path(&other.emotion_model)),
            ("emotion-model-proc", proc(&self.emotion_model_proc), proc(&other.emotion_model_proc)),
            ("device", self.device.name(), other.device.name()),
            ("inference-threads", self.threads.to_string(), other.threads.to_string()),
            ("inference-spinning", self.spinning.to_string(), other.spinning.to_string()),
        ];
        pairs.into_iter().find(|(_, a, b)| a != b).map(|(setting, here, shared)| SettingDifference { setting, here, shared })
    }
}

/// A loaded face detector and emotion classifier, private to one element or shared by id.
pub struct Models {
    pub detector: Mutex<FaceDetector>,
    pub classifier: Combiner<EmotionClassifier>,
    /// The classifier's spec (a copy, readable without locking the classifier).
    pub spec: ClassifierSpec,
    /// Where the spec came from, for the log.
    pub spec_source: String,
    /// Where both models run (`auto` resolved).
    pub device: Device,
    /// The engine that runs them.
    pub engine: EngineKind,
    /// The detector's family (a copy, readable without locking the detector).
    pub family: DetectorFamily,
    pub face_model: PathBuf,
    pub emotion_model: PathBuf,
    key: ModelKey,
}

impl Models {
    /// Loads both models as `key` says; with `device=auto` the classifier runs where the
    /// detector went, so both are on one device.
    ///
    /// Errors: a model is missing, invalid, of unexpected shape, or its spec is missing; or the
    /// device cannot be used (each message names the file or the device).
    pub fn load(env: &Environment, key: &ModelKey, counters: Arc<BatchCounters>) -> Result<Models> {
        let config = SessionConfig { engine: key.engine, device: key.device, threads: key.threads, spinning: key.spinning };
        let detector = FaceDetector::load(env, &key.face_model, &config)?;
        let config = SessionConfig { device: detector.device, ..config };
        let (classifier, spec_source) = EmotionClassifier::open(env, &key.emotion_model, key.emotion_model_proc.as_deref(), &config)?;
        let spec = classifier.spec.clone();
        let (device, family) = (detector.device, detector.family);
        Ok(Models {
            detector: Mutex::new(detector),
            classifier: Combiner::new(classifier, counters),
            spec,
            spec_source,
            device,
            engine: key.engine,
            family,
            face_model: key.face_model.clone(),
            emotion_model: key.emotion_model.clone(),
            key: key.clone(),
        })
    }
}

struct Entry {
    models: Weak<Models>,
    sessions_loaded: usize,
    counters: Arc<BatchCounters>,
}

static REGISTRY: LazyLock<Mutex<HashMap<String, Entry>>> = LazyLock::new(Mutex::default);

/// The models for an element: its own when `id` is `None`, else the instance shared under
/// `id`, loaded now if no element holds it. They are freed when the last holder drops them.
///
/// Errors: [`Error::SharedInstance`] when `id` is held with settings other than `key`; the
/// loading error in an [`Error::Instance`] naming the id when loading fails.
pub fn acquire(env: &Environment, id: Option<&str>, key: &ModelKey) -> Result<Arc<Models>> {
    let Some(id) = id else {
        return Models::load(env, key, Arc::default()).map(Arc::new);
    };
    // Loading under the registry lock: two elements starting together load the models once.
    let mut registry = lock(&REGISTRY);
    let entry =
        registry.entry(id.to_string()).or_insert_with(|| Entry { models: Weak::new(), sessions_loaded: 0, counters: Arc::default() });
    if let Some(models) = entry.models.upgrade() {
        return match key.difference(&models.key) {
            Some(difference) => Err(Error::SharedInstance { id: id.to_string(), difference }),
            None => Ok(models),
        };
    }
    let models = Models::load(env, key, entry.counters.clone())
        .map(Arc::new)
        .map_err(|e| Error::Instance { id: id.to_string(), source: Box::new(e) })?;
    entry.sessions_loaded += 2;
    entry.models = Arc::downgrade(&models);
    Ok(models)
}

/// ONNX Runtime sessions loaded under `id` since the process started (2 per load: detector
/// and classifier), for tests and diagnostics.
pub fn sessions_loaded(id: &str) -> usize {
    lock(&REGISTRY).get(id).map_or(0, |e| e.sessions_loaded)
}

/// Elements holding the instance `id` now (0 once it is freed).
pub fn holders(id: &str) -> usize {
    lock(&REGISTRY).get(id).map_or(0, |e| e.models.strong_count())
}

/// The classifier calls made under `id` since the process started.
pub fn batch_stats(id: &str) -> BatchStats {
    lock(&REGISTRY).get(id).map(|e| e.counters.snapshot()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;
    use std::time::Duration;

    /// Sums each item; records the owners of each call through the counters; fails on items
    /// that hold NaN; sleeps so that callers overlap.
    struct Summer {
        per: usize,
        max: usize,
        calls: Arc<Mutex<Vec<usize>>>,
    }

    impl BatchModel for Summer {
        fn item_len(&self) -> usize {
            self.per
        }
        fn output_len(&self) -> usize {
            1
        }
        fn max_batch(&self) -> usize {
            self.max
        }
        fn run(&mut self, tensor: &[f32], n: usize, out: &mut Vec<f32>) -> Result<()> {
            assert_eq!(tensor.len(), n * self.per);
            self.calls.lock().unwrap().push(n);
            std::thread::sleep(Duration::from_millis(2));
            crate::inference::check_finite(tensor, crate::error::ModelRole::Emotion, std::path::Path::new("summer"), "input")?;
            out.extend(tensor.chunks(self.per).map(|c| c.iter().sum::<f32>()));
            Ok(())
        }
    }

    fn summer(max: usize) -> (Combiner<Summer>, Arc<Mutex<Vec<usize>>>) {
        let calls = Arc::new(Mutex::new(Vec::new()));
        (Combiner::new(Summer { per: 3, max, calls: calls.clone() }, Arc::default()), calls)
    }

    /// Items whose sums encode (owner, request, item).
    fn request(owner: u64, r: usize, n: usize) -> (Vec<f32>, Vec<f32>) {
        let sums: Vec<f32> = (0..n).map(|i| (owner * 100_000 + r as u64 * 100 + i as u64) as f32).collect();
        let tensor = sums.iter().flat_map(|&s| [s, 0.0, 0.0]).collect();
        (tensor, sums)
    }

    /// Every call of [`next_call`] over `sizes`.
    fn split(sizes: &[usize], batch: usize) -> Vec<Vec<Segment>> {
        let (mut calls, mut cursor, mut segments) = (Vec::new(), (0, 0), Vec::new());
        while next_call(sizes, &mut cursor, batch, &mut segments) {
            calls.push(segments.clone());
        }
        calls
    }

    #[test]
    fn split_respects_the_batch_size_and_the_order() {
        let s = |request, start, count| Segment { request, start, count };
        assert_eq!(split(&[2, 3], 4), vec![vec![s(0, 0, 2), s(1, 0, 2)], vec![s(1, 2, 1)]]);
        assert_eq!(split(&[5], 2), vec![vec![s(0, 0, 2)], vec![s(0, 2, 2)], vec![s(0, 4, 1)]]);
        assert_eq!(split(&[0, 1, 0], 8), vec![vec![s(1, 0, 1)]]);
        assert!(split(&[], 8).is_empty());
    }

    #[test]
    fn one_caller_gets_its_results_in_batches_of_batch_size() {
        let (c, calls) = summer(usize::MAX);
        let (tensor, sums) = request(1, 0, 7);
        let served = c.run(1, tensor.clone(), 7, 3);
        assert_eq!(served.results.unwrap(), sums);
        assert_eq!(served.tensor, tensor, "the tensor comes back for reuse");
        assert_eq!(*calls.lock().unwrap(), vec![3, 3, 1]);
        assert_eq!(c.run(1, Vec::new(), 0, 3).results.unwrap(), Vec::<f32>::new());
    }

    #[test]
    fn concurrent_streams_share_batches_and_each_gets_exactly_its_results() {
        let (c, calls) = summer(8);
        let threads = 4;
        let barrier = Barrier::new(threads);
        std::thread::scope(|scope| {
            for owner in 0..threads as u64 {
                let (c, barrier) = (&c, &barrier);
                scope.spawn(move || {
                    for r in 0..50 {
                        if r % 10 == 0 {
                            barrier.wait();
                        }
                        let n = (owner as usize + r) % 5;
                        let (tensor, sums) = request(owner, r, n);
                        assert_eq!(c.run(owner, tensor, n, 32).results.unwrap(), sums, "owner {owner} request {r}");
                    }
                });
            }
        });
        let stats = c.counters.snapshot();
        assert!(stats.multi_stream_batches > 0 && stats.max_streams_per_batch >= 2, "{stats:?}");
        assert!(calls.lock().unwrap().iter().all(|&n| n <= 8), "max_batch respected");
        assert_eq!(stats.items, (0..4).flat_map(|o| (0..50).map(move |r| ((o + r) % 5) as u64)).sum::<u64>());
    }

    #[test]
    fn a_failed_batch_fails_its_requests_only() {
        let (c, _) = summer(4);
        // `a` (NaN) fails alone; `b` and `d`, queued while it ran, share the next call.
        let c = &c;
        let bad = vec![f32::NAN; 6];
        let hold = lock(&c.model);
        std::thread::scope(|scope| {
            let a = scope.spawn(move || c.run(1, bad, 2, 8).results);
            // Wait until `a` runs (holding busy, blocked on the model) and queue two behind it.
            while !lock(&c.queue).busy {
                std::thread::yield_now();
            }
            let b = scope.spawn(move || c.run(2, request(2, 0, 2).0, 2, 8).results);
            let d = scope.spawn(move || c.run(3, request(3, 0, 1).0, 1, 8).results);
            while lock(&c.queue).waiting.len() < 2 {
                std::thread::yield_now();
            }
            drop(hold);
            assert!(matches!(a.join().unwrap(), Err(Error::NonFinite { count: 6, .. })));
            let (b, d) = (b.join().unwrap(), d.join().unwrap());
            assert_eq!(b.unwrap(), request(2, 0, 2).1, "b and d share a call without the NaN");
            assert_eq!(d.unwrap(), request(3, 0, 1).1);
        });
        // A NaN request and a good one queued together share a call: both fail.
        let bad_with_good = [(1, vec![f32::NAN; 3]), (2, request(2, 1, 1).0)];
        let hold = lock(&c.model);
        std::thread::scope(|scope| {
            let first = scope.spawn(move || c.run(9, request(9, 0, 1).0, 1, 8).results);
            while !lock(&c.queue).busy {
                std::thread::yield_now();
            }
            let handles: Vec<_> = bad_with_good.into_iter().map(|(o, t)| scope.spawn(move || c.run(o, t, 1, 8).results)).collect();
            while lock(&c.queue).waiting.len() < 2 {
                std::thread::yield_now();
            }
            drop(hold);
            assert!(first.join().unwrap().is_ok());
            for h in handles {
                assert!(h.join().unwrap().unwrap_err().to_string().contains("NaN"), "the whole shared batch fails");
            }
        });
        // The combiner still works afterwards.
        assert_eq!(c.run(5, request(5, 0, 3).0, 3, 8).results.unwrap(), request(5, 0, 3).1);
    }

    #[test]
    fn a_panicking_model_fails_the_batch_and_does_not_block_others() {
        struct Panicker;
        impl BatchModel for Panicker {
            fn item_len(&self) -> usize {
                1
            }
            fn output_len(&self) -> usize {
                1
            }
            fn max_batch(&self) -> usize {
                usize::MAX
            }
            fn run(&mut self, tensor: &[f32], _: usize, out: &mut Vec<f32>) -> Result<()> {
                assert!(tensor[0] >= 0.0, "negative");
                out.resize(tensor.len(), 0.0);
                Ok(())
            }
        }
        let c = Combiner::new(Panicker, Arc::default());
        let e = c.run(1, vec![-1.0], 1, 4).results.unwrap_err();
        assert!(matches!(&e, Error::Panicked { what, message } if what == "the classifier" && message == "negative"), "{e:?}");
        assert_eq!(e.to_string(), "the classifier panicked: negative");
        assert_eq!(c.run(1, vec![1.0, 2.0], 2, 4).results.unwrap(), vec![0.0, 0.0]);
    }

    #[test]
    fn keys_name_the_first_differing_setting() {
        let key = ModelKey {
            engine: EngineKind::OnnxRuntime,
            face_model: "/m/face.onnx".into(),
            emotion_model: "/m/emotion.onnx".into(),
            emotion_model_proc: None,
            device: Device::Cpu,
            threads: 0,
            spinning: false,
        };
        assert_eq!(key.difference(&key.clone()), None);
        let other = ModelKey { emotion_model: "/m/other.onnx".into(), ..key.clone() };
        let d = key.difference(&other).unwrap();
        assert_eq!(d, SettingDifference { setting: "emotion-model", here: "/m/emotion.onnx".into(), shared: "/m/other.onnx".into() });
        assert_eq!(d.to_string(), "emotion-model is /m/emotion.onnx here but /m/other.onnx in the shared instance");
        let other = ModelKey { device: Device::Auto, ..key.clone() };
        assert!(key.difference(&other).unwrap().to_string().starts_with("device is cpu here but auto"));
        let other = ModelKey { threads: 2, ..key.clone() };
        assert_eq!(key.difference(&other).unwrap().setting, "inference-threads");
    }
}
