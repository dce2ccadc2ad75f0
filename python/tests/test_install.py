# SPDX-License-Identifier: MIT
"""The package outside this test run's interpreter: `pip install ./python` into a virtual
environment, a --system-site-packages venv using the source tree, and the ImportError saying what
to install where PyGObject or GStreamer's introspection data are missing (a plain venv; the Gst
typelibs hidden). Each runs a real interpreter in a subprocess on a real photo."""

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

PACKAGE = ROOT / "python"
APT_LINE = "apt-get install python3-gi python3-gst-1.0 gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0"
#: Prints where emotiondetect came from, its installed version (or -), and the faces of argv[1].
ANALYSE = (
    "import sys, importlib.metadata as md, emotiondetect\n"
    "try:\n    version = md.version('emotiondetect')\nexcept md.PackageNotFoundError:\n    version = '-'\n"
    "faces = emotiondetect.analyse_image(sys.argv[1])\n"
    "print(emotiondetect.__file__, version, len(faces), [f.box for f in faces], sep='\\n')\n"
)


def venv(tmp_path, name: str, *options: str) -> pathlib.Path:
    """A new venv of this interpreter (without pip of its own); its python."""
    where = tmp_path / name
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", *options, str(where)], check=True, timeout=120)
    return where / "bin" / "python"


def run(python: pathlib.Path, *args: str, pythonpath=None, **env: str) -> subprocess.CompletedProcess:
    """`python ARGS` from an empty directory, this run's GStreamer settings kept (the plugin under
    test), PYTHONPATH only when given."""
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath:
        environ["PYTHONPATH"] = str(pythonpath)
    environ.update(env)
    cwd = python.parents[2] if python.parent.name == "bin" else pathlib.Path("/")
    return subprocess.run([str(python), *args], capture_output=True, text=True, timeout=300, env=environ, cwd=cwd)


def test_pip_install_into_a_venv(tmp_path, group_photo):
    """`pip install ./python` (from a copy, so the tree gets no build/), no network, no build
    isolation: the venv imports the installed copy, not the source tree, and analyses a photo."""
    src = tmp_path / "src"
    shutil.copytree(PACKAGE, src, ignore=shutil.ignore_patterns("tests", "build", "*.egg-info", "__pycache__"))
    python = venv(tmp_path, "venv", "--system-site-packages")
    if run(python, "-m", "pip", "--version").returncode != 0:
        pytest.fail("no pip for this interpreter: apt-get install python3-pip (./setup.sh installs it)")
    pip = run(python, "-m", "pip", "install", "--disable-pip-version-check", "--no-index", "--no-deps",
              "--no-build-isolation", str(src), PYTHONNOUSERSITE="1")
    assert pip.returncode == 0, pip.stdout + pip.stderr
    assert "Successfully installed emotiondetect-0.1.0" in pip.stdout
    out = run(python, "-c", ANALYSE, str(group_photo), PYTHONNOUSERSITE="1")
    assert out.returncode == 0, out.stderr
    where, version, faces, _ = out.stdout.splitlines()
    site = run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").stdout.strip()
    assert where == f"{site}/emotiondetect/__init__.py" and site.startswith(str(tmp_path / "venv"))
    assert (version, faces) == ("0.1.0", "2")
    installed = sorted(p.name for p in pathlib.Path(site).iterdir() if "emotiondetect" in p.name or p.name == "tests")
    assert installed == ["emotiondetect", "emotiondetect-0.1.0.dist-info"]


def test_a_system_site_packages_venv_imports_it_and_analyses_a_photo(tmp_path, group_photo):
    python = venv(tmp_path, "venv", "--system-site-packages")
    out = run(python, "-c", ANALYSE, str(group_photo), pythonpath=PACKAGE)
    assert out.returncode == 0, out.stderr
    where, _, faces, boxes = out.stdout.splitlines()
    assert where == f"{PACKAGE}/emotiondetect/__init__.py"
    assert faces == "2", boxes


def assert_says_what_to_install(out: subprocess.CompletedProcess, why: str) -> None:
    assert out.returncode != 0, out.stdout
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith(f"ImportError: emotiondetect needs {why}"), out.stderr
    for needed in (APT_LINE, "python3 -m venv --system-site-packages", "pip install PyGObject"):
        assert needed in last, (needed, last)


def test_a_venv_without_pygobject_raises_import_error_saying_what_to_install(tmp_path):
    python = venv(tmp_path, "plain")
    assert run(python, "-c", "import gi").returncode != 0, "a plain venv should not see the system's gi"
    out = run(python, "-c", "import emotiondetect", pythonpath=PACKAGE)
    assert_says_what_to_install(out, "PyGObject, which ")
    assert "No module named 'gi'" in out.stderr


def test_missing_gstreamer_typelibs_raise_import_error_saying_what_to_install(tmp_path):
    """gi without gir1.2-gstreamer-1.0: the directories holding Gst*.typelib are replaced, in a
    private mount namespace, by copies without them."""
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode != 0:
        pytest.skip("needs `unshare -rm` (user and mount namespaces) to hide the typelibs")
    from emotiondetect._api import gi

    gi.require_version("GIRepository", "2.0")
    from gi.repository import GIRepository

    mounts = []
    for n, directory in enumerate(GIRepository.Repository.get_search_path()):
        names = os.listdir(directory) if os.path.isdir(directory) else []
        if any(name.startswith("Gst") for name in names):
            copy = tmp_path / f"gir{n}"
            copy.mkdir()
            for name in names:
                if not name.startswith("Gst"):
                    (copy / name).symlink_to(os.path.join(directory, name))
            mounts.append(f'mount --bind "{copy}" "{directory}" && ')
    assert mounts, "no Gst typelib found"
    shell = "".join(mounts) + f'exec "{sys.executable}" -c "import emotiondetect"'
    environ = {**os.environ, "PYTHONPATH": str(PACKAGE)}
    out = subprocess.run(["unshare", "-rm", "sh", "-c", shell], capture_output=True, text=True, timeout=120, env=environ)
    assert_says_what_to_install(out, "GStreamer's introspection data (Gst 1.0), which ")
    assert "Namespace Gst not available" in out.stderr
