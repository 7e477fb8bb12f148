"""nn.save / nn.load: exact round trips, no pickle, atomic writes, clear errors."""

import json
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minigrad_nn import serialization
from minigrad_nn.serialization import SerializationError, load, save


def assert_same(a, b):
    """Equal values with equal types all the way down (arrays: dtype, shape, bits)."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, np.ndarray | np.generic):
        assert a.dtype == b.dtype and np.shape(a) == np.shape(b)
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        assert [type(k) for k in a] == [type(k) for k in b]
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b


def roundtrip(obj, tmp_path):
    path = tmp_path / "obj.npz"
    save(obj, path)
    return load(path)


def write_npz(path, structure, **arrays):
    """A hand-made archive with the given `__structure__` bytes (or none)."""
    if structure is not None:
        if not isinstance(structure, bytes):
            structure = json.dumps(structure).encode()
        arrays["__structure__"] = np.frombuffer(structure, dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


# ----------------------------------------------------------------------------- round trips


def test_round_trip_of_a_training_checkpoint(tmp_path):
    rng = np.random.default_rng(0)
    checkpoint = {
        "model": {"fc1.weight": rng.standard_normal((4, 3)).astype(np.float32),
                  "fc1.bias": np.zeros(3, np.float32)},
        "optimizer": {
            "state": {0: {"step": 7, "exp_avg": rng.standard_normal((4, 3))},
                      1: {"step": 7, "exp_avg": np.ones(3)}},
            "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8,
                              "amsgrad": False, "maximize": None, "params": [0, 1]}],
        },
        "history": {"train_loss": [2.3, 1.1, 0.7], "note": "epoch 3 ✓"},
        "rng": {"bit_generator": "PCG64", "state": {"state": 2**100 + 3, "inc": 5},
                "has_uint32": 0, "uinteger": 0},
    }
    assert_same(checkpoint, roundtrip(checkpoint, tmp_path))


@pytest.mark.parametrize("arr", [
    np.arange(6, dtype=np.float32).reshape(2, 3),
    np.arange(6, dtype=np.float64),
    np.arange(6, dtype=np.int64),
    np.arange(6, dtype=np.int8),
    np.array([True, False]),
    np.array(3.5, dtype=np.float32),          # 0-d
    np.array(7, dtype=np.int64),              # 0-d
    np.zeros((0, 3), dtype=np.float32),       # empty
    np.array([1 + 2j], dtype=np.complex64),
    np.array(["ab", "cde"]),
    np.asfortranarray(np.arange(6.0).reshape(2, 3)),
    np.arange(12.0).reshape(3, 4)[:, ::2],    # not contiguous
    np.arange(3, dtype=">f4"),                # big-endian stays big-endian
])
def test_arrays_keep_dtype_shape_and_values(arr, tmp_path):
    out = roundtrip({"x": arr}, tmp_path)["x"]
    assert out.dtype == arr.dtype and out.shape == arr.shape
    np.testing.assert_array_equal(out, arr)


def test_numpy_scalars_come_back_as_numpy_scalars(tmp_path):
    obj = [np.float32(1.5), np.int64(-3), np.bool_(True)]
    assert_same(obj, roundtrip(obj, tmp_path))


def test_int_and_str_keys_stay_distinct(tmp_path):
    obj = {1: "int one", "1": "str one", -5: None, "": [], 10**30: {}}
    out = roundtrip(obj, tmp_path)
    assert_same(obj, out)
    assert out[1] == "int one" and out["1"] == "str one"


def test_scalars_and_special_floats(tmp_path):
    obj = [None, True, False, 0, -(2**70), 0.1, -0.0, float("inf"), float("nan"), "", "é"]
    assert_same(obj, roundtrip(obj, tmp_path))
    assert type(roundtrip(1.0, tmp_path)) is float
    assert type(roundtrip(True, tmp_path)) is bool


def test_tuples_and_lists_keep_their_type(tmp_path):
    obj = {"t": (1, (2.0, [3])), "l": [(), []]}
    assert_same(obj, roundtrip(obj, tmp_path))


def test_a_shared_subobject_is_stored_twice_not_rejected(tmp_path):
    shared = [1, 2]
    assert_same({"a": shared, "b": shared}, roundtrip({"a": shared, "b": shared}, tmp_path))


leaves = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(),
    st.floats(allow_nan=False),
    st.builds(lambda n, dt: np.arange(n).astype(dt),
              st.integers(0, 5), st.sampled_from(["float32", "float64", "int64", "bool"])),
)
trees = st.recursive(
    leaves,
    lambda kids: st.one_of(
        st.lists(kids, max_size=4),
        st.lists(kids, max_size=4).map(tuple),
        st.dictionaries(st.one_of(st.text(max_size=5), st.integers()), kids, max_size=4),
    ),
    max_leaves=12,
)


@given(obj=trees)
def test_any_nested_structure_round_trips(obj, tmp_path_factory):
    assert_same(obj, roundtrip(obj, tmp_path_factory.mktemp("h")))


# ----------------------------------------------------------------------------- paths


def test_path_is_used_exactly_without_adding_a_suffix(tmp_path):
    save({"a": 1}, str(tmp_path / "checkpoint"))
    assert sorted(os.listdir(tmp_path)) == ["checkpoint"]
    assert load(tmp_path / "checkpoint") == {"a": 1}


def test_accepts_pathlike(tmp_path):
    class MyPath:
        def __fspath__(self):
            return str(tmp_path / "p.npz")

    os.PathLike.register(MyPath)
    save([1], MyPath())
    assert load(Path(tmp_path / "p.npz")) == [1]


def test_rejects_non_path(tmp_path):
    with pytest.raises(TypeError, match="path"):
        save({}, 3)


def test_overwrite_keeps_the_existing_file_mode(tmp_path):
    path = tmp_path / "m.npz"
    save({"a": 1}, path)
    os.chmod(path, 0o600)
    save({"a": 2}, path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert load(path) == {"a": 2}


# ----------------------------------------------------------------------------- refused content


@pytest.mark.parametrize("bad, message", [
    ({"x": np.array([{}, 1], dtype=object)}, "object array"),
    ({"x": {1, 2}}, "set"),
    ({"x": object()}, "object"),
    ({True: 1}, "key"),
    ({(1, 2): 1}, "key"),
    ({"x": b"bytes"}, "bytes"),
])
def test_save_refuses_what_needs_pickle(bad, message, tmp_path):
    with pytest.raises(TypeError, match=message):
        save(bad, tmp_path / "bad.npz")
    assert os.listdir(tmp_path) == []


def test_save_refuses_cycles(tmp_path):
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError, match="self-referencing"):
        save({"loop": loop}, tmp_path / "c.npz")


def test_load_refuses_a_pickled_object_array(tmp_path):
    path = tmp_path / "evil.npz"
    structure = {"format": "minigrad-state", "version": 1,
                 "root": {"t": "array", "key": "a0", "dtype": "|O", "shape": [1],
                          "scalar": False}}
    arrays = {"a0": np.array([{"boom": 1}], dtype=object),
              "__structure__": np.frombuffer(json.dumps(structure).encode(), np.uint8)}
    with open(path, "wb") as f:
        np.savez(f, **arrays)  # numpy pickles the object array here
    with pytest.raises(SerializationError, match=r"evil\.npz.*pickle"):
        load(path)


def test_load_refuses_a_pickle_file(tmp_path):
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(SerializationError, match=r"model\.pkl.*not an \.npz"):
        load(path)


# ----------------------------------------------------------------------------- broken files


def test_truncated_file(tmp_path):
    path = tmp_path / "t.npz"
    save({"w": np.arange(10_000.0)}, path)
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 10, 30):
        path.write_bytes(data[:cut])
        with pytest.raises(SerializationError, match=r"t\.npz"):
            load(path)


def test_corrupted_array_bytes(tmp_path):
    path = tmp_path / "c.npz"
    save({"w": np.arange(10_000.0)}, path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # flips a bit inside the stored array: the zip CRC catches it
    path.write_bytes(bytes(data))
    with pytest.raises(SerializationError, match=r"c\.npz"):
        load(path)


def test_not_a_zip(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(SerializationError, match=r"notes\.txt.*not an \.npz"):
        load(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    with pytest.raises(SerializationError, match=r"empty\.npz"):
        load(path)


def test_npy_file_is_not_a_state_file(tmp_path):
    path = tmp_path / "a.npy"
    np.save(path, np.arange(3))
    with pytest.raises(SerializationError, match=r"a\.npy.*not an \.npz"):
        load(path)


def test_zip_without_structure(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, x=np.arange(3))
    with pytest.raises(SerializationError, match=r"plain\.npz.*__structure__"):
        load(path)


def test_zip_that_is_not_an_npz(tmp_path):
    path = tmp_path / "z.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("__structure__.npy", b"not an npy file")
    with pytest.raises(SerializationError, match=r"z\.npz"):
        load(path)


def test_bad_json(tmp_path):
    path = tmp_path / "j.npz"
    write_npz(path, b"{not json")
    with pytest.raises(SerializationError, match=r"j\.npz.*__structure__"):
        load(path)


def test_foreign_json(tmp_path):
    path = tmp_path / "f.npz"
    write_npz(path, {"hello": "world"})
    with pytest.raises(SerializationError, match=r"f\.npz.*not a minigrad"):
        load(path)


def test_future_version(tmp_path):
    path = tmp_path / "v.npz"
    write_npz(path, {"format": "minigrad-state", "version": 99, "root": {"t": "none"}})
    with pytest.raises(SerializationError, match="version 99"):
        load(path)


def test_structure_references_a_missing_array(tmp_path):
    path = tmp_path / "m.npz"
    write_npz(path, {"format": "minigrad-state", "version": 1,
                     "root": {"t": "array", "key": "a7", "dtype": "<f8", "shape": [3],
                              "scalar": False}},
              a0=np.zeros(3))
    with pytest.raises(SerializationError, match=r"m\.npz.*missing array 'a7'"):
        load(path)


def test_entry_that_is_not_npy(tmp_path):
    path = tmp_path / "r.npz"
    write_npz(path, {"format": "minigrad-state", "version": 1,
                     "root": {"t": "array", "key": "a0", "dtype": "<f8", "shape": [3],
                              "scalar": False}})
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("a0.npy", b"raw bytes")
    with pytest.raises(SerializationError, match=r"r\.npz.*'a0' is not an \.npy"):
        load(path)


def test_structure_disagrees_with_array(tmp_path):
    path = tmp_path / "d.npz"
    write_npz(path, {"format": "minigrad-state", "version": 1,
                     "root": {"t": "array", "key": "a0", "dtype": "<f4", "shape": [3],
                              "scalar": False}},
              a0=np.zeros(3))
    with pytest.raises(SerializationError, match=r"d\.npz.*<f8"):
        load(path)


@pytest.mark.parametrize("root", [
    {"t": "wat"}, [1, 2], {"t": "int", "v": "3"}, {"t": "dict", "items": [[1.5, {"t": "none"}]]},
    {"t": "dict", "items": [1]}, {"t": "list"}, {"t": "float", "v": True},
])
def test_malformed_structure(root, tmp_path):
    path = tmp_path / "s.npz"
    write_npz(path, {"format": "minigrad-state", "version": 1, "root": root})
    with pytest.raises(SerializationError, match=r"s\.npz.*malformed"):
        load(path)


# ----------------------------------------------------------------------------- atomic writes


def test_crash_mid_write_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    save({"w": np.arange(5.0)}, path)
    before = path.read_bytes()
    real_savez = np.savez

    def savez_then_crash(file, **arrays):
        real_savez(file, **arrays)
        file.seek(file.tell() // 2)
        file.truncate()            # half the archive is on disk ...
        raise OSError("disk full")  # ... when the write fails

    monkeypatch.setattr(serialization.np, "savez", savez_then_crash)
    with pytest.raises(OSError, match="disk full"):
        save({"w": np.arange(1000.0)}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.npz"]
    np.testing.assert_array_equal(load(path)["w"], np.arange(5.0))


@pytest.mark.parametrize("step", ["fsync", "replace"])
def test_failure_before_rename_cleans_up(step, tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    save({"v": 1}, path)

    def boom(*args):
        raise KeyboardInterrupt  # not just Exception: ^C must not leave temp files either

    monkeypatch.setattr(serialization.os, step, boom)
    with pytest.raises(KeyboardInterrupt):
        save({"v": 2}, path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["ckpt.npz"]
    assert load(path) == {"v": 1}


def test_save_into_missing_folder_fails_cleanly(tmp_path):
    with pytest.raises(FileNotFoundError):
        save({}, tmp_path / "nope" / "x.npz")
