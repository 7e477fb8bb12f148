"""Datasets: the IDX reader's checks, the folder search, the verified npz cache and downloads.

Real MNIST comes from the committed files, Fashion-MNIST from the Debian package; every error
case uses small synthetic IDX files, and downloads use a local HTTP server started here.
"""

import gzip
import hashlib
import logging
import re
import socket
import struct
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from minigrad_nn import datasets
from minigrad_nn.datasets import (
    FASHION_MNIST,
    FASHION_MNIST_SHA256,
    MNIST,
    MNIST_SHA256,
    DatasetError,
    DatasetNotFoundError,
    DatasetSpec,
    cache_dir,
    download_file,
    load_dataset,
    load_fashion_mnist,
    load_mnist,
    locate,
    read_idx,
    search_dirs,
)

REPO_DATASETS = Path(__file__).resolve().parent.parent / "datasets"
FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Point every cache location at tmp_path so the user's real cache is never touched."""
    monkeypatch.delenv("MINIGRAD_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path / "xdg" / "minigrad"


# --- synthetic IDX files ---------------------------------------------------------------------

def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """Encode a uint8 array as IDX (magic 2051 for 3-D images, 2049 for 1-D labels)."""
    magic = magic or (datasets.IMAGE_MAGIC if array.ndim == 3 else datasets.LABEL_MAGIC)
    dims = struct.pack(f">{array.ndim}I", *array.shape)
    return struct.pack(">I", magic) + dims + array.astype(np.uint8).tobytes()


def tiny_contents(seed: int = 0, n_train: int = 6, n_test: int = 4) -> dict[str, bytes]:
    """The four decompressed files of a tiny MNIST-like dataset."""
    rng = np.random.default_rng(seed)
    contents = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        contents[f"{prefix}-images-idx3-ubyte"] = idx_bytes(rng.integers(0, 256, (n, 28, 28)))
        contents[f"{prefix}-labels-idx1-ubyte"] = idx_bytes(rng.integers(0, 10, n))
    return contents


def tiny_spec(contents: dict[str, bytes], **changes) -> DatasetSpec:
    sha = {stem: hashlib.sha256(data).hexdigest() for stem, data in contents.items()}
    return replace(DatasetSpec("tiny", sha, n_train=6, n_test=4), **changes)


def write_files(folder: Path, contents: dict[str, bytes], gz: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for stem, data in contents.items():
        if gz:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(data, mtime=0))
        else:
            (folder / stem).write_bytes(data)
    return folder


def decoded(contents: dict[str, bytes], stem: str) -> np.ndarray:
    data = contents[stem]
    ndim = data[3]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim)


# --- checksum constants --------------------------------------------------------------------

@pytest.mark.parametrize("name, table", [("mnist", MNIST_SHA256),
                                         ("fashion-mnist", FASHION_MNIST_SHA256)])
def test_checksum_constants_agree_with_sha256sums(name, table):
    text = (REPO_DATASETS / name / "SHA256SUMS").read_text()
    listed = dict(
        (m.group(2), m.group(1))
        for m in re.finditer(r"^([0-9a-f]{64})  (\S+) \(uncompressed\)$", text, re.M)
    )
    assert listed == dict(table)
    gz_lines = re.findall(r"^[0-9a-f]{64}  (\S+)\.gz$", text, re.M)
    assert sorted(gz_lines) == sorted(STEMS)


def test_specs_name_the_four_standard_files():
    for spec in (MNIST, FASHION_MNIST):
        assert sorted(spec.sha256) == sorted(STEMS)
        assert spec.mirrors and (spec.n_train, spec.n_test) == (60000, 10000)
    assert FASHION_MNIST.system_dirs == (str(FASHION_SYSTEM_DIR),)


# --- real data -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory):
    """The committed MNIST files, linked into a tmp folder so the npz cache lands there."""
    root = tmp_path_factory.mktemp("mnist-root")
    for path in (REPO_DATASETS / "mnist").glob("*.gz"):
        (root / path.name).symlink_to(path)
    return root


def test_repository_folder_is_found_by_default():
    files = locate(MNIST, download=False)
    assert {p.parent for p in files.values()} == {REPO_DATASETS / "mnist"}


