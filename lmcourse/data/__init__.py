"""Datasets the course uses: found locally or downloaded, always checked by sha256.

``locate(name)`` looks, in order, in the cache, in ``$LMCOURSE_DATA_DIR``, in a
``shared/data`` folder beside the repository, and finally downloads the public copy into
the cache. Every candidate must match the published sha256; a download is written to a
temporary file and renamed into place only once it is complete and verified, so an
interrupted or corrupted download never leaves a file behind. Nothing here touches the
network at import time.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import lmcourse

CACHE_ENV = "LMCOURSE_CACHE"
DATA_DIR_ENV = "LMCOURSE_DATA_DIR"


@dataclass(frozen=True)
class Dataset:
    """A file the course can use, with where it comes from and how to check it."""

    name: str
    filename: str
    url: str
    sha256: str
    size: int
    source: str
    license: str


DATASETS: dict[str, Dataset] = {
    "tinyshakespeare": Dataset(
        name="tinyshakespeare",
        filename="tinyshakespeare.txt",
        url="https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
        sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        size=1_115_394,
        source="Andrej Karpathy's char-rnn repository: about 40,000 lines of Shakespeare's plays",
        license="the plays are in the public domain; the file is distributed with char-rnn (MIT)",
    ),
}


class ChecksumError(ValueError):
    """A file's sha256 is not the one published for it."""


class DataNotFoundError(FileNotFoundError):
    """No verified copy could be found or downloaded; the message lists every place tried."""


@dataclass(frozen=True)
class Located:
    """Where a dataset was found: the file, and which of the places it was (for display)."""

    path: Path
    place: str  # "cache", "$LMCOURSE_DATA_DIR", "shared/data" or "download"


def cache_dir() -> Path:
    """The course's workspace for downloads: ``$LMCOURSE_CACHE``, else ``~/.cache/lmcourse``.

    It lives outside the repository so that downloads never end up in a commit.
    """
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "lmcourse"


def sha256_of(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(url: str, dest: str | os.PathLike, sha256: str, *, timeout: float = 30.0) -> Path:
    """Download ``url`` to ``dest`` atomically, verifying ``sha256`` before the file appears.

    The bytes go to a temporary file next to ``dest``; only a complete download with the
    right hash is renamed to ``dest``. On any failure the temporary file is removed and
    ``dest`` is left as it was. Raises :class:`ChecksumError` on a hash mismatch.
    """
    if not isinstance(sha256, str) or len(sha256) != 64:
        raise ValueError(f"sha256 must be a 64-character hex string; got {sha256!r}")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        received = 0
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            expected_bytes = getattr(response, "headers", {}).get("Content-Length")
            while chunk := response.read(1 << 16):
                digest.update(chunk)
                out.write(chunk)
                received += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        if expected_bytes is not None and received != int(expected_bytes):
            raise ConnectionError(f"download of {url} was cut off after {received:,} of "
                                  f"{int(expected_bytes):,} bytes; the file was not saved")
        got = digest.hexdigest()
        if got != sha256.lower():
            raise ChecksumError(f"download of {url} has sha256 {got}, expected {sha256.lower()}; "
                                "the file was not saved")
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


def _shared_data_dirs() -> list[Path]:
    """``shared/data`` folders beside the repository (checked from the package and from cwd)."""
    package_repo = Path(lmcourse.__file__).resolve().parents[1]
    cwd = Path.cwd().resolve()
    dirs: list[Path] = []
    for base in (package_repo, cwd, cwd.parent):
        candidate = base.parent / "shared" / "data"
        if candidate not in dirs:
            dirs.append(candidate)
    return dirs


def _candidates(ds: Dataset) -> list[tuple[str, Path]]:
    places = [("cache", cache_dir() / ds.filename)]
    if os.environ.get(DATA_DIR_ENV):
        places.append((f"${DATA_DIR_ENV}", Path(os.environ[DATA_DIR_ENV]).expanduser() / ds.filename))
    places += [("shared/data", d / ds.filename) for d in _shared_data_dirs()]
    return places


def get_dataset(name: str) -> Dataset:
    """The :class:`Dataset` registered under ``name``."""
    if name not in DATASETS:
        raise ValueError(f"name must be one of {', '.join(DATASETS)}; got {name!r}")
    return DATASETS[name]


def locate(name: str = "tinyshakespeare", *, allow_download: bool = True) -> Located:
    """Find a verified copy of dataset ``name``, downloading it into the cache if needed.

    A local file whose hash does not match is skipped (and reported), never used.
    Raises :class:`DataNotFoundError` naming every place tried and why each failed.
    """
    ds = get_dataset(name)
    tried: list[str] = []
    for place, path in _candidates(ds):
        if not path.is_file():
            tried.append(f"  {place}: {path} (not there)")
        elif sha256_of(path) != ds.sha256:
            tried.append(f"  {place}: {path} (sha256 does not match; ignored)")
        else:
            return Located(path, place)
    if allow_download:
        dest = cache_dir() / ds.filename
        try:
            return Located(download(ds.url, dest, ds.sha256), "download")
        except (OSError, ChecksumError, http.client.HTTPException) as err:
            tried.append(f"  download: {ds.url} -> {dest} ({type(err).__name__}: {err})")
    else:
        tried.append("  download: not attempted (allow_download=False)")
    raise DataNotFoundError(
        f"could not find dataset {name!r} ({ds.filename}, sha256 {ds.sha256[:12]}…). Places tried:\n"
        + "\n".join(tried)
        + f"\nFix: connect to the internet, or put {ds.filename} in a folder and set {DATA_DIR_ENV} to it."
    )


def load_text(name: str = "tinyshakespeare", fraction: float = 1.0) -> str:
    """The dataset's text; ``fraction`` < 1 keeps only its first part (see ``Profile.data_fraction``)."""
    if not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1]; got {fraction!r}")
    text = locate(name).path.read_text(encoding="utf-8")
    return text[: max(1, int(len(text) * fraction))]
