"""lmcourse.data: verified, atomic downloads and a clear error when nothing is found.

Downloads are tested against a server on 127.0.0.1 started by the test itself.
"""

import hashlib
import http.server
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from lmcourse import data
from lmcourse.data import ChecksumError, DataNotFoundError, Dataset, download, locate

PAYLOAD = b"To be, or not to be, that is the question.\n" * 200
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        if self.path == "/truncated":  # promises the whole payload, sends half, hangs up
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD[: len(PAYLOAD) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if self.path != "/file.txt":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        self.wfile.write(PAYLOAD)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def places(tmp_path, monkeypatch):
    """A course folder in tmp_path with an empty data/ and an empty shared/data beside it, an isolated
    cache, and no $LMCOURSE_DATA_DIR."""
    course, cache = tmp_path / "course", tmp_path / "cache"
    repo, shared = course / "data", tmp_path / "shared" / "data"
    repo.mkdir(parents=True)
    shared.mkdir(parents=True)
    monkeypatch.setattr(data, "COURSE_DIR", course)
    monkeypatch.setenv(data.CACHE_ENV, str(cache))
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    return {"data/": repo, "shared": shared, "cache": cache}


def _register(monkeypatch, url, sha=PAYLOAD_SHA):
    ds = Dataset(name="tiny", filename="tiny.txt", url=url, sha256=sha, size=len(PAYLOAD))
    monkeypatch.setitem(data.DATASETS, "tiny", ds)
    return ds


def _leftovers(folder: Path):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_writes_the_verified_file(server, tmp_path):
    dest = tmp_path / "out" / "file.txt"
    assert download(f"{server}/file.txt", dest, PAYLOAD_SHA) == dest
    assert dest.read_bytes() == PAYLOAD
    assert _leftovers(dest.parent) == ["file.txt"]  # no temporary file left behind


def test_checksum_mismatch_leaves_no_file(server, tmp_path):
    dest = tmp_path / "file.txt"
    with pytest.raises(ChecksumError, match="has sha256 .*expected 0000"):
        download(f"{server}/file.txt", dest, "0" * 64)
    assert _leftovers(tmp_path) == []


def test_download_cut_off_midway_leaves_no_partial_file(server, tmp_path):
    dest = tmp_path / "file.txt"
    with pytest.raises(ConnectionError, match=rf"was cut off after {len(PAYLOAD) // 2:,} of {len(PAYLOAD):,} bytes"):
        download(f"{server}/truncated", dest, PAYLOAD_SHA)
    assert _leftovers(tmp_path) == []


def test_connection_reset_midway_leaves_no_partial_file(tmp_path, monkeypatch):
    class Broken:
        def __init__(self):
            self.calls = 0

        def read(self, n):
            self.calls += 1
            if self.calls > 1:
                raise ConnectionResetError("connection reset by peer")
            return PAYLOAD[:n]

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(data.urllib.request, "urlopen", lambda url, timeout: Broken())
    dest = tmp_path / "file.txt"
    with pytest.raises(ConnectionResetError):
        download("http://example.invalid/file.txt", dest, PAYLOAD_SHA)
    assert _leftovers(tmp_path) == []


def test_an_existing_good_file_survives_a_failed_download(server, tmp_path):
    dest = tmp_path / "file.txt"
    dest.write_bytes(b"old and good")
    with pytest.raises(ChecksumError):
        download(f"{server}/file.txt", dest, "f" * 64)
    assert dest.read_bytes() == b"old and good"


def test_bad_sha_argument_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="sha256 must be a 64-character hex string"):
        download("http://127.0.0.1:9/x", tmp_path / "x", "abc")


def test_locate_downloads_into_the_cache_when_nothing_is_local(server, places, monkeypatch):
    _register(monkeypatch, f"{server}/file.txt")
    found = locate("tiny")
    assert found.place == "download"
    assert found.path == places["cache"] / "tiny.txt"
    assert locate("tiny").place == "cache"  # second time: no download