def test_real_mnist_default_layout(mnist_root):
    (x, t), (x_test, t_test) = load_mnist(root=mnist_root)
    assert x.shape == (60000, 784) and x_test.shape == (10000, 784)
    assert x.dtype == x_test.dtype == np.float32
    assert t.shape == (60000,) and t_test.shape == (10000,)
    assert t.dtype == t_test.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0
    assert np.bincount(t).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(t_test).tolist() == MNIST_TEST_COUNTS
    assert (mnist_root / "mnist.minigrad-cache.npz").is_file()


def test_real_mnist_other_layouts(mnist_root):
    (x, t), (x_test, t_test) = load_mnist(normalize=False, flatten=False, one_hot_label=True,
                                          root=mnist_root)
    assert x.shape == (60000, 1, 28, 28) and x.dtype == np.uint8
    assert x_test.shape == (10000, 1, 28, 28) and x.max() == 255
    assert t.shape == (60000, 10) and t.dtype == np.float32
    assert np.all(t.sum(axis=1) == 1)
    assert np.bincount(t.argmax(axis=1)).tolist() == MNIST_TRAIN_COUNTS
    (x_float, _), _ = load_mnist(root=mnist_root)
    np.testing.assert_array_equal(x_float, x.reshape(60000, 784).astype(np.float32) / 255.0)
    assert x.flags.writeable and t_test.flags.writeable


@pytest.mark.skipif(not FASHION_SYSTEM_DIR.is_dir(),
                    reason=f"{FASHION_SYSTEM_DIR} absent: apt-get install dataset-fashion-mnist")
def test_real_fashion_mnist_from_the_system_folder(caplog, isolated_cache):
    caplog.set_level(logging.DEBUG, logger="minigrad_nn.datasets")
    (x, t), (x_test, t_test) = load_fashion_mnist()
    assert x.shape == (60000, 784) and x.dtype == np.float32
    assert x_test.shape == (10000, 784) and x.min() >= 0.0 and x.max() <= 1.0
    assert t.dtype == t_test.dtype == np.int64
    assert np.bincount(t).tolist() == [6000] * 10
    assert np.bincount(t_test).tolist() == [1000] * 10
    assert str(FASHION_SYSTEM_DIR) in caplog.text
    # The cache goes to the user cache, never into the system folder.
    assert (isolated_cache / "fashion-mnist" / "fashion-mnist.minigrad-cache.npz").is_file()
    assert not list(FASHION_SYSTEM_DIR.glob("*.npz"))


# --- the IDX reader ------------------------------------------------------------------------

def _truncated_gz(data):
    return gzip.compress(data)[:-20]


def _bad_crc_gz(data):
    packed = bytearray(gzip.compress(data))
    packed[-8] ^= 0xFF
    return bytes(packed)


def _bad_magic(data):
    return struct.pack(">I", 2050) + data[4:]


