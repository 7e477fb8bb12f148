"""Save and load state dicts as `.npz` files without pickle, written atomically.

The arrays go into the archive as plain `.npy` entries (`a0`, `a1`, ...); the
structure around them (dicts with their key types, lists, tuples, numbers,
strings, None) goes into the entry `__structure__` as UTF-8 JSON bytes.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
import zipfile
from typing import Any

import numpy as np

__all__ = ["SerializationError", "check_writable", "load", "save"]

FORMAT_NAME = "minigrad-state"
FORMAT_VERSION = 1
STRUCTURE_KEY = "__structure__"

PathLike = str | os.PathLike


class SerializationError(ValueError):
    """A file that is not a readable minigrad state file (truncated, foreign, or unsafe)."""


# ---------------------------------------------------------------------------- encoding


class _Encoder:
    """Turns a nested object into a JSON-able tree, collecting its arrays by name."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self._open: set[int] = set()  # ids of containers on the current path (cycle check)

    def encode(self, obj: Any, where: str) -> dict:
        if obj is None:
            return {"t": "none"}
        if isinstance(obj, bool):
            return {"t": "bool", "v": obj}
        if isinstance(obj, int):
            return {"t": "int", "v": int(obj)}
        if isinstance(obj, float):
            return {"t": "float", "v": float(obj)}
        if isinstance(obj, str):
            return {"t": "str", "v": obj}
        if isinstance(obj, np.ndarray):
            return self._array(obj, where, scalar=False)
        if isinstance(obj, np.generic):
            return self._array(np.asarray(obj), where, scalar=True)
        if isinstance(obj, (dict, list, tuple)):
            return self._container(obj, where)
        raise TypeError(
            f"cannot save {type(obj).__name__} at {where}: only dicts, lists, tuples, "
            "ndarrays, numbers, strings, bools and None are supported"
        )

    def _array(self, arr: np.ndarray, where: str, scalar: bool) -> dict:
        if arr.dtype.hasobject:
            raise TypeError(f"cannot save an object array at {where}: it would need pickle")
        name = f"a{len(self.arrays)}"
        self.arrays[name] = np.asarray(arr)
        return {"t": "array", "key": name, "dtype": arr.dtype.str, "shape": list(arr.shape),
                "scalar": scalar}

    def _container(self, obj: dict | list | tuple, where: str) -> dict:
        if id(obj) in self._open:
            raise ValueError(f"cannot save a self-referencing container at {where}")
        self._open.add(id(obj))
        try:
            if isinstance(obj, dict):
                return {"t": "dict", "items": [
                    [_check_key(k, where), self.encode(v, f"{where}[{k!r}]")]
                    for k, v in obj.items()
                ]}
            kind = "tuple" if isinstance(obj, tuple) else "list"
            return {"t": kind, "items": [self.encode(v, f"{where}[{i}]")
                                         for i, v in enumerate(obj)]}
        finally:
            self._open.discard(id(obj))


def _check_key(key: Any, where: str) -> str | int:
    """Dict keys may be str or int; JSON keeps the two apart inside an [key, value] pair."""
    if isinstance(key, str) or (isinstance(key, int) and not isinstance(key, bool)):
        return key if isinstance(key, str) else int(key)
    raise TypeError(f"cannot save dict key {key!r} at {where}: keys must be str or int")


# ---------------------------------------------------------------------------- decoding


class _Decoder:
    """Rebuilds the saved object from its JSON tree and the archive's arrays."""

    def __init__(self, archive: Any, path: str) -> None:
        self.archive = archive
        self.path = path

    def fail(self, problem: str) -> SerializationError:
        return SerializationError(f"{self.path}: {problem}")

    def decode(self, node: Any) -> Any:
        kind = node.get("t") if isinstance(node, dict) else None
        if kind == "none":
            return None
        if kind in ("bool", "int", "float", "str"):
            return self._scalar(node, kind)
        if kind == "array":
            return self._array(node)
        if kind == "dict":
            return {self._key(k): self.decode(v) for k, v in self._pairs(node)}
        if kind in ("list", "tuple"):
            items = [self.decode(v) for v in self._items(node)]
            return tuple(items) if kind == "tuple" else items
        raise self.fail(f"malformed structure: unknown node {str(node)[:80]}")

    def _scalar(self, node: dict, kind: str) -> Any:
        value = node.get("v")
        types = {"bool": bool, "int": int, "float": (float, int), "str": str}[kind]
        if not isinstance(value, types) or (kind != "bool" and isinstance(value, bool)):
            raise self.fail(f"malformed structure: bad {kind} value {value!r}")
        return float(value) if kind == "float" else value

    def _items(self, node: dict) -> list:
        items = node.get("items")
        if not isinstance(items, list):
            raise self.fail("malformed structure: container without items")
        return items

    def _pairs(self, node: dict) -> list:
        pairs = self._items(node)
        if not all(isinstance(p, list) and len(p) == 2 for p in pairs):
            raise self.fail("malformed structure: dict items must be [key, value] pairs")
        return pairs

    def _key(self, key: Any) -> str | int:
        if isinstance(key, str) or (isinstance(key, int) and not isinstance(key, bool)):
            return key
        raise self.fail(f"malformed structure: bad dict key {key!r}")

    def _array(self, node: dict) -> np.ndarray | np.generic:
        key = node.get("key")
        if not isinstance(key, str) or key == STRUCTURE_KEY or key not in self.archive.files:
            raise self.fail(f"the structure references a missing array {key!r}")
        try:
            arr = self.archive[key]
        except ValueError as err:  # e.g. an object array, refused since allow_pickle=False
            raise self.fail(f"array {key!r} is corrupt or needs pickle (refused): {err}") from err
        except (OSError, EOFError, zipfile.BadZipFile) as err:
            raise self.fail(f"array {key!r} is unreadable (truncated file?): {err}") from err
        if not isinstance(arr, np.ndarray):  # numpy hands back raw bytes for non-.npy entries
            raise self.fail(f"entry {key!r} is not an .npy array")
        if arr.dtype.str != node.get("dtype") or list(arr.shape) != node.get("shape"):
            raise self.fail(
                f"array {key!r} is {arr.dtype.str}{list(arr.shape)}, the structure says "
                f"{node.get('dtype')}{node.get('shape')}"
            )
        return arr[()] if node.get("scalar") else arr


