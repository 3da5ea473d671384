"""Limits on what one script or expression may cost: wall time, and the size of what it builds.

Design: guards inside the compiled code, not a separate process. The sandbox's policy
(`processes.engine.sandbox`) makes every loop body, comprehension step, function and lambda
call `_tick_()`, which checks the evaluation's deadline (and, every few milliseconds, how
much the process has grown); the operations that can build something huge in a single
bytecode while holding the GIL (`*`, `**`, `<<`, `%` on strings, padding and joining
strings, `range`, `sum` of sequences, f-string widths) check the size of their result
before building it. A script in a web thread therefore ends within its time limit and
never stalls the other threads for more than a moment. A worker process per evaluation
would cost a fork or a round trip per gateway condition; the guards cost a call per loop
round (see docs/scripting.md for the figures).

`ScriptLimitExceeded` is a BaseException so that a script's own `except Exception:` cannot
swallow it (bare `except:` is refused at compile time); the sandbox turns it into
`ScriptLimitError`, an ordinary script error that fails the task.
"""

from __future__ import annotations

import builtins
import operator
import os
import re
import time
from typing import Any

DEFAULT_TIME_LIMIT = 2.0  # seconds of wall time per script or expression
MAX_SEQUENCE = 1_000_000  # items of a list or tuple built in one operation
MAX_TEXT = 10_000_000  # characters (or bytes) of a string built in one operation
MAX_INT_BITS = 65_536  # about 19,700 decimal digits
MAX_RANGE = 1_000_000
MAX_WIDTH = 10_000  # format widths and precisions
MAX_GROWTH = 256 * 1024 * 1024  # bytes the process may grow while one script runs
_MEMORY_EVERY = 0.01  # seconds between looks at the process size

_SEQUENCES = (list, tuple)
_TEXTS = (str, bytes, bytearray)


class ScriptLimitExceeded(BaseException):
    """Raised inside a script when it passes a limit; `kind` is "time", "size" or "memory"."""

    def __init__(self, message: str, kind: str = "size"):
        super().__init__(message)
        self.kind = kind


class ScriptLimitError(Exception):
    """A script or expression passed its time or size limit; the task fails with this."""

    def __init__(self, message: str, kind: str = "size", seconds: float | None = None):
        super().__init__(message)
        self.kind, self.seconds = kind, seconds


