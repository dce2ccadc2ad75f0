// SPDX-License-Identifier: MIT
// emotiondetect-web: the page. Plain JS, no library: boxes on canvases, bar charts as divs,
// history charts on a canvas. Every result comes from the server's FrameReport JSON.
'use strict';

// The emotions' colours come from the server (/api/info `palette`): the overlay's and the
// timeline's, defined once in the core crate.
let COLORS = {};
const color = (label) => COLORS[label] || COLORS.unknown || '#788caa';
const known = (o) => o.emotion.label !== 'unknown';
const $ = (id) => document.getElementById(id);
const fmt = (p) => p.toFixed(2);

// ---------------------------------------------------------------------------------------
// Tabs

const tabs = { webcam: null, photo: null, video: null, streams: { enter: enterStreams, leave: leaveStreams } };
let current = null;
function show(name) {
  if (!(name in tabs)) name = 'webcam';
  if (current === name) return;
  if (current && tabs[current] && tabs[current].leave) tabs[current].leave();
  current = name;
  for (const b of document.querySelectorAll('.tab')) b.classList.toggle('active', b.dataset.tab === name);
  for (const p of document.querySelectorAll('.panel')) p.classList.toggle('active', p.id === name);
  if (tabs[name] && tabs[name].enter) tabs[name].enter();
  if (location.hash !== '#' + name) history.replaceState(null, '', '#' + name);
}
for (const b of document.querySelectorAll('.tab')) b.addEventListener('click', () => show(b.dataset.tab));
window.addEventListener('hashchange', () => show(location.hash.slice(1)));

fetch('/api/info').then((r) => r.json()).then((i) => {
  COLORS = i.palette || {};
  $('info').textContent = `models on ${i.device} · photo ≤ ${mb(i.max_image_bytes)} MB · video ≤ ${mb(i.max_video_bytes)} MB`;
}).catch(() => {});
const mb = (b) => (b / 1048576).toFixed(b < 1048576 ? 2 : 0);

// ---------------------------------------------------------------------------------------
// Shared drawing

// One bar per label: name, bar, probability.
function bars(labels, scores) {
  const grid = document.createElement('div');
  grid.className = 'bars';
  labels.forEach((label, i) => {
    const p = scores[i] || 0;
    const name = document.createElement('span');
    name.textContent = label;
    const bar = document.createElement('div');
    bar.className = 'bar';
    const fill = document.createElement('div');
    fill.style.width = (100 * p).toFixed(1) + '%';
    fill.style.background = color(label);
    bar.appendChild(fill);
    const num = document.createElement('span');
    num.className = 'num';
    num.textContent = fmt(p);
    grid.append(name, bar, num);
  });
  return grid;
}

// "#3 happy 0.91": the tag of a face, as the element draws it.
const tag = (o) => `#${o.id} ${o.emotion.label} ${fmt(o.emotion.confidence)}`;

// A card per face: its tag and its 7 probabilities.
function faceCard(o, cls) {
  const card = document.createElement('div');
  card.className = 'card ' + cls;
  card.dataset.id = o.id;
  const t = document.createElement('span');
  t.className = 'tag';
  t.textContent = tag(o);
  t.style.color = color(o.emotion.label);
  card.append(t, bars(o.emotion.labels, o.emotion.smoothed_scores));
  return card;
}

// "2 faces too small to classify": why some boxes have no tag and no card.
function tooSmall(n) {
  const p = document.createElement('p');
  p.className = 'hint too-small';
  p.textContent = `${n} face${n === 1 ? ' is' : 's are'} too small to classify (under 25 pixels): boxed, without an emotion.`;
  return p;
}