CORRUPTIONS = {  # name: (file suffix, how to damage the decompressed bytes, expected message)
    "truncated gzip": (".gz", _truncated_gz, "truncated gzip"),
    "gzip crc": (".gz", _bad_crc_gz, "corrupt gzip"),
    "not gzip": (".gz", lambda d: d, "not a gzip file"),
    "bad magic": ("", _bad_magic, "bad magic number 2050"),
    "too short": ("", lambda d: d[:3], "too short for an IDX header"),
    "truncated header": ("", lambda d: d[:10], "truncated header"),
    "truncated payload": ("", lambda d: d[:-1], r"count mismatch \(truncated\)"),
    "trailing bytes": ("", lambda d: d + b"\0", r"count mismatch \(trailing bytes\)"),
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_read_idx_rejects_damaged_files(tmp_path, case):
    suffix, damage, message = CORRUPTIONS[case]
    data = tiny_contents()["train-images-idx3-ubyte"]
    path = tmp_path / f"train-images-idx3-ubyte{suffix}"
    path.write_bytes(damage(data))
    with pytest.raises(DatasetError, match=message) as info:
        read_idx(path, hashlib.sha256(data).hexdigest())
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_read_idx_checksum_mismatch_names_the_file(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte"
    path.write_bytes(tiny_contents()["t10k-labels-idx1-ubyte"])
    with pytest.raises(DatasetError, match="checksum mismatch") as info:
        read_idx(path, "0" * 64)
    assert str(path) in str(info.value)


def test_read_idx_checks_the_expected_magic(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(tiny_contents()["train-labels-idx1-ubyte"])
    with pytest.raises(DatasetError, match=r"bad magic number 2049.*expected 2051"):
        read_idx(path, None, magic=datasets.IMAGE_MAGIC)


def test_read_idx_unreadable_path(tmp_path):
    with pytest.raises(DatasetError, match="cannot read"):
        read_idx(tmp_path, None)


def test_checksum_covers_decompressed_bytes_so_any_compression_is_accepted(tmp_path):
    data = tiny_contents()["train-images-idx3-ubyte"]
    sha = hashlib.sha256(data).hexdigest()
    halves = gzip.compress(data[:500]) + gzip.compress(data[500:])  # two gzip members
    variants = {"raw": data, "fast.gz": gzip.compress(data, 1), "best.gz": gzip.compress(data, 9),
                "members.gz": halves}
    expected = np.frombuffer(data, np.uint8, offset=16).reshape(6, 28, 28)
    for name, blob in variants.items():
        (tmp_path / name).write_bytes(blob)
        images = read_idx(tmp_path / name, sha)
        np.testing.assert_array_equal(images, expected)
        assert images.flags.writeable


def test_read_idx_skips_the_checksum_only_when_asked(tmp_path):
    path = tmp_path / "custom"
    path.write_bytes(idx_bytes(np.arange(12, dtype=np.uint8)))
    np.testing.assert_array_equal(read_idx(path, None), np.arange(12))


# --- whole-dataset validation --------------------------------------------------------------

def test_labels_out_of_range(tmp_path):
    contents = tiny_contents()
    contents["t10k-labels-idx1-ubyte"] = idx_bytes(np.array([1, 2, 10, 3]))
    write_files(tmp_path / "data", contents)
    with pytest.raises(DatasetError, match=r"t10k-labels-idx1-ubyte\.gz: labels out of range"):
        load_dataset(tiny_spec(contents), root=tmp_path / "data")


def test_split_counts_are_checked(tmp_path):
    contents = tiny_contents()
    write_files(tmp_path / "data", contents)
    spec = tiny_spec(contents, n_test=5)
    with pytest.raises(DatasetError, match=r"t10k-images.*count mismatch: 4 items, expected 5"):
        load_dataset(spec, root=tmp_path / "data")


def test_images_and_labels_must_agree(tmp_path):
    contents = tiny_contents()
    contents["train-labels-idx1-ubyte"] = idx_bytes(np.zeros(5))
    write_files(tmp_path / "data", contents)
    with pytest.raises(DatasetError, match=r"train-labels.*count mismatch: 5 items, expected 6"):
        load_dataset(tiny_spec(contents), root=tmp_path / "data")


def test_image_size_is_checked(tmp_path):
    contents = tiny_contents()
    contents["train-images-idx3-ubyte"] = idx_bytes(np.zeros((6, 27, 28)))
    write_files(tmp_path / "data", contents)
    with pytest.raises(DatasetError, match=r"images are \(27, 28\)"):
        load_dataset(tiny_spec(contents), root=tmp_path / "data")


def test_a_bad_file_is_never_half_used_or_cached(tmp_path):
    contents = tiny_contents()
    spec = tiny_spec(contents)
    folder = write_files(tmp_path / "data", contents)
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.ones(4))))
    with pytest.raises(DatasetError, match=r"t10k-labels-idx1-ubyte\.gz: checksum mismatch"):
        load_dataset(spec, root=folder)
    assert not list(tmp_path.rglob("*.npz"))


def test_the_first_complete_folder_is_used_even_when_damaged(tmp_path, monkeypatch):
    contents = tiny_contents()
    spec = tiny_spec(contents)
    write_files(tmp_path / "env" / "tiny", contents)
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path / "env"))
    root = write_files(tmp_path / "root", contents, gz=False)
    (root / "train-images-idx3-ubyte").write_bytes(b"junk")
    with pytest.raises(DatasetError, match=re.escape(str(root / "train-images-idx3-ubyte"))):
        load_dataset(spec, root=root)


# --- search order --------------------------------------------------------------------------

def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    assert cache_dir() == tmp_path / "xdg" / "minigrad"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == tmp_path / "home" / ".cache" / "minigrad"
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path / "data"))
    assert cache_dir() == tmp_path / "data"