def limit_error_in(exc: BaseException | None) -> ScriptLimitError | None:
    """The ScriptLimitError behind an engine error (SpiffWorkflow wraps what scripts raise)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, ScriptLimitError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def _too_big(what: str, limit: int) -> ScriptLimitExceeded:
    return ScriptLimitExceeded(f"the script would build {what} larger than the limit of {limit:,}")


try:
    _PAGE = os.sysconf("SC_PAGE_SIZE")
except (AttributeError, ValueError, OSError):  # pragma: no cover - not a POSIX system
    _PAGE = 0


def _resident_bytes() -> int | None:
    if not _PAGE:
        return None
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


class Budget:
    """The deadline of one evaluation; `tick` is the `_tick_` its compiled code calls."""

    __slots__ = ("deadline", "limit", "next_look", "resident")

    def __init__(self, limit: float = DEFAULT_TIME_LIMIT):
        now = time.monotonic()
        self.limit = limit
        self.deadline = now + limit
        self.next_look = now + _MEMORY_EVERY  # short scripts never read the process size
        self.resident: int | None = None

    def tick(self) -> bool:
        now = time.monotonic()
        if now > self.deadline:
            raise ScriptLimitExceeded(f"the script ran longer than its limit of {self.limit:g} s", "time")
        if now > self.next_look:
            self._look_at_memory(now)
        return True  # usable as a comprehension's condition

    def _look_at_memory(self, now: float) -> None:
        self.next_look = now + _MEMORY_EVERY
        resident = _resident_bytes()
        if resident is None:
            return
        if self.resident is None:
            self.resident = resident  # the baseline, taken once the script has run a while
        elif resident - self.resident > MAX_GROWTH:
            raise ScriptLimitExceeded(
                f"the script used more than {MAX_GROWTH // (1024 * 1024)} MB of memory", "memory")


# --- size guards: the compiled code calls these instead of the operators ----------------


def _int_bits(value: Any) -> int:
    return abs(value).bit_length() if isinstance(value, int) else 0


_NUMBERS = (int, float)


def guarded_mul(a: Any, b: Any) -> Any:
    kinds = type(a), type(b)
    if float in kinds and kinds[0] in _NUMBERS and kinds[1] in _NUMBERS:
        return a * b  # the common case first: a float result is never big
    if isinstance(a, int) and isinstance(b, (*_SEQUENCES, *_TEXTS)):
        a, b = b, a
    if isinstance(a, (*_SEQUENCES, *_TEXTS)) and isinstance(b, int):
        limit = MAX_TEXT if isinstance(a, _TEXTS) else MAX_SEQUENCE
        if len(a) * max(b, 0) > limit:
            raise _too_big("a sequence", limit)
    elif isinstance(a, int) and isinstance(b, int) and _int_bits(a) + _int_bits(b) > MAX_INT_BITS:
        raise _too_big("a number (in bits)", MAX_INT_BITS)
    return a * b


def guarded_pow(a: Any, b: Any, mod: Any = None) -> Any:
    if (mod is None and isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1
            and _int_bits(a) * b > MAX_INT_BITS):
        raise _too_big("a number (in bits)", MAX_INT_BITS)
    return builtins.pow(a, b) if mod is None else builtins.pow(a, b, mod)


def guarded_lshift(a: Any, b: Any) -> Any:
    if isinstance(a, int) and isinstance(b, int) and a and _int_bits(a) + b > MAX_INT_BITS:
        raise _too_big("a number (in bits)", MAX_INT_BITS)
    return a << b


_PERCENT_FIELD = re.compile(rb"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def guarded_mod(a: Any, b: Any) -> Any:
    """`'%10000000d' % 1` pads in one bytecode: refuse big and `*` widths in %-formatting."""
    if type(a) in _NUMBERS:
        return a % b
    if isinstance(a, _TEXTS) and (b"%" in a if isinstance(a, (bytes, bytearray)) else "%" in a):
        raw = a.encode("utf-8", "surrogatepass") if isinstance(a, str) else bytes(a)
        for match in _PERCENT_FIELD.finditer(raw):
            for part in match.groups():
                if part == b"*" or (part and int(part) > MAX_WIDTH):
                    raise _too_big("a formatted field", MAX_WIDTH)
    return a % b


_SPEC_NUMBERS = re.compile(r"\d+")


def guarded_format(value: Any, spec: str, conversion: int = -1) -> str:
    """An f-string field with a format spec: `f"{x:>{10**9}}"` would pad in one bytecode."""
    if conversion == ord("r"):
        value = repr(value)
    elif conversion == ord("s"):
        value = str(value)
    elif conversion == ord("a"):
        value = ascii(value)
    if any(int(n) > MAX_WIDTH for n in _SPEC_NUMBERS.findall(spec)):
        raise _too_big("a formatted field", MAX_WIDTH)
    return format(value, spec)


def guarded_inplace(op: str, target: Any, value: Any) -> Any | None:
    """The guarded form of `*=`, `**=` and `<<=`; None for the others (no check needed)."""
    if op == "*=":
        return guarded_mul(target, value) if not isinstance(target, list) else _imul_list(target, value)
    if op == "**=":
        return guarded_pow(target, value)
    if op == "<<=":
        return guarded_lshift(target, value)
    return None


def _imul_list(target: list, value: Any) -> list:
    guarded_mul(target, value)  # raises when too big
    return operator.imul(target, value)


def guarded_range(*args: Any) -> range:
    result = range(*args)
    try:
        size = len(result)
    except OverflowError:
        size = MAX_RANGE + 1
    if size > MAX_RANGE:
        raise _too_big("a range", MAX_RANGE)
    return result


def guarded_sum(iterable: Any, start: Any = 0) -> Any:
    """`sum(lists, [])` concatenates in C, copying the growing result at every step: bound
    the copies (pieces × total size) before summing sequences."""
    if isinstance(start, (*_SEQUENCES, *_TEXTS)):
        items = list(iterable)
        total = len(start) + sum(len(item) if hasattr(item, "__len__") else 0 for item in items)
        if total > MAX_SEQUENCE or total * len(items) > 10 * MAX_SEQUENCE:
            raise _too_big("a sequence", MAX_SEQUENCE)
        return builtins.sum(items, start)
    return builtins.sum(iterable, start)


def _width_guard(method, position: int = 0):
    def padded(*args, **kwargs):
        width = args[position] if len(args) > position else kwargs.get("width", 0)
        if isinstance(width, int) and width > MAX_TEXT:
            raise _too_big("a string", MAX_TEXT)
        return method(*args, **kwargs)

    return padded


def _replace_guard(text: Any):
    def replace(old, new, count=-1):
        if isinstance(old, _TEXTS) and isinstance(new, _TEXTS) and len(new) > len(old):
            times = text.count(old) if old else len(text) + 1
            if 0 <= count < times:
                times = count
            if len(text) + times * (len(new) - len(old)) > MAX_TEXT:
                raise _too_big("a string", MAX_TEXT)
        return text.replace(old, new, count)

    return replace


def _join_guard(separator: Any):
    def join(iterable):
        pieces = list(iterable)
        total = len(separator) * max(len(pieces) - 1, 0)
        total += sum(len(p) if isinstance(p, _TEXTS) else 0 for p in pieces)
        if total > MAX_TEXT:
            raise _too_big("a string", MAX_TEXT)
        return separator.join(pieces)

    return join


def _expandtabs_guard(text: Any):
    def expandtabs(tabsize=8):
        tab = "\t" if isinstance(text, str) else b"\t"
        if isinstance(tabsize, int) and len(text) + text.count(tab) * max(tabsize, 0) > MAX_TEXT:
            raise _too_big("a string", MAX_TEXT)
        return text.expandtabs(tabsize)

    return expandtabs


def guard_text_method(obj: Any, name: str, method: Any) -> Any:
    """String methods whose result can be far larger than the string, checked before they run."""
    if not isinstance(obj, _TEXTS):
        return method
    if name in ("ljust", "rjust", "center", "zfill"):
        return _width_guard(method)
    if name == "replace":
        return _replace_guard(obj)
    if name == "join":
        return _join_guard(obj)
    if name == "expandtabs":
        return _expandtabs_guard(obj)
    return method