def test_places_are_searched_in_the_documented_order(places, monkeypatch, tmp_path):
    mine = tmp_path / "mine"
    monkeypatch.setenv(data.DATA_DIR_ENV, str(mine))
    assert data.places() == [("$LMCOURSE_DATA_DIR", mine), ("data/", places["data/"]),
                             ("shared/data", places["shared"]), ("cache", places["cache"])]
    monkeypatch.delenv(data.DATA_DIR_ENV)
    assert [label for label, _ in data.places()] == ["data/", "shared/data", "cache"]


def test_the_first_verified_copy_wins_and_no_download_happens(places, monkeypatch, tmp_path):
    _register(monkeypatch, "http://127.0.0.1:9/never-used")
    places["cache"].mkdir()
    (places["cache"] / "tiny.txt").write_bytes(PAYLOAD)
    assert locate("tiny").place == "cache"
    (places["shared"] / "tiny.txt").write_bytes(PAYLOAD)
    assert locate("tiny").place == "shared/data"
    (places["data/"] / "tiny.txt").write_bytes(PAYLOAD)
    assert locate("tiny") == data.Located(places["data/"] / "tiny.txt", "data/")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "tiny.txt").write_bytes(PAYLOAD)
    monkeypatch.setenv(data.DATA_DIR_ENV, str(mine))
    assert locate("tiny").place == "$LMCOURSE_DATA_DIR"


def test_a_corrupted_copy_is_skipped_for_a_good_one_further_down(places, monkeypatch):
    _register(monkeypatch, "http://127.0.0.1:9/never-used")
    (places["data/"] / "tiny.txt").write_bytes(b"corrupted copy")
    (places["shared"] / "tiny.txt").write_bytes(PAYLOAD)
    assert locate("tiny").place == "shared/data"


def test_offline_with_no_copy_lists_every_place_tried(places, monkeypatch, tmp_path):
    _register(monkeypatch, "http://127.0.0.1:9/tiny.txt")  # port 9: nothing listens
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path / "empty"))
    (places["shared"] / "tiny.txt").write_bytes(b"corrupted copy")
    with pytest.raises(DataNotFoundError) as err:
        locate("tiny")
    message = str(err.value)
    assert "could not find dataset 'tiny'" in message
    assert "$LMCOURSE_DATA_DIR:" in message and "data/:" in message and "cache:" in message
    assert "shared/data:" in message and "sha256 does not match; ignored" in message
    assert message.index("$LMCOURSE_DATA_DIR:") < message.index("  data/:") < message.index("shared/data:") \
        < message.index("cache:") < message.index("download:")
    assert "download: http://127.0.0.1:9/tiny.txt" in message
    assert "set LMCOURSE_DATA_DIR" in message
    assert _leftovers(places["cache"]) == []


def test_locate_without_download_says_so(places, monkeypatch):
    _register(monkeypatch, "http://127.0.0.1:9/tiny.txt")
    with pytest.raises(DataNotFoundError, match="not attempted"):
        locate("tiny", allow_download=False)


def test_unknown_dataset_is_an_error():
    with pytest.raises(ValueError, match=r"name must be one of \('tinyshakespeare',\); got 'wikipedia'"):
        locate("wikipedia")


@pytest.mark.parametrize("fraction", [0, -0.5, 1.5, "all", float("nan"), True])
def test_load_text_rejects_bad_fractions(fraction):
    with pytest.raises(ValueError, match=r"fraction must be a finite number in \(0, 1\]; got"):
        data.load_text("tinyshakespeare", fraction=fraction)


def test_tinyshakespeare_is_the_published_file():
    found = locate("tinyshakespeare")
    assert found.path.stat().st_size == data.DATASETS["tinyshakespeare"].size
    assert data.load_text(fraction=0.01).startswith("First Citizen:")


def test_importing_the_package_touches_no_network():
    code = (
        "import socket\n"
        "def refuse(*a, **k): raise AssertionError('network used at import time')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "import pkgutil, importlib, lmcourse\n"
        "for m in pkgutil.walk_packages(lmcourse.__path__, 'lmcourse.'):\n"
        "    importlib.import_module(m.name)\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