def test_search_dirs_order(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path / "env"))
    spec = replace(FASHION_MNIST, system_dirs=("/sys-a",))
    assert search_dirs(spec, root=tmp_path / "root") == [
        tmp_path / "root" / "fashion-mnist", tmp_path / "root",
        tmp_path / "env" / "fashion-mnist", tmp_path / "env",
        REPO_DATASETS / "fashion-mnist",
        Path("/sys-a"),  # the cache is $MINIGRAD_DATA/fashion-mnist, already listed
    ]


def test_root_then_env_then_cache(tmp_path, monkeypatch, isolated_cache):
    contents = tiny_contents()
    spec = tiny_spec(contents)
    for folder in (tmp_path / "root", tmp_path / "env" / "tiny", isolated_cache / "tiny"):
        write_files(folder, contents)
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path / "env"))

    def used(root=None):
        return {p.parent for p in locate(spec, root, download=False).values()}

    assert used(tmp_path / "root") == {tmp_path / "root"}
    assert used() == {tmp_path / "env" / "tiny"}
    monkeypatch.delenv("MINIGRAD_DATA")
    assert used() == {isolated_cache / "tiny"}


def test_subfolder_and_incomplete_folders(tmp_path):
    contents = tiny_contents()
    spec = tiny_spec(contents)
    write_files(tmp_path / "root", dict(list(contents.items())[:3]))  # incomplete: skipped
    write_files(tmp_path / "root" / "tiny", contents)
    files = locate(spec, tmp_path / "root", download=False)
    assert {p.parent for p in files.values()} == {tmp_path / "root" / "tiny"}


def test_uncompressed_files_are_preferred(tmp_path):
    contents = tiny_contents()
    folder = write_files(tmp_path / "data", contents)
    write_files(folder, contents, gz=False)
    files = locate(tiny_spec(contents), folder, download=False)
    assert all(path.suffix == "" for path in files.values())
    (_, t), _ = load_dataset(tiny_spec(contents), root=folder)
    np.testing.assert_array_equal(t, decoded(contents, "train-labels-idx1-ubyte"))


def test_the_folder_used_is_logged(tmp_path, caplog):
    contents = tiny_contents()
    folder = write_files(tmp_path / "data", contents)
    caplog.set_level(logging.DEBUG, logger="minigrad_nn.datasets")
    load_dataset(tiny_spec(contents), root=folder)
    assert f"tiny: using the files in {folder}" in caplog.text


def test_no_files_and_no_download(tmp_path):
    spec = tiny_spec(tiny_contents())
    with pytest.raises(DatasetNotFoundError, match="download=False") as info:
        load_dataset(spec, root=tmp_path / "nowhere", download=False)
    assert str(tmp_path / "nowhere") in str(info.value)


# --- the verified npz cache ----------------------------------------------------------------

def npz_of(folder: Path) -> Path:
    return folder / "tiny.minigrad-cache.npz"


@pytest.fixture
def tiny_folder(tmp_path):
    contents = tiny_contents()
    return write_files(tmp_path / "data", contents), tiny_spec(contents), contents