// Boxes and tags of `report` on `ctx`, scaled from the analysed frame to the canvas.
function drawBoxes(ctx, report, w, h) {
  const sx = w / report.resolution.width, sy = h / report.resolution.height;
  // Tags about a third of the median face's height (readable, and crowds overlap less),
  // at most 1/32 of the picture.
  const heights = report.objects.map((o) => o.h * sy).sort((a, b) => a - b);
  const median = heights.length ? heights[heights.length >> 1] : h;
  const font = Math.round(Math.max(10, Math.min(h / 32, median * 0.3)));
  ctx.lineWidth = Math.max(2, Math.round(h / 240));
  ctx.font = `600 ${font}px system-ui, sans-serif`;
  ctx.textBaseline = 'top';
  const placed = [];
  const overlaps = (r) => placed.some((p) => r.x < p.x + p.w && p.x < r.x + r.w && r.y < p.y + p.h && p.y < r.y + r.h);
  for (const o of report.objects) {
    const c = color(o.emotion.label);
    const x = o.x * sx, y = o.y * sy;
    ctx.strokeStyle = c;
    ctx.strokeRect(x, y, o.w * sx, o.h * sy);
    if (!known(o)) continue; // too small to classify: boxed, no tag (as the element draws it)
    const text = tag(o);
    const tw = ctx.measureText(text).width + 8;
    const tx = Math.max(0, Math.min(x, w - tw)); // inside the picture
    // Above the box, else below it when that spot is taken by another tag (crowds).
    const above = { x: tx, y: y - font - 6, w: tw, h: font + 6 };
    const below = { x: tx, y: y + o.h * sy, w: tw, h: font + 6 };
    const spot = above.y >= 0 && !overlaps(above) ? above : !overlaps(below) && below.y + below.h <= h ? below : above.y >= 0 ? above : below;
    placed.push(spot);
    const ty = spot.y;
    ctx.fillStyle = c;
    ctx.fillRect(tx, ty, tw, font + 6);
    ctx.fillStyle = '#fff';
    ctx.fillText(text, tx + 4, ty + 3);
  }
}

function errorText(r, body) {
  try { return `${r.status}: ${JSON.parse(body).error}`; } catch (e) { return `${r.status}: ${body}`; }
}

// ---------------------------------------------------------------------------------------
// Webcam: frames go to /api/webcam one at a time (the next one leaves when the reply is
// back, so nothing queues and the latency stays one round trip).

const cam = { stream: null, ws: null, sentAt: new Map(), sent: 0, timer: null, rtt: [], frames: 0, dropped: 0, since: 0 };
const grab = document.createElement('canvas');

$('webcam-start').addEventListener('click', startWebcam);
$('webcam-stop').addEventListener('click', stopWebcam);

async function startWebcam() {
  $('webcam-error').textContent = '';
  try {
    cam.stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  } catch (e) {
    $('webcam-error').textContent = `No camera: ${e.name}: ${e.message}`;
    return;
  }
  const video = $('webcam-video');
  video.srcObject = cam.stream;
  await video.play().catch(() => {});
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  cam.ws = new WebSocket(`${proto}//${location.host}/api/webcam`);
  cam.ws.binaryType = 'arraybuffer';
  cam.ws.onopen = () => { cam.since = performance.now(); sendFrame(); };
  cam.ws.onmessage = (ev) => onWebcamReply(JSON.parse(ev.data));
  cam.ws.onclose = () => { if (cam.stream) $('webcam-error').textContent = 'The server closed the connection.'; };
  $('webcam-start').disabled = true;
  $('webcam-stop').disabled = false;
}

function stopWebcam() {
  if (cam.ws) { cam.ws.onclose = null; cam.ws.close(); }
  if (cam.stream) cam.stream.getTracks().forEach((t) => t.stop());
  cam.ws = null; cam.stream = null; cam.sentAt.clear();
  clearTimeout(cam.timer);
  $('webcam-start').disabled = false;
  $('webcam-stop').disabled = true;
  $('webcam-latency').textContent = 'stopped';
}

function sendFrame() {
  clearTimeout(cam.timer);
  const video = $('webcam-video');
  if (!cam.ws || cam.ws.readyState !== WebSocket.OPEN) return;
  if (!video.videoWidth) { cam.timer = setTimeout(sendFrame, 50); return; }
  const scale = Math.min(1, 640 / video.videoWidth);
  grab.width = Math.round(video.videoWidth * scale);
  grab.height = Math.round(video.videoHeight * scale);
  grab.getContext('2d').drawImage(video, 0, 0, grab.width, grab.height);
  grab.toBlob((blob) => {
    if (!blob || !cam.ws || cam.ws.readyState !== WebSocket.OPEN) return;
    cam.sent += 1;
    cam.sentAt.set(cam.sent, performance.now());
    cam.ws.send(blob);
    // A reply that never comes (server restarted the pipeline) must not stop the loop.
    cam.timer = setTimeout(sendFrame, 3000);
  }, 'image/jpeg', 0.8);
}

