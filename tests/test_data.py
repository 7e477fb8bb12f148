"""TensorDataset and DataLoader: true epochs, seeding, drop_last, batch gathering, state."""

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minigrad_nn.data import DataLoader, Dataset, TensorDataset


def make_data(n: int = 23) -> TensorDataset:
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    t = np.arange(n, dtype=np.int64)
    return TensorDataset(x, t)


def epoch_labels(loader: DataLoader) -> np.ndarray:
    return np.concatenate([t for _, t in loader])


# --- TensorDataset -------------------------------------------------------------------------

def test_tensor_dataset_items_and_len():
    data = make_data(5)
    assert len(data) == 5
    x, t = data[2]
    np.testing.assert_array_equal(x, [6, 7, 8])
    assert t == 2


def test_tensor_dataset_gathers_an_index_array():
    data = make_data(10)
    x, t = data[np.array([7, 1, 4])]
    np.testing.assert_array_equal(t, [7, 1, 4])
    assert x.shape == (3, 3)
    np.testing.assert_array_equal(x[:, 0], [21, 3, 12])


def test_tensor_dataset_accepts_lists_and_one_array():
    data = TensorDataset([[1, 2], [3, 4]])
    assert len(data) == 2
    np.testing.assert_array_equal(data[1][0], [3, 4])


def test_tensor_dataset_names_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(5,\)"):
        TensorDataset(np.zeros((4, 3)), np.zeros(5))


@pytest.mark.parametrize("arrays", [(), (np.float32(1.0),)])
def test_tensor_dataset_rejects_no_arrays_and_scalars(arrays):
    with pytest.raises(ValueError):
        TensorDataset(*arrays)


# --- DataLoader ----------------------------------------------------------------------------

def test_epoch_is_a_permutation_without_replacement():
    loader = DataLoader(make_data(23), batch_size=5, seed=0)
    labels = epoch_labels(loader)
    assert sorted(labels.tolist()) == list(range(23))
    assert labels.tolist() != list(range(23))  # actually shuffled


def test_batches_keep_inputs_and_labels_aligned():
    for x, t in DataLoader(make_data(23), batch_size=4, seed=1):
        np.testing.assert_array_equal(x[:, 0], 3 * t)
        assert x.dtype == np.float32 and t.dtype == np.int64


def test_batch_sizes_and_len_with_and_without_drop_last():
    keep = DataLoader(make_data(23), batch_size=5, seed=0)
    drop = DataLoader(make_data(23), batch_size=5, seed=0, drop_last=True)
    assert len(keep) == 5 and [len(t) for _, t in keep] == [5, 5, 5, 5, 3]
    assert len(drop) == 4 and [len(t) for _, t in drop] == [5, 5, 5, 5]
    assert len(np.unique(epoch_labels(drop))) == 20


@given(n=st.integers(0, 60), batch_size=st.integers(1, 70), drop_last=st.booleans())
def test_len_matches_batches_yielded(n, batch_size, drop_last):
    loader = DataLoader(make_data(n), batch_size=batch_size, drop_last=drop_last, seed=0)
    batches = list(loader)
    assert len(batches) == len(loader)
    labels = np.concatenate([t for _, t in batches]) if batches else np.array([])
    assert len(np.unique(labels)) == len(labels)  # no sample twice in one epoch
    assert len(labels) == (n - n % batch_size if drop_last else n)


def test_seed_reproduces_epochs_and_successive_epochs_differ():
    a = DataLoader(make_data(50), batch_size=10, seed=42)
    b = DataLoader(make_data(50), batch_size=10, seed=42)
    first_a, second_a = epoch_labels(a), epoch_labels(a)
    np.testing.assert_array_equal(first_a, epoch_labels(b))
    np.testing.assert_array_equal(second_a, epoch_labels(b))
    assert first_a.tolist() != second_a.tolist()


def test_rng_argument_is_used():
    a = DataLoader(make_data(30), rng=np.random.default_rng(7), batch_size=30)
    b = DataLoader(make_data(30), seed=7, batch_size=30)
    np.testing.assert_array_equal(epoch_labels(a), epoch_labels(b))
    with pytest.raises(ValueError, match="seed= or rng=, not both"):
        DataLoader(make_data(3), seed=1, rng=np.random.default_rng(1))


