"""Grad mode: whether operations record the graph that `backward` needs.

This is minigrad's one piece of global state. A context variable keeps it per thread and per
asyncio task, so a `no_grad` block in one thread or task never turns recording off in another.
"""

from __future__ import annotations

import contextlib
from contextvars import ContextVar, Token

#: Read by every op (`grad_enabled.get()`); set only through the context managers below and by
#: the engine while a backward pass runs (recording then follows `create_graph`).
grad_enabled: ContextVar[bool] = ContextVar("minigrad_grad_enabled", default=True)


def is_grad_enabled() -> bool:
    """True when operations record the graph needed for backward."""
    return grad_enabled.get()


class _GradMode(contextlib.ContextDecorator):
    """Context manager (and decorator) that sets grad mode on entry and restores it on exit."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._tokens: list[Token[bool]] = []  # a stack, so one instance may be re-entered

    def __enter__(self) -> None:
        self._tokens.append(grad_enabled.set(self.enabled))

    def __exit__(self, *exc: object) -> None:
        grad_enabled.reset(self._tokens.pop())

    def _recreate_cm(self) -> _GradMode:
        """Each call of a decorated function gets its own instance (ContextDecorator's hook):
        calls running at once in two threads must not share the stack of tokens."""
        return _GradMode(self.enabled)


def no_grad() -> _GradMode:
    """`with mg.no_grad():` (or `@mg.no_grad()`) records no graph: inference and updates."""
    return _GradMode(False)


def enable_grad() -> _GradMode:
    """Turn graph recording back on inside a `no_grad` block."""
    return _GradMode(True)


def set_grad_enabled(enabled: bool) -> _GradMode:
    """Grad mode as a flag: `with mg.set_grad_enabled(training): ...`."""
    return _GradMode(bool(enabled))