# ---------------------------------------------------------------------------- public API


def save(obj: Any, path: PathLike) -> None:
    """Write `obj` (nested dicts/lists/tuples of ndarrays, numbers, strings, None) to `path`.

    The file is an `.npz` archive written atomically: a temporary file in the
    same folder is filled, flushed, fsynced and then renamed over `path`, so an
    interrupted save leaves any previous file intact. No suffix is added.
    """
    path = _fspath(path)
    encoder = _Encoder()
    root = encoder.encode(obj, "obj")
    header = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "root": root}
    structure = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    _atomic_write(path, {**encoder.arrays, STRUCTURE_KEY: structure})


def load(path: PathLike) -> Any:
    """Read back an object written by `save`; never unpickles anything.

    Raises `SerializationError` (a `ValueError`) naming the file when it is not
    a complete minigrad state file.
    """
    path = _fspath(path)
    with open(path, "rb") as f:
        if f.read(4) != b"PK\x03\x04":
            raise SerializationError(f"{path}: not an .npz (zip) archive")
    try:
        archive = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        raise SerializationError(f"{path}: unreadable .npz archive (truncated?): {err}") from err
    with archive:
        root = _read_structure(archive, path)
        try:
            return _Decoder(archive, path).decode(root)
        except RecursionError as err:
            raise SerializationError(f"{path}: structure nested too deeply") from err


def _read_structure(archive: Any, path: str) -> Any:
    """The JSON tree stored under `__structure__`, checked for our format tag."""
    if STRUCTURE_KEY not in archive.files:
        raise SerializationError(f"{path}: no {STRUCTURE_KEY} entry; not a minigrad state file")
    try:
        raw = archive[STRUCTURE_KEY]
        if not isinstance(raw, np.ndarray) or raw.dtype != np.uint8:
            raise ValueError("not an .npy array of UTF-8 bytes")
        header = json.loads(raw.tobytes().decode("utf-8"))
    except (ValueError, OSError, EOFError, RecursionError, zipfile.BadZipFile) as err:
        raise SerializationError(f"{path}: unreadable {STRUCTURE_KEY} entry: {err}") from err
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise SerializationError(f"{path}: {STRUCTURE_KEY} is not a minigrad state description")
    if header.get("version") != FORMAT_VERSION:
        raise SerializationError(f"{path}: unsupported format version {header.get('version')!r}")
    return header.get("root")


def _fspath(path: PathLike) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, not {type(path).__name__}")
    result = os.fspath(path)
    if not isinstance(result, str):
        raise TypeError(f"path must be a text path, not {type(result).__name__}")
    return result


def _atomic_write(path: str, arrays: dict[str, np.ndarray]) -> None:
    """Write the archive to a temporary sibling, fsync it, then rename it over `path`.

    Any OSError is raised again naming `path` (the user's file, not the temporary one); the
    previous file at `path`, if any, is left as it was.
    """
    folder = os.path.dirname(os.path.abspath(path))
    mode = _file_mode(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    except OSError as err:
        raise _write_error(path, err) from err
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)  # a file object: numpy adds no suffix
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, OSError):
            raise _write_error(path, err) from err
        raise
    _fsync_folder(folder)


def _write_error(path: str, err: OSError) -> OSError:
    """An OSError (of the same errno, so the same subclass) that names the user's `path`, says
    plainly when the disk is full, and tells whether an earlier file at `path` is intact."""
    if err.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        problem = "the disk is full (no space left on the device)"
    else:
        problem = err.strerror or str(err)
    kept = "; the previous file there is unchanged" if os.path.isfile(path) else ""
    return OSError(err.errno, f"cannot write {path}: {problem}{kept}")


def check_writable(path: PathLike) -> None:
    """Raise an OSError naming `path` unless a file can be written there: its folder exists and
    takes new files (`save` writes a temporary file beside it), and `path` is not a folder.

    Call it before long work whose result goes to `path`, so a typo fails in a second, not
    after an hour of training."""
    path = _fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        problem = f"cannot write {path}: folder {folder} does not exist"
        raise FileNotFoundError(errno.ENOENT, problem)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, f"cannot write {path}: it is a folder")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise _write_error(path, err) from err


def _file_mode(path: str) -> int:
    """Keep an existing file's permissions; new files get rw-r--r--."""
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        return 0o644


def _fsync_folder(folder: str) -> None:
    """Make the rename itself durable where the platform allows it (not on Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
