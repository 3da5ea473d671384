"""What every test app would compile again, compiled once per test process.

The suite creates a Flask app per test (each on its own database). Two costs repeat for nothing:
Jinja compiles every template a test renders, and Werkzeug compiles a URL builder for each of the
~160 routes. Both results depend only on their source (the template's text; the rule, its
defaults and its parts), so one process-wide copy serves every app. Production creates one app
and is unaffected: these are installed by tests/conftest.py only."""

from __future__ import annotations

import inspect

from flask import Flask
from jinja2 import BytecodeCache
from werkzeug.routing.rules import Rule


class CompiledTemplates(BytecodeCache):
    """Jinja's compiled templates, kept in memory; a bucket carries the source checksum, so an
    edited template is compiled again."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


def _memoized_builder(compile_builder):
    builders: dict[tuple, object] = {}

    def builder(self: Rule, append_unknown: bool = True):
        # The generated function takes the rule as an argument (`.self`); its code depends on the
        # rule's parts (`_trace`), its defaults and `append_unknown`, nothing else.
        defaults = tuple(sorted((k, repr(v)) for k, v in (self.defaults or {}).items()))
        key = (type(self), self.rule, tuple(self._trace), defaults, append_unknown)
        if key not in builders:
            builders[key] = compile_builder(self, append_unknown)
        return builders[key]

    return builder


def install() -> None:
    Flask.jinja_options = {**Flask.jinja_options, "bytecode_cache": CompiledTemplates()}
    if list(inspect.signature(Rule._compile_builder).parameters) == ["self", "append_unknown"]:
        Rule._compile_builder = _memoized_builder(Rule._compile_builder)
