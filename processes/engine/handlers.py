"""The registry of service-task handlers, by the name a BPMN service task uses.

The handlers themselves live in the top-level `handlers/` package; the composition root
(`processes.app`) imports it, which registers them here.

A handler is a plain function `handler(ctx) -> dict`: it reads `ctx.data` and
`ctx.params`, may use `ctx.session`, and returns the variables it sets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Handler = Callable[[Any], dict | None]
_HANDLERS: dict[str, Handler] = {}


class HandlerError(RuntimeError):
    """A handler could not do its job; the instance stays at the task, retryable."""


def handler(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _HANDLERS[name] = fn
        return fn

    return register


def get_handler(name: str) -> Handler:
    try:
        return _HANDLERS[name]
    except KeyError:
        raise HandlerError(f"no service-task handler named {name!r}") from None


def handler_names() -> list[str]:
    return sorted(_HANDLERS)