function onWebcamReply(m) {
  const t0 = cam.sentAt.get(m.frame);
  cam.sentAt.delete(m.frame);
  if (m.dropped) { cam.dropped += 1; sendFrame(); return; }
  if (m.error) { $('webcam-error').textContent = m.error; setTimeout(sendFrame, 500); return; }
  $('webcam-error').textContent = '';
  const rtt = t0 === undefined ? 0 : performance.now() - t0;
  cam.rtt.push(rtt);
  if (cam.rtt.length > 30) cam.rtt.shift();
  cam.frames += 1;
  drawWebcam(m.report);
  const mean = cam.rtt.reduce((a, b) => a + b, 0) / cam.rtt.length;
  const fps = cam.frames / ((performance.now() - cam.since) / 1000);
  $('webcam-latency').textContent =
    `round trip ${rtt.toFixed(0)} ms (mean ${mean.toFixed(0)} ms, analysis ${m.analysis_ms.toFixed(0)} ms) · ${fps.toFixed(1)} fps · dropped ${cam.dropped}`;
  $('webcam-latency').dataset.rtt = rtt.toFixed(1);
  $('webcam-latency').dataset.frames = cam.frames;
  sendFrame();
}

function drawWebcam(report) {
  const video = $('webcam-video'), overlay = $('webcam-overlay');
  overlay.width = video.clientWidth;
  overlay.height = video.clientHeight;
  const ctx = overlay.getContext('2d');
  ctx.clearRect(0, 0, overlay.width, overlay.height);
  drawBoxes(ctx, report, overlay.width, overlay.height);
  const people = $('webcam-people');
  people.replaceChildren(...report.objects.filter(known).map((o) => faceCard(o, 'person')));
  const small = report.objects.length - report.objects.filter(known).length;
  if (small) people.append(tooSmall(small));
  if (!report.objects.length) people.innerHTML = '<p class="hint">No face in view.</p>';
}

// ---------------------------------------------------------------------------------------
// Photo

const photo = { file: null };
$('photo-file').addEventListener('change', (e) => e.target.files[0] && analysePhoto(e.target.files[0]));
$('photo').addEventListener('dragover', (e) => e.preventDefault());
$('photo').addEventListener('drop', (e) => {
  e.preventDefault();
  if (e.dataTransfer.files[0]) analysePhoto(e.dataTransfer.files[0]);
});
// The picture with the element's own boxes and labels, as a PNG file to keep.
$('photo-annotated').addEventListener('click', async () => {
  if (!photo.file) return;
  const r = await fetch('/api/analyse?annotated=1', { method: 'POST', body: photo.file });
  if (!r.ok) { $('photo-error').textContent = errorText(r, await r.text()); return; }
  const a = document.createElement('a');
  a.href = URL.createObjectURL(await r.blob());
  a.download = (photo.file.name || 'photo').replace(/\.[^.]*$/, '') + '-annotated.png';
  document.body.appendChild(a);
  a.click();
  a.remove();
});

// The sample photos: a click analyses one as if it had been chosen.
fetch('/api/samples').then((r) => r.json()).then((list) => {
  const box = $('photo-samples');
  for (const s of list) {
    const img = document.createElement('img');
    img.src = s.url; img.alt = s.name; img.title = s.name; img.className = 'sample'; img.dataset.name = s.name;
    img.addEventListener('click', async () => {
      const blob = await (await fetch(s.url)).blob();
      analysePhoto(new File([blob], s.name, { type: blob.type }));
    });
    box.appendChild(img);
  }
  box.hidden = list.length === 0;
}).catch(() => {});

