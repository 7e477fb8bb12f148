"""MNIST and Fashion-MNIST: find, verify, download and decode the IDX files.

Folders are searched in this order: ``root``, ``$MINIGRAD_DATA``, the repository's
``datasets/<name>/`` (in a clone), the user cache ``<cache>/<name>/`` and, for Fashion-MNIST,
``/usr/share/datasets/fashion-mnist``. ``root`` and ``$MINIGRAD_DATA`` may hold the four files
directly or in a ``<name>/`` subfolder (``mnist``, ``fashion-mnist``); the first folder holding
all four (``.gz`` or uncompressed) is used. When none does, the missing files are downloaded
into the cache (``$MINIGRAD_DATA``, else ``$XDG_CACHE_HOME/minigrad``, else
``~/.cache/minigrad``) from ``spec.mirrors``; pass other mirrors with
``load_dataset(dataclasses.replace(MNIST, mirrors=...))`` or ``download_file(mirrors=...)``.

Every file is validated (IDX header, counts, label range, SHA-256 of the decompressed bytes, so
any re-compression is accepted) before use. The decoded arrays are then cached as
``<name>.minigrad-cache.npz`` next to the files (in the user cache for system folders); the
cache records the checksums and each source's path, size and mtime and is rebuilt whenever they
differ or it fails to load (zip CRC, shapes, dtypes, labels). It never holds pickles.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import secrets
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import BinaryIO

import numpy as np
from tqdm import tqdm

__all__ = [
    "FASHION_MNIST", "FASHION_MNIST_MIRRORS", "FASHION_MNIST_SHA256", "MNIST", "MNIST_MIRRORS",
    "MNIST_SHA256", "DatasetError", "DatasetNotFoundError", "DatasetSpec", "cache_dir",
    "download_file", "load_dataset", "load_fashion_mnist", "load_mnist", "locate", "read_idx",
    "search_dirs",
]

logger = logging.getLogger("minigrad_nn.datasets")

LABEL_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
IMAGE_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
NUM_CLASSES = 10
IMAGE_SHAPE = (28, 28)
MAX_BYTES = 1 << 28  # refuse downloads and decompressed files above 256 MiB
CACHE_FORMAT = 1  # bump when the .npz layout changes
REPO_DATASETS = Path(__file__).resolve().parent.parent / "datasets"
SPLITS = (("train", "train"), ("t10k", "test"))  # (file prefix, array suffix)
ARRAY_KEYS = ("x_train", "t_train", "x_test", "t_test")

MNIST_SHA256: Mapping[str, str] = MappingProxyType({
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
})
FASHION_MNIST_SHA256: Mapping[str, str] = MappingProxyType({
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
})
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
FASHION_MNIST_MIRRORS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
)

Split = tuple[np.ndarray, np.ndarray]


class DatasetError(ValueError):
    """A dataset file is missing, malformed or fails its checksum; the message names it."""


class DatasetNotFoundError(DatasetError):
    """No folder holds the files and no mirror could provide them."""


@dataclass(frozen=True)
class DatasetSpec:
    """An MNIST-style dataset: its folder name, the SHA-256 of each decompressed file, mirrors.

    ``sha256`` maps the four file stems (``train-images-idx3-ubyte`` ...) to their checksum;
    a value of None skips that check (custom files only).
    """

    name: str
    sha256: Mapping[str, str | None]
    mirrors: tuple[str, ...] = ()
    system_dirs: tuple[str, ...] = ()
    n_train: int = 60000
    n_test: int = 10000


MNIST = DatasetSpec("mnist", MNIST_SHA256, MNIST_MIRRORS)
FASHION_MNIST = DatasetSpec(
    "fashion-mnist", FASHION_MNIST_SHA256, FASHION_MNIST_MIRRORS,
    system_dirs=("/usr/share/datasets/fashion-mnist",),
)


def _stem(prefix: str, kind: str) -> str:
    return f"{prefix}-{kind}-idx{3 if kind == 'images' else 1}-ubyte"


# --- IDX reader -------------------------------------------------------------------------------

def read_idx(
    path: str | os.PathLike, sha256: str | None, *, magic: int | None = None
) -> np.ndarray:
    """Decode an IDX file (``.gz`` or raw) after validating it; ``sha256=None`` skips the checksum.

    Raises DatasetError naming the file if it is unreadable, not gzip, truncated, has a bad magic
    number or item count, or its decompressed bytes do not hash to ``sha256``.
    """
    return _read_idx(Path(path), sha256, magic, str(path))


def _read_idx(path: Path, sha256: str | None, magic: int | None, name: str) -> np.ndarray:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"{name}: cannot read: {exc}") from exc
    if data[:2] == b"\x1f\x8b":
        data = _gunzip(data, name)
    elif not data:
        raise DatasetError(f"{name}: the file is empty (0 bytes); delete it, and it will be "
                           "downloaded again or looked for in the other folders")
    elif path.suffix == ".gz":
        raise DatasetError(f"{name}: not a gzip file (starts with bytes {data[:4].hex()})")
    array = _decode_idx(data, name, magic)
    if sha256 is not None and (digest := hashlib.sha256(data).hexdigest()) != sha256:
        raise DatasetError(
            f"{name}: checksum mismatch: the decompressed content has SHA-256 {digest}, "
            f"expected {sha256}"
        )
    return array


def _gunzip(data: bytes, name: str) -> bytes:
    """Decompress every gzip member, refusing corrupt or truncated streams and huge outputs."""
    parts, size = [], 0
    while data:
        inflater = zlib.decompressobj(wbits=31)
        try:
            parts.append(inflater.decompress(data, MAX_BYTES + 1 - size))
        except zlib.error as exc:
            raise DatasetError(f"{name}: corrupt gzip data ({exc})") from exc
        size += len(parts[-1])
        if size > MAX_BYTES:
            raise DatasetError(f"{name}: decompresses to more than {MAX_BYTES} bytes")
        if not inflater.eof:
            raise DatasetError(f"{name}: truncated gzip file (the stream ends early)")
        data = inflater.unused_data
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _decode_idx(data: bytes, name: str, magic: int | None) -> np.ndarray:
    """Check the IDX header against the payload size and view the items as uint8."""
    if len(data) < 4:
        raise DatasetError(f"{name}: truncated: {len(data)} bytes is too short for an IDX header")
    found = int.from_bytes(data[:4], "big")
    if found not in (LABEL_MAGIC, IMAGE_MAGIC) or magic not in (None, found):
        wanted = magic or f"{LABEL_MAGIC} (labels) or {IMAGE_MAGIC} (images)"
        raise DatasetError(f"{name}: bad magic number {found} ({found:#010x}), expected {wanted}")
    ndim = found & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetError(f"{name}: truncated header ({len(data)} of {header} bytes)")
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, 4))
    items, payload = int(np.prod(dims)), len(data) - header
    if payload != items:
        problem = "truncated" if payload < items else "trailing bytes"
        raise DatasetError(
            f"{name}: count mismatch ({problem}): the header says shape {dims} = {items} "
            f"bytes but the payload has {payload}"
        )
    return np.frombuffer(data, np.uint8, items, header).reshape(dims).copy()


def _check_split(x: np.ndarray, t: np.ndarray, x_name: str, t_name: str, count: int) -> None:
    """Check one split's image size, both item counts and the label range."""
    if x.shape[1:] != IMAGE_SHAPE:
        raise DatasetError(f"{x_name}: images are {x.shape[1:]}, expected {IMAGE_SHAPE}")
    for array, name in ((x, x_name), (t, t_name)):
        if len(array) != count:
            raise DatasetError(f"{name}: count mismatch: {len(array)} items, expected {count}")
    if t.size and t.max() >= NUM_CLASSES:
        raise DatasetError(
            f"{t_name}: labels out of range: found {t.max()}, expected 0..{NUM_CLASSES - 1}"
        )