def test_no_shuffle_keeps_order():
    labels = epoch_labels(DataLoader(make_data(12), batch_size=5, shuffle=False))
    np.testing.assert_array_equal(labels, np.arange(12))


@pytest.mark.parametrize("bad", [0, -3])
def test_batch_size_must_be_positive(bad):
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        DataLoader(make_data(3), batch_size=bad)


@pytest.mark.parametrize("bad", [2.5, "10", True, None])
def test_batch_size_must_be_an_int(bad):
    with pytest.raises(TypeError, match="batch_size must be an int"):
        DataLoader(make_data(3), batch_size=bad)


def test_batches_are_copies_not_views():
    data = make_data(6)
    x, _ = next(iter(DataLoader(data, batch_size=6, shuffle=False)))
    x[...] = -1
    assert data.arrays[0].min() == 0


def test_tensor_dataset_batches_use_one_fancy_index_per_array():
    class Spy(TensorDataset):
        calls = 0

        def __getitem__(self, index):
            Spy.calls += 1
            assert isinstance(index, np.ndarray)
            return super().__getitem__(index)

    loader = DataLoader(Spy(np.zeros((20, 2)), np.zeros(20)), batch_size=5, seed=0)
    assert len(list(loader)) == 4 and Spy.calls == 4


def test_generic_dataset_items_are_stacked():
    class Squares(Dataset):
        def __len__(self):
            return 7

        def __getitem__(self, i):
            return np.array([i, i * i]), i % 2

    batches = list(DataLoader(Squares(), batch_size=3, shuffle=False))
    x, t = batches[0]
    np.testing.assert_array_equal(x, [[0, 0], [1, 1], [2, 4]])
    np.testing.assert_array_equal(t, [0, 1, 0])
    assert [len(b[1]) for b in batches] == [3, 3, 1]


def test_generic_dataset_of_single_arrays():
    class Rows(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return np.full(2, i)

    batch = next(iter(DataLoader(Rows(), batch_size=4, shuffle=False)))
    assert batch.shape == (4, 2)


def test_base_dataset_methods_raise():
    with pytest.raises(NotImplementedError):
        len(Dataset())
    with pytest.raises(NotImplementedError):
        Dataset()[0]


# --- state_dict ----------------------------------------------------------------------------

def test_state_dict_round_trips_through_json_and_resumes_exactly():
    loader = DataLoader(make_data(40), batch_size=8, seed=3)
    epoch_labels(loader)
    saved = json.loads(json.dumps(loader.state_dict()))
    expected = [epoch_labels(loader) for _ in range(2)]

    resumed = DataLoader(make_data(40), batch_size=8, seed=999)
    resumed.load_state_dict(saved)
    for labels in expected:
        np.testing.assert_array_equal(epoch_labels(resumed), labels)


def test_state_dict_is_a_copy():
    loader = DataLoader(make_data(10), seed=0)
    state = loader.state_dict()
    epoch_labels(loader)
    assert state != loader.state_dict()


def test_state_dict_with_an_array_based_bit_generator():
    def make():
        rng = np.random.Generator(np.random.MT19937(5))
        return DataLoader(make_data(30), batch_size=30, rng=rng)

    loader = make()
    saved = json.loads(json.dumps(loader.state_dict()))
    first = epoch_labels(loader)
    other = make()
    epoch_labels(other)
    other.load_state_dict(saved)
    np.testing.assert_array_equal(epoch_labels(other), first)


def test_load_state_dict_rejects_another_generator():
    loader = DataLoader(make_data(10), seed=0)
    mt_state = np.random.Generator(np.random.MT19937(0)).bit_generator.state
    with pytest.raises(ValueError, match=r"MT19937.*PCG64"):
        loader.load_state_dict(mt_state)
    with pytest.raises(ValueError):
        loader.load_state_dict([1, 2])


def test_repr_mentions_settings():
    text = repr(DataLoader(make_data(4), batch_size=2, shuffle=False))
    assert "batch_size=2" in text and "(4, 3)" in text


def test_num_workers_zero_is_accepted_and_others_say_why_not():
    data = TensorDataset(np.arange(10.0), np.arange(10))
    assert len(DataLoader(data, batch_size=5, num_workers=0)) == 2
    with pytest.raises(ValueError, match=r"num_workers=2 is not supported: .*use num_workers=0"):
        DataLoader(data, num_workers=2)