async function analysePhoto(file) {
  photo.file = file;
  $('photo-error').textContent = '';
  $('photo-summary').textContent = 'analysing…';
  $('photo-faces').replaceChildren();
  const t0 = performance.now();
  const r = await fetch('/api/analyse', { method: 'POST', body: file });
  const body = await r.text();
  if (!r.ok) { $('photo-error').textContent = errorText(r, body); $('photo-summary').textContent = ''; return; }
  const report = JSON.parse(body);
  const bitmap = await createImageBitmap(file);
  const canvas = $('photo-canvas');
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(bitmap, 0, 0);
  drawBoxes(ctx, report, canvas.width, canvas.height);
  const n = report.objects.length, classified = report.objects.filter(known);
  const small = n - classified.length;
  $('photo-summary').textContent = `${n} face${n === 1 ? '' : 's'}${small ? ` (${small} too small to classify)` : ''} in ${(performance.now() - t0).toFixed(0)} ms`;
  $('photo-summary').dataset.faces = n;
  $('photo-faces').replaceChildren(...classified.map((o) => faceCard(o, 'photo-face')));
  if (small) $('photo-faces').append(tooSmall(small));
  $('photo-annotated').disabled = false;
}

// ---------------------------------------------------------------------------------------
// Video: upload (XHR, for its upload progress), then the job's status until done.

$('video-file').addEventListener('change', (e) => e.target.files[0] && uploadVideo(e.target.files[0]));

function uploadVideo(file) {
  $('video-error').textContent = '';
  $('video-result').hidden = true;
  const progress = $('video-progress');
  const xhr = new XMLHttpRequest();
  xhr.open('POST', '/api/video');
  xhr.upload.onprogress = (e) => {
    if (e.lengthComputable) progress.value = e.loaded / e.total;
    $('video-status').textContent = `uploading ${(100 * e.loaded / (e.total || 1)).toFixed(0)} %`;
  };
  xhr.onerror = () => { $('video-error').textContent = 'The upload failed (connection lost).'; };
  xhr.onload = () => {
    if (xhr.status !== 202) { $('video-error').textContent = errorText(xhr, xhr.responseText); $('video-status').textContent = ''; return; }
    progress.value = 0;
    pollVideo(JSON.parse(xhr.responseText).status);
  };
  xhr.send(file);
}

async function pollVideo(url) {
  let s;
  try { s = await (await fetch(url)).json(); } catch (e) { setTimeout(() => pollVideo(url), 1000); return; }
  $('video-progress').value = s.progress;
  $('video-status').textContent = s.state === 'done' ? 'done' : `analysing ${(100 * s.progress).toFixed(0)} % · ${s.message}`;
  $('video-status').dataset.state = s.state;
  if (s.state === 'failed') { $('video-error').textContent = s.error; return; }
  if (s.state !== 'done') { setTimeout(() => pollVideo(url), 500); return; }
  showVideoReport(s);
}

// What each report file is, in plain words.
const FILE_NAMES = {
  'emotions.mp4': 'The annotated video (MP4)',
  'report.html': 'The report: each person\'s face, figures and timeline (web page)',
  'people.csv': 'One row per person (CSV)',
  'people.json': 'One entry per person (JSON)',
  'frames.csv': 'One row per face per frame (CSV)',
  'timeline.png': 'The timeline (PNG)',
  'frames.jsonl': 'Every frame\'s results (JSON lines)',
};