# --- where the files are ------------------------------------------------------------------------

def cache_dir() -> Path:
    """The user cache: $MINIGRAD_DATA, else $XDG_CACHE_HOME/minigrad, else ~/.cache/minigrad."""
    if env := os.environ.get("MINIGRAD_DATA"):
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "minigrad"


def search_dirs(spec: DatasetSpec, root: str | os.PathLike | None = None) -> list[Path]:
    """Candidate folders in search order, without duplicates."""
    folders = []
    for base in (root, os.environ.get("MINIGRAD_DATA")):
        if base:
            folders += [Path(base).expanduser() / spec.name, Path(base).expanduser()]
    if REPO_DATASETS.is_dir():
        folders.append(REPO_DATASETS / spec.name)
    folders.append(cache_dir() / spec.name)
    folders += [Path(d) for d in spec.system_dirs]
    return list(dict.fromkeys(folders))


def _find(folder: Path, stem: str) -> Path | None:
    """``folder/stem`` if it exists (uncompressed is preferred), else ``folder/stem.gz``."""
    return next((p for p in (folder / stem, folder / f"{stem}.gz") if p.is_file()), None)


def _files_in(folder: Path, spec: DatasetSpec) -> dict[str, Path] | None:
    """The spec's files in `folder`, or None unless all of them are there."""
    found = {stem: _find(folder, stem) for stem in spec.sha256}
    return found if all(found.values()) else None  # type: ignore[return-value]


