#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Aggregate per camera what `emotionpublish uri=kafka://...` publishes to one topic, keyed by
camera (`source-id`): the Python side of the scale-out recipe (docs/surveillance.md), with
Confluent's client (`pip install confluent-kafka`). Reads frame reports (faces per emotion) and
events (a person's `end` prints one line), and the TOPIC.available topic (online/offline).

    examples/python/kafka_consumer.py kafka://127.0.0.1:9092/emotions
    examples/python/kafka_consumer.py kafka://b1:9092,b2:9092/emotions --group dashboards
    examples/python/kafka_consumer.py kafka://127.0.0.1:9092/emotions --idle 3 --json

Without --group it reads every partition from the start; with it, Kafka shares the partitions
among the consumers of the group. Every --every seconds (5) one line per camera; at the end
(--idle seconds without a message, or --max-messages) a summary, as JSON with --json.
"""

import argparse
import collections
import json
import sys
import time
import urllib.parse

try:
    from confluent_kafka import Consumer, KafkaException, TopicPartition, OFFSET_BEGINNING
except ImportError:
    sys.exit("kafka_consumer.py: needs Confluent's Kafka client: pip install confluent-kafka")


def parse_uri(uri):
    """kafka://HOST[:PORT][,HOST[:PORT]...]/TOPIC[?PROPERTY=VALUE&...] -> (config, topic)."""
    u = urllib.parse.urlsplit(uri)
    topic = u.path.lstrip("/")
    if u.scheme != "kafka" or not u.netloc or not topic:
        raise ValueError(f"{uri!r}: expected kafka://HOST[:PORT][,...]/TOPIC[?PROPERTY=VALUE&...]")
    brokers = ",".join(h if ":" in h.rsplit("]", 1)[-1] else f"{h}:9092" for h in u.netloc.split(","))
    config = {"bootstrap.servers": brokers}
    config.update(urllib.parse.parse_qsl(u.query))
    return config, topic


def new_camera():
    return {"messages": 0, "frames": 0, "events": 0, "partitions": set(), "people": set(),
            "ended": 0, "emotions": collections.Counter(), "available": None}


def on_message(camera, key, payload):
    """A frame report counts its faces per emotion; an event its person (an `end` prints a line)."""
    msg = json.loads(payload)
    if "type" in msg and "track_id" in msg:
        camera["events"] += 1
        camera["people"].add(msg["track_id"])
        if msg["type"] == "end":
            after = msg["after"]
            camera["ended"] += 1
            camera["emotions"][after["dominant_emotion"]] += 1
            print(f"{key:<16} #{msg['track_id']:<4} left after {after['duration']:.1f} s: mostly {after['dominant_emotion']}", flush=True)
        return
    camera["frames"] += 1
    for face in msg.get("objects", []):
        camera["people"].add(face["id"])
        camera["emotions"][face["emotion"]["label"]] += 1


def print_lines(cameras):
    for name, c in sorted(cameras.items()):
        if not c["messages"]:
            continue
        total = sum(c["emotions"].values()) or 1
        top = ", ".join(f"{label} {100 * n / total:.0f} %" for label, n in c["emotions"].most_common(3))
        available = f" [{c['available']}]" if c["available"] else ""
        print(f"{name:<16} {c['messages']:>6} messages on partition {sorted(c['partitions'])}, {len(c['people'])} people, {top}{available}", flush=True)


def subscribe(consumer, topics, group):
    if group:
        consumer.subscribe(topics)
        return
    parts = []
    for topic in topics:
        metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if metadata is not None and metadata.error is None:
            parts += [TopicPartition(topic, p, OFFSET_BEGINNING) for p in metadata.partitions]
    consumer.assign(parts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("uri")
    ap.add_argument("--group")
    ap.add_argument("--every", type=float, default=5.0)
    ap.add_argument("--idle", type=float)
    ap.add_argument("--max-messages", type=int)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    try:
        config, topic = parse_uri(args.uri)
    except ValueError as e:
        sys.exit(f"kafka_consumer.py: {e}")
    config.update({"group.id": args.group or "emotiondetect-kafka-consumer", "auto.offset.reset": "earliest",
                   "enable.auto.commit": bool(args.group)})
    consumer = Consumer(config)
    subscribe(consumer, [topic, f"{topic}.available"], args.group)
    cameras = collections.defaultdict(new_camera)
    total, last_message, printed = 0, time.monotonic(), time.monotonic()
    try:
        while True:
            m = consumer.poll(0.2)
            if m is not None and m.error():
                print(f"{args.uri}: {m.error()}", file=sys.stderr)  # librdkafka retries by itself
            elif m is not None:
                key = (m.key() or b"").decode("utf-8", "replace")
                camera = cameras[key]
                if m.topic() == topic:
                    camera["messages"] += 1
                    camera["partitions"].add(m.partition())
                    on_message(camera, key, m.value() or b"{}")
                    total += 1
                else:
                    camera["available"] = (m.value() or b"").decode("utf-8", "replace")
                last_message = time.monotonic()
            if time.monotonic() - printed >= args.every:
                print_lines(cameras)
                printed = time.monotonic()
            if (args.idle and time.monotonic() - last_message >= args.idle) or (args.max_messages and total >= args.max_messages):
                break
    except KeyboardInterrupt:
        pass
    except KafkaException as e:
        sys.exit(f"kafka_consumer.py: {e}")
    finally:
        consumer.close()
    if args.json:
        print(json.dumps({k: {**c, "partitions": sorted(c["partitions"]), "people": sorted(c["people"]), "emotions": dict(c["emotions"])}
                          for k, c in cameras.items()}))
    else:
        print_lines(cameras)
    return 0


if __name__ == "__main__":
    sys.exit(main())