async function showVideoReport(s) {
  const files = Object.fromEntries(s.files);
  $('video-status').textContent = s.message;
  $('video-player').src = files['emotions.mp4'];
  $('video-timeline').src = files['timeline.png'];
  $('video-files').replaceChildren(...s.files.map(([name, url]) => {
    const li = document.createElement('li');
    const a = document.createElement('a');
    a.href = url; a.download = name; a.textContent = FILE_NAMES[name] || name;
    li.appendChild(a);
    return li;
  }));
  // The people CSV as a table: id, time seen, dominant emotion and the share of each emotion
  // (the file to download has every column).
  const csv = (await (await fetch(files['people.csv'])).text()).trim().split('\n').map((l) => l.split(','));
  const keep = csv[0].map((h, k) => (['track_id', 'seconds_seen', 'dominant_emotion'].includes(h) || h.startsWith('share_') ? k : -1))
    .filter((k) => k >= 0);
  $('video-people').replaceChildren(...csv.map((row, i) => {
    const tr = document.createElement('tr');
    for (const k of keep) {
      const td = document.createElement(i ? 'td' : 'th');
      const share = csv[0][k].startsWith('share_');
      td.textContent = !i ? row[k].replace('share_', '').replace('dominant_emotion', 'dominant').replace('seconds_seen', 'seen (s)')
        : share && row[k] !== '' ? `${Math.round(100 * parseFloat(row[k]))} %` : row[k];
      tr.appendChild(td);
    }
    return tr;
  }));
  $('video-result').hidden = false;
}

// ---------------------------------------------------------------------------------------
// Streams: MJPEG in an <img>, FrameReports by Server-Sent Events; opened only while the tab
// is shown (a browser keeps 6 connections per server).

const HISTORY = 120;
const streams = { open: [] };

async function enterStreams() {
  const list = await (await fetch('/api/sources')).json();
  $('streams-none').hidden = list.length > 0;
  $('streams-list').replaceChildren(...list.map(streamCard));
}

function leaveStreams() {
  for (const s of streams.open) { s.events.close(); s.img.src = ''; }
  streams.open = [];
}

function streamCard(src) {
  const card = document.createElement('div');
  card.className = 'stream';
  card.dataset.name = src.name;
  const h = document.createElement('h2');
  h.textContent = `${src.name} · ${src.uri}`;
  const img = document.createElement('img');
  img.className = 'stream-img';
  img.alt = src.name;
  img.src = src.mjpeg;
  const people = document.createElement('div');
  people.className = 'people stream-people';
  const chart = document.createElement('canvas');
  chart.className = 'stream-history';
  const legend = document.createElement('div');
  legend.className = 'legend';
  const state = { img, people, chart, legend, history: [], labels: null, events: new EventSource(src.events) };
  state.events.addEventListener('report', (ev) => onStreamReport(state, JSON.parse(ev.data)));
  streams.open.push(state);
  card.append(h, img, people, chart, legend);
  return card;
}

function onStreamReport(s, report) {
  s.people.replaceChildren(...report.objects.map((o) => {
    const d = document.createElement('span');
    d.className = 'person-line';
    d.textContent = tag(o);
    d.style.color = color(o.emotion.label);
    return d;
  }));
  if (!report.objects.length) s.people.innerHTML = '<span class="hint">no face</span>';
  const labels = report.objects.length ? report.objects[0].emotion.labels : s.labels;
  if (labels && !s.labels) {
    s.labels = labels;
    s.legend.innerHTML = labels.map((l) => `<span><i style="background:${color(l)}"></i>${l}</span>`).join('');
  }
  // The mean smoothed probability of each emotion over the faces of the frame.
  const mean = (s.labels || []).map((_, i) =>
    report.objects.length ? report.objects.reduce((a, o) => a + (o.emotion.smoothed_scores[i] || 0), 0) / report.objects.length : 0);
  s.history.push(mean);
  if (s.history.length > HISTORY) s.history.shift();
  drawHistory(s);
}

function drawHistory(s) {
  const c = s.chart;
  c.width = c.clientWidth;
  c.height = c.clientHeight;
  const ctx = c.getContext('2d');
  ctx.clearRect(0, 0, c.width, c.height);
  ctx.strokeStyle = '#e5e7eb';
  ctx.strokeRect(0.5, 0.5, c.width - 1, c.height - 1);
  if (!s.labels) return;
  const dx = c.width / (HISTORY - 1);
  s.labels.forEach((label, i) => {
    ctx.beginPath();
    ctx.strokeStyle = color(label);
    ctx.lineWidth = 2;
    s.history.forEach((m, k) => {
      const x = k * dx, y = c.height - 2 - m[i] * (c.height - 4);
      if (k) ctx.lineTo(x, y); else ctx.moveTo(x, y);
    });
    ctx.stroke();
  });
}

show(location.hash.slice(1));