def locate(
    spec: DatasetSpec, root: str | os.PathLike | None = None, *, download: bool = True,
    progress: bool = True, timeout: float = 30.0,
) -> dict[str, Path]:
    """Paths of the spec's four files: from the first folder holding all, else downloaded."""
    folders = search_dirs(spec, root)
    for folder in folders:
        if files := _files_in(folder, spec):
            logger.debug("%s: using the files in %s", spec.name, folder)
            return files
    if not download:
        raise DatasetNotFoundError(_not_found_message(spec, folders, "disabled (download=False)"))
    target = cache_dir() / spec.name
    try:
        for stem, checksum in spec.sha256.items():
            if _find(target, stem) is None:
                download_file(f"{stem}.gz", target, checksum, spec.mirrors,
                              timeout=timeout, progress=progress)
    except (DatasetError, OSError) as exc:
        raise DatasetNotFoundError(_not_found_message(spec, folders, exc)) from exc
    logger.debug("%s: using the files downloaded to %s", spec.name, target)
    return _files_in(target, spec) or {}


def _not_found_message(spec: DatasetSpec, folders: list[Path], reason: object) -> str:
    """Several lines: what is missing, one line per folder searched with what it lacks, why
    the download failed, and what to do."""
    names = ", ".join(f"{stem}[.gz]" for stem in spec.sha256)
    searched = "".join(f"  {folder}: {_lacks(folder, spec)}\n" for folder in folders)
    return (
        f"{spec.name}: no folder holds the files ({names}) and they could not be downloaded.\n"
        f"Folders searched:\n{searched}"
        f"Download: {reason}\n"
        "To provide the files, put them (.gz or uncompressed) in a folder and pass root=<folder>,"
        f" or set MINIGRAD_DATA=<folder>; either may hold them directly or in '{spec.name}/'."
    )


def _lacks(folder: Path, spec: DatasetSpec) -> str:
    """What `folder` lacks of the spec's files, in a few words."""
    if not folder.is_dir():
        return "no such folder"
    missing = [stem for stem in spec.sha256 if _find(folder, stem) is None]
    return "lacks " + ", ".join(missing) if missing else "holds every file"


# --- download -----------------------------------------------------------------------------------

def download_file(
    filename: str, folder: str | os.PathLike, sha256: str | None, mirrors: Sequence[str], *,
    timeout: float = 30.0, progress: bool = True,
) -> Path:
    """Fetch `filename` from the first mirror serving a valid copy; verified, then moved in place.

    ``timeout`` bounds each network operation (connect, each read) in seconds. Raises DatasetError
    listing every mirror's failure; nothing is left in `folder` unless it was verified.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    failures, last = [], None
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + filename
        try:
            with _temporary(folder / filename) as (tmp, out):
                _fetch(url, out, timeout, progress)
                out.close()
                _read_idx(tmp, sha256, None, url)
                os.replace(tmp, folder / filename)
            logger.debug("downloaded %s to %s", url, folder)
            return folder / filename
        except (OSError, http.client.HTTPException, DatasetError) as exc:
            reason = str(exc) if isinstance(exc, DatasetError) else f"{url}: {_describe(exc)}"
            logger.debug("download failed: %s", reason)
            failures.append(reason)
            last = exc
    tried = "".join(f"\n  {failure}" for failure in failures) or " no mirrors given"
    raise DatasetError(f"could not download {filename}:{tried}") from last


def _describe(exc: BaseException) -> str:
    """A one-line reason: the cause inside a URLError, else the exception's own text."""
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        return str(exc.reason)
    return str(exc) or type(exc).__name__


