"""Datasets the course uses: found locally or downloaded, always checked by sha256.

:func:`locate` looks for a dataset's file in these places, in this order, and uses the first
copy whose sha256 is the published one (a copy that does not match is reported and skipped):

1. ``$LMCOURSE_DATA_DIR``, if it is set: a folder you choose, for offline machines and
   classrooms (copy the file there once and point everyone at it);
2. ``data/`` in the course folder, the checkout this package is part of (beside ``data/README.md``;
   places 2 and 3 exist when the package is installed from a checkout with ``pip install -e .``,
   as ``make setup`` does);
3. ``shared/data/`` beside the course folder, a folder several checkouts share;
4. the download cache, ``$LMCOURSE_CACHE`` or else ``~/.cache/lmcourse`` (outside the checkout,
   so downloads never end up in a commit);
5. the public URL, downloaded into the cache: the bytes go to a temporary file that is renamed
   into place only once it is complete and its hash matches, so an interrupted or corrupted
   download never leaves a file behind.

:func:`places` is that list (1–4); ``data/README.md`` says the same for readers of the repository.
Nothing here touches the network at import time. The folder also holds the data files the package
ships, such as ``sentiment.tsv`` (read by :mod:`lmcourse.sentiment_data`).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .._checks import number, one_of
from .._files import atomic_write

CACHE_ENV = "LMCOURSE_CACHE"
DATA_DIR_ENV = "LMCOURSE_DATA_DIR"
COURSE_DIR = Path(__file__).resolve().parents[2]  # the checkout: lmcourse/data/__init__.py -> lmcourse -> it


@dataclass(frozen=True)
class Dataset:
    """A file the course can use: its name, where it comes from and how to check it (source and
    license are in ``data/README.md``)."""

    name: str
    filename: str
    url: str
    sha256: str
    size: int  # bytes


DATASETS: dict[str, Dataset] = {
    "tinyshakespeare": Dataset(
        name="tinyshakespeare",
        filename="tinyshakespeare.txt",
        url="https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
        sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        size=1_115_394,
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
    place: str  # "$LMCOURSE_DATA_DIR", "data/", "shared/data", "cache" or "download"


def cache_dir() -> Path:
    """The course's workspace for downloads: ``$LMCOURSE_CACHE``, else ``~/.cache/lmcourse``."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "lmcourse"


def places() -> list[tuple[str, Path]]:
    """The folders :func:`locate` searches, in order, as ``(label, folder)`` pairs (see the module docstring)."""
    found = []
    if os.environ.get(DATA_DIR_ENV):
        found.append((f"${DATA_DIR_ENV}", Path(os.environ[DATA_DIR_ENV]).expanduser()))
    found += [("data/", COURSE_DIR / "data"), ("shared/data", COURSE_DIR.parent / "shared" / "data"),
              ("cache", cache_dir())]
    return found


def sha256_of(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(url: str, dest: str | os.PathLike, sha256: str, *, timeout: float = 30.0) -> Path:
    """Download ``url`` to ``dest`` atomically, verifying ``sha256`` before the file appears.

    The bytes go to a temporary file next to ``dest`` (:func:`lmcourse._files.atomic_write`); only a
    complete download with the right hash is renamed to ``dest``. On any failure the temporary file is
    removed and ``dest`` is left as it was. Raises :class:`ChecksumError` on a hash mismatch and
    ``ConnectionError`` when fewer bytes arrive than the server announced.
    """
    if not isinstance(sha256, str) or len(sha256) != 64:
        raise ValueError(f"sha256 must be a 64-character hex string; got {sha256!r}")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)

    def fetch(tmp: str) -> None:
        digest, received = hashlib.sha256(), 0
        with open(tmp, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            announced = getattr(response, "headers", {}).get("Content-Length")
            while chunk := response.read(1 << 16):
                digest.update(chunk)
                out.write(chunk)
                received += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        if announced is not None and received != int(announced):
            raise ConnectionError(f"download of {url} was cut off after {received:,} of "
                                  f"{int(announced):,} bytes; the file was not saved")
        if digest.hexdigest() != sha256.lower():
            raise ChecksumError(f"download of {url} has sha256 {digest.hexdigest()}, expected "
                                f"{sha256.lower()}; the file was not saved")

    atomic_write(dest, fetch)
    return dest


def get_dataset(name: str) -> Dataset:
    """The :class:`Dataset` registered under ``name``."""
    return DATASETS[one_of("name", name, DATASETS)]


def locate(name: str = "tinyshakespeare", *, allow_download: bool = True) -> Located:
    """Find a verified copy of dataset ``name`` in :func:`places`, else download it into the cache.

    A local file whose hash does not match is skipped (and reported), never used.
    Raises :class:`DataNotFoundError` naming every place tried and why each failed.
    """
    ds = get_dataset(name)
    tried: list[str] = []
    for place, folder in places():
        path = folder / ds.filename
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
    fraction = number("fraction", fraction, min=0, max=1, min_open=True)
    text = locate(name).path.read_text(encoding="utf-8")
    return text[: max(1, int(len(text) * fraction))]