def test_second_load_uses_the_cache(tiny_folder, caplog):
    folder, spec, contents = tiny_folder
    first = load_dataset(spec, root=folder)
    assert npz_of(folder).is_file()
    caplog.set_level(logging.DEBUG, logger="minigrad_nn.datasets")
    second = load_dataset(spec, root=folder)
    assert "loaded the cached arrays" in caplog.text
    for a, b in zip([*first[0], *first[1]], [*second[0], *second[1]], strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(second[1][1], decoded(contents, "t10k-labels-idx1-ubyte"))


def _flip_middle_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _pickled_npz(path: Path) -> None:
    np.savez(path, x_train=np.array([object()], dtype=object))


@pytest.mark.parametrize("damage", [
    _flip_middle_byte,
    lambda p: p.write_bytes(p.read_bytes()[:1000]),
    lambda p: p.write_bytes(b"not a zip file"),
    _pickled_npz,
], ids=["flipped byte", "truncated", "garbage", "pickle"])
def test_a_damaged_cache_is_detected_and_rebuilt(tiny_folder, caplog, damage):
    folder, spec, _ = tiny_folder
    (expected, _), _ = load_dataset(spec, root=folder)
    damage(npz_of(folder))
    caplog.set_level(logging.DEBUG, logger="minigrad_nn.datasets")
    (x, _), _ = load_dataset(spec, root=folder)
    np.testing.assert_array_equal(x, expected)
    assert "rebuilding" in caplog.text and "cached the decoded arrays" in caplog.text
    caplog.clear()
    load_dataset(spec, root=folder)
    assert "loaded the cached arrays" in caplog.text


def test_a_cache_with_wrong_shapes_is_rebuilt(tiny_folder):
    folder, spec, _ = tiny_folder
    load_dataset(spec, root=folder)
    with np.load(npz_of(folder)) as archive:
        arrays = dict(archive)
    arrays["x_train"] = arrays["x_train"][:, :27]
    np.savez(npz_of(folder), **arrays)
    (x, _), _ = load_dataset(spec, root=folder)
    assert x.shape == (6, 784)
    with np.load(npz_of(folder)) as archive:
        assert archive["x_train"].shape == (6, 28, 28)


def test_a_changed_source_is_verified_again(tiny_folder):
    folder, spec, _ = tiny_folder
    load_dataset(spec, root=folder)
    other = tiny_contents(seed=1)
    write_files(folder, {"train-labels-idx1-ubyte": other["train-labels-idx1-ubyte"]})
    with pytest.raises(DatasetError, match=r"train-labels-idx1-ubyte\.gz: checksum mismatch"):
        load_dataset(spec, root=folder)


def test_cache_can_be_disabled(tiny_folder):
    folder, spec, _ = tiny_folder
    load_dataset(spec, root=folder, cache=False)
    assert not npz_of(folder).exists()


def test_system_folders_are_never_written(tiny_folder, isolated_cache):
    folder, spec, _ = tiny_folder
    spec = replace(spec, system_dirs=(str(folder),))
    load_dataset(spec)
    assert not npz_of(folder).exists()
    assert npz_of(isolated_cache / "tiny").is_file()


# --- downloads -----------------------------------------------------------------------------

class MirrorHandler(BaseHTTPRequestHandler):
    """Serves ``/<mode>/<file>``: good, corrupt (other data), missing (404), drop, slow, stall."""

    def do_GET(self):
        mode, _, name = self.path.strip("/").partition("/")
        self.server.requests.append(self.path)
        body = self.server.files.get(name)
        if mode == "corrupt":
            body = self.server.wrong.get(name)
        if body is None or mode == "missing":
            self.send_error(404)
            return
        if mode == "stall":  # no response at all
            self.server.release.wait(5)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "drop":
            self.wfile.write(body[: len(body) // 2])
        elif mode == "slow":
            self.wfile.write(body[:10])
            self.wfile.flush()
            self.server.release.wait(5)
        else:
            self.wfile.write(body)

    def log_message(self, *args):
        pass


class Mirror:
    def __init__(self, contents: dict[str, bytes]):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), MirrorHandler)
        self.server.daemon_threads = True
        self.server.files = {f"{k}.gz": gzip.compress(v) for k, v in contents.items()}
        self.server.wrong = {f"{k}.gz": gzip.compress(v) for k, v in tiny_contents(9).items()}
        self.server.requests = []
        self.server.release = threading.Event()
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def url(self, mode: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{mode}/"

    @property
    def requests(self) -> list[str]:
        return self.server.requests

    def close(self) -> None:
        self.server.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def mirror():
    server = Mirror(tiny_contents())
    yield server
    server.close()


STEM = "train-images-idx3-ubyte"
SHA = hashlib.sha256(tiny_contents()[STEM]).hexdigest()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_good_file(mirror, tmp_path, capsys):
    path = download_file(f"{STEM}.gz", tmp_path / "dl", SHA, [mirror.url("good")])
    assert path == tmp_path / "dl" / f"{STEM}.gz"
    assert leftovers(tmp_path / "dl") == [f"{STEM}.gz"]
    assert read_idx(path, SHA).shape == (6, 28, 28)
    assert f"{STEM}.gz" in capsys.readouterr().err  # the tqdm progress bar


def test_download_corrupt_file_is_not_kept(mirror, tmp_path):
    with pytest.raises(DatasetError, match="checksum mismatch") as info:
        download_file(f"{STEM}.gz", tmp_path / "dl", SHA, [mirror.url("corrupt")], progress=False)
    assert mirror.url("corrupt") in str(info.value)
    assert leftovers(tmp_path / "dl") == []


@pytest.mark.parametrize("bad", ["missing", "corrupt", "drop"])
def test_download_falls_through_to_the_next_mirror(mirror, tmp_path, bad):
    path = download_file(f"{STEM}.gz", tmp_path / "dl", SHA,
                         [mirror.url(bad), mirror.url("good")], progress=False)
    assert read_idx(path, SHA).shape == (6, 28, 28)
    assert [r.split("/")[1] for r in mirror.requests] == [bad, "good"]
    assert leftovers(tmp_path / "dl") == [f"{STEM}.gz"]


def test_download_dropped_connection(mirror, tmp_path):
    with pytest.raises(DatasetError, match=r"connection closed after \d+ of \d+ bytes"):
        download_file(f"{STEM}.gz", tmp_path / "dl", SHA, [mirror.url("drop")], progress=False)
    assert leftovers(tmp_path / "dl") == []


@pytest.mark.parametrize("mode", ["slow", "stall"])
def test_download_times_out(mirror, tmp_path, mode):
    start = time.monotonic()
    with pytest.raises(DatasetError, match=r"(?i)timed out") as info:
        download_file(f"{STEM}.gz", tmp_path / "dl", SHA, [mirror.url(mode)],
                      timeout=0.5, progress=False)
    assert time.monotonic() - start < 4
    assert mirror.url(mode) in str(info.value)
    assert leftovers(tmp_path / "dl") == []


def test_download_reports_every_mirror(mirror, tmp_path):
    urls = [mirror.url("missing"), mirror.url("drop")]
    with pytest.raises(DatasetError) as info:
        download_file(f"{STEM}.gz", tmp_path / "dl", SHA, urls, progress=False)
    message = str(info.value)
    assert "404" in message and "connection closed" in message
    assert all(url + f"{STEM}.gz" in message for url in urls)
    with pytest.raises(DatasetError, match="no mirrors given"):
        download_file(f"{STEM}.gz", tmp_path / "dl", SHA, [], progress=False)


def test_load_downloads_missing_files_into_the_cache(mirror, tmp_path, monkeypatch):
    contents = tiny_contents()
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path / "store"))
    cache = write_files(tmp_path / "store" / "tiny", {STEM: contents[STEM]})  # one already there
    spec = tiny_spec(contents, mirrors=(mirror.url("missing"), mirror.url("good")))
    (x, _), (x_test, t_test) = load_dataset(spec, progress=False)
    assert x.shape == (6, 784) and x_test.shape == (4, 784)
    np.testing.assert_array_equal(t_test, decoded(contents, "t10k-labels-idx1-ubyte"))
    assert sorted(r.split("/")[2] for r in mirror.requests if "/good/" in r) == sorted(
        f"{stem}.gz" for stem in STEMS if stem != STEM)
    assert sorted(leftovers(cache)) == sorted([*(f"{s}.gz" for s in STEMS), npz_of(cache).name])
    count = len(mirror.requests)
    load_dataset(spec, progress=False)
    assert len(mirror.requests) == count  # found in the cache now


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