@contextmanager
def _temporary(dest: Path) -> Iterator[tuple[Path, BinaryIO]]:
    """A fresh hidden file next to `dest` (mode from the umask), removed unless moved away."""
    tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(6)}.part{dest.suffix}")
    out = tmp.open("xb")
    try:
        yield tmp, out
    finally:
        out.close()
        tmp.unlink(missing_ok=True)


def _fetch(url: str, out: BinaryIO, timeout: float, progress: bool) -> None:
    """Stream `url` into `out` with a progress bar, checking the length the server announced."""
    request = urllib.request.Request(url, headers={"User-Agent": "minigrad"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        length = response.headers.get("Content-Length", "")
        total = int(length) if length.isdigit() else None
        received = 0
        with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                  desc=url.rsplit("/", 1)[-1], disable=not progress, leave=False) as bar:
            while chunk := response.read(1 << 16):
                received += len(chunk)
                if received > MAX_BYTES:
                    raise DatasetError(f"{url}: larger than {MAX_BYTES} bytes")
                out.write(chunk)
                bar.update(len(chunk))
    if total is not None and received != total:
        raise DatasetError(f"{url}: connection closed after {received} of {total} bytes")


# --- decoded-array cache ------------------------------------------------------------------------

def _cache_meta(spec: DatasetSpec, files: dict[str, Path]) -> str:
    """What a cached .npz must match: format, checksums and each source's size and mtime."""
    sources = {}
    for stem, path in files.items():
        stat = path.stat()
        sources[stem] = [str(path.resolve()), stat.st_size, stat.st_mtime_ns]
    meta = {"format": CACHE_FORMAT, "sha256": dict(spec.sha256), "sources": sources,
            "counts": [spec.n_train, spec.n_test]}
    return json.dumps(meta, sort_keys=True)


def _npz_paths(spec: DatasetSpec, folder: Path) -> list[Path]:
    """Where the cache may live: next to the sources (not system folders), then the user cache."""
    name = f"{spec.name}.minigrad-cache.npz"
    places = [cache_dir() / spec.name / name]
    if str(folder) not in spec.system_dirs and os.access(folder, os.W_OK):
        places.insert(0, folder / name)
    return places


def _read_npz(path: Path, spec: DatasetSpec, meta: str) -> dict[str, np.ndarray] | None:
    """The cached arrays if `path` is intact and matches `meta` and the spec, else None."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            if sorted(archive.files) != sorted((*ARRAY_KEYS, "meta")):
                raise ValueError(f"unexpected keys {archive.files}")
            if str(archive["meta"]) != meta:
                logger.debug("%s: cache %s is stale", spec.name, path)
                return None
            arrays = {key: archive[key] for key in ARRAY_KEYS}
        for split, count in (("train", spec.n_train), ("test", spec.n_test)):
            x, t = arrays[f"x_{split}"], arrays[f"t_{split}"]
            if x.dtype != np.uint8 or t.dtype != np.uint8 or t.ndim != 1:
                raise ValueError("unexpected dtypes or shapes")
            _check_split(x, t, str(path), str(path), count)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        logger.warning("%s: damaged cache %s (%s); rebuilding it", spec.name, path, exc)
        return None
    logger.debug("%s: loaded the cached arrays from %s", spec.name, path)
    return arrays


def _write_npz(arrays: dict[str, np.ndarray], meta: str, places: list[Path]) -> None:
    """Atomically write the cache to the first place that accepts it; failure only logs."""
    for path in places:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with _temporary(path) as (tmp, out):
                np.savez(out, meta=np.array(meta), **arrays)
                out.close()
                os.replace(tmp, path)
            logger.debug("cached the decoded arrays in %s", path)
            return
        except OSError as exc:
            logger.debug("cannot write the cache %s: %s", path, exc)
    logger.warning("could not write the dataset cache to any of %s", [str(p) for p in places])


def _decode_files(spec: DatasetSpec, files: dict[str, Path]) -> dict[str, np.ndarray]:
    """Read and validate all four files; nothing is returned unless every check passes."""
    arrays = {}
    for (prefix, split), count in zip(SPLITS, (spec.n_train, spec.n_test), strict=True):
        x_path, t_path = files[_stem(prefix, "images")], files[_stem(prefix, "labels")]
        x = _read_idx(x_path, spec.sha256[_stem(prefix, "images")], IMAGE_MAGIC, str(x_path))
        t = _read_idx(t_path, spec.sha256[_stem(prefix, "labels")], LABEL_MAGIC, str(t_path))
        _check_split(x, t, str(x_path), str(t_path), count)
        arrays[f"x_{split}"], arrays[f"t_{split}"] = x, t
    return arrays


# --- public loaders -----------------------------------------------------------------------------

def load_dataset(
    spec: DatasetSpec, normalize: bool = True, flatten: bool = True, one_hot_label: bool = False,
    root: str | os.PathLike | None = None, *, download: bool = True, cache: bool = True,
    progress: bool = True, timeout: float = 30.0,
) -> tuple[Split, Split]:
    """Load any MNIST-style dataset described by `spec` (see load_mnist for the arguments)."""
    files = locate(spec, root, download=download, progress=progress, timeout=timeout)
    arrays = _cached_arrays(spec, files) if cache else _decode_files(spec, files)
    train, test = (_format(arrays, split, normalize, flatten, one_hot_label)
                   for split in ("train", "test"))
    return train, test


def _cached_arrays(spec: DatasetSpec, files: dict[str, Path]) -> dict[str, np.ndarray]:
    """The decoded arrays from a verified .npz when one matches the sources, else rebuilt."""
    meta = _cache_meta(spec, files)
    places = _npz_paths(spec, next(iter(files.values())).parent)
    for path in places:
        if (arrays := _read_npz(path, spec, meta)) is not None:
            return arrays
    arrays = _decode_files(spec, files)
    _write_npz(arrays, meta, places)
    return arrays


def _format(arrays: dict[str, np.ndarray], split: str, normalize: bool, flatten: bool,
            one_hot_label: bool) -> Split:
    """The book's layout: float32 in [0, 1] or uint8, (N, 784) or (N, 1, 28, 28), labels."""
    x, t = arrays[f"x_{split}"], arrays[f"t_{split}"]
    if normalize:
        x = x.astype(np.float32)
        x /= 255.0
    x = x.reshape(len(x), -1) if flatten else x.reshape(len(x), 1, *x.shape[1:])
    t = np.eye(NUM_CLASSES, dtype=np.float32)[t] if one_hot_label else t.astype(np.int64)
    return x, t


def load_mnist(
    normalize: bool = True, flatten: bool = True, one_hot_label: bool = False,
    root: str | os.PathLike | None = None, *, download: bool = True, cache: bool = True,
) -> tuple[Split, Split]:
    """MNIST as ``((x_train, t_train), (x_test, t_test))``, the book's ``load_mnist``.

    Images are float32 in [0, 1] (uint8 if not `normalize`), shaped (N, 784) or (N, 1, 28, 28);
    labels int64, or float32 one-hot (N, 10). The module docstring gives the folder search order.
    """
    return load_dataset(MNIST, normalize, flatten, one_hot_label, root,
                        download=download, cache=cache)


def load_fashion_mnist(
    normalize: bool = True, flatten: bool = True, one_hot_label: bool = False,
    root: str | os.PathLike | None = None, *, download: bool = True, cache: bool = True,
) -> tuple[Split, Split]:
    """Fashion-MNIST, same layout and arguments as load_mnist (Debian: dataset-fashion-mnist)."""
    return load_dataset(FASHION_MNIST, normalize, flatten, one_hot_label, root,
                        download=download, cache=cache)
