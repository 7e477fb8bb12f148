"""The default random generator, and `manual_seed` to make a whole run reproducible.

Every random function of minigrad and minigrad_nn (`mg.randn`, `mg.rand`, the initialisers,
`Dropout`, a `DataLoader` that shuffles) takes `seed=` or `rng=`. Given neither, it draws from the
default generator below, which `manual_seed(n)` replaces by a fresh one seeded with `n`: two runs
that call `mg.manual_seed(n)` first draw exactly the same numbers. Without `manual_seed` the default
generator is seeded from the operating system's entropy, as NumPy's `default_rng()`.
"""

from __future__ import annotations

import numpy as np

Generator = np.random.Generator

_default_generator = np.random.default_rng()


def manual_seed(seed: int) -> Generator:
    """Reseed the default generator with `seed` and return it (as `torch.manual_seed`).

    The generator is reseeded in place, so a layer or loader that already holds it (a `Dropout`
    built before the call) draws the reseeded numbers too."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"manual_seed takes a non-negative integer, got {seed!r}")
    _default_generator.bit_generator.state = np.random.PCG64(int(seed)).state
    return _default_generator


def default_generator() -> Generator:
    """The generator that random functions use when given no `seed=` or `rng=`."""
    return _default_generator


def generator(seed: int | None = None, rng: Generator | None = None) -> Generator:
    """The generator a random function should draw from: `rng` itself, else a new one seeded with
    `seed`, else the default generator. Passing both `seed` and `rng` is an error."""
    if seed is not None and rng is not None:
        raise ValueError("pass seed= or rng=, not both")
    if rng is not None:
        return rng
    return _default_generator if seed is None else np.random.default_rng(seed)


def child_generator(seed: int | None = None, rng: Generator | None = None) -> Generator:
    """Like `generator`, but for an object that keeps its generator and may save and restore its
    state (a `DataLoader`): without `seed` or `rng` it gets a generator of its own, seeded by a draw
    from the default one, so restoring its state never rewinds everyone else's numbers."""
    if seed is None and rng is None:
        return np.random.default_rng(_default_generator.integers(2**63))
    return generator(seed, rng)
