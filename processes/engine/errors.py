"""Errors the runtime raises; each carries a message a person can act on.

A message is an English template marked with `N_` plus its parameters; the web layer looks
the template up in the translation catalog and fills it in (`web/errors.py`), so the same
error reads in Chinese or English. `message` is the English text, for logs and the CLI.
"""

from __future__ import annotations

from typing import Any


def N_(template: str) -> str:
    """Mark an English message template for the catalog (`pybabel extract` finds it)."""
    return template


class RuntimeProblem(Exception):
    status = 400

    def __init__(self, template: str, **params: Any):
        self.template = template
        self.params = params
        self.message = template % params if params else template
        super().__init__(self.message)


class NotFound(RuntimeProblem):
    status = 404


class Forbidden(RuntimeProblem):
    status = 403


class Conflict(RuntimeProblem):
    """Someone else changed the instance or the task first; reload and try again."""

    status = 409


class NotWaiting(Conflict):
    """The process is not waiting for this message (any more)."""


class ValidationFailed(RuntimeProblem):
    status = 422

    def __init__(self, errors: dict[str, str], template: str = N_("Some fields need correcting."), **params: Any):
        super().__init__(template, **params)
        self.errors = errors


class DefinitionError(RuntimeProblem):
    """The process files could not be deployed."""

    status = 422


class ProcessFailed(RuntimeProblem):
    """The engine failed at a step: the instance is marked failed there, the failure is audited
    and logged, and what the person did is rolled back (they may keep their input and retry)."""

    status = 500


PROCESS_FAILED_AFTER_INPUT = N_("The process could not continue after your input; it has been reported.")
PROCESS_FAILED_TO_START = N_("The process could not be started; it has been reported. Nothing was saved.")