def test_no_network_gives_one_clear_error(tmp_path):
    spec = replace(MNIST, name="mnist-offline", mirrors=(_closed_port_url(),))
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset(spec, root=tmp_path / "mine", timeout=2)
    message = str(info.value)
    for folder in search_dirs(spec, tmp_path / "mine"):
        assert str(folder) in message
    assert "root=" in message and "MINIGRAD_DATA" in message
    assert spec.mirrors[0] in message and "train-images-idx3-ubyte" in message
    assert info.value.__cause__ is not None
    assert not list((tmp_path / "xdg").rglob("*.part*"))


def test_real_mnist_through_a_local_mirror(tmp_path):
    real = {p.name: p.read_bytes() for p in (REPO_DATASETS / "mnist").glob("*.gz")}
    server = Mirror({})
    server.server.files = real
    try:
        spec = replace(MNIST, name="mnist-mirrored", mirrors=(server.url("good"),))
        (x, t), (x_test, _) = load_dataset(spec, progress=False, cache=False)
    finally:
        server.close()
    assert x.shape == (60000, 784) and x_test.shape == (10000, 784)
    assert np.bincount(t).tolist() == MNIST_TRAIN_COUNTS
    assert len(leftovers(tmp_path / "xdg" / "minigrad" / "mnist-mirrored")) == 4
