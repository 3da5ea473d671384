"""Sandboxed evaluation of BPMN scripts, gateway conditions, timer and DMN expressions.

Process definitions are uploaded by designers, so their Python must not reach
the host: every script and expression is compiled with RestrictedPython and run
with a small set of safe builtins plus the documented helpers
(`processes.engine.script_helpers.HELPERS`). Data semantics match SpiffWorkflow's
`TaskDataEnvironment`: script assignments land in the task data, and helpers,
builtins and functions are stripped from the task data afterwards.

See docs/scripting.md for what scripts may and may not do.
"""

from __future__ import annotations

import ast
import builtins
import copy
import operator
from functools import lru_cache
from typing import Any, Literal

from RestrictedPython import (
    PrintCollector,
    RestrictingNodeTransformer,
    compile_restricted_eval,
    compile_restricted_exec,
    safe_builtins,
)
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)
from RestrictedPython.Guards import raise_ as _MISSING  # sentinel: safer_getattr then raises on missing names
from RestrictedPython.transformer import INSPECT_ATTRIBUTES
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from processes.engine import script_limits
from processes.engine.script_limits import DEFAULT_TIME_LIMIT, Budget, ScriptLimitError, ScriptLimitExceeded

# SpiffWorkflow's script engine looks for this file name in tracebacks to report
# the failing line of a script, so compiled code must use it.
SCRIPT_FILENAME = "<string>"


class ScriptError(Exception):
    """Base class for errors raised by the sandbox itself."""


class ForbiddenScriptError(ScriptError):
    """A script or expression uses a construct the sandbox does not allow."""


# Builtins that are deliberately unavailable, with the reason shown to the designer.
# Calling one of them is rejected when the script is compiled.
FORBIDDEN_CALLS = {
    "open": "scripts have no file access",
    "eval": "scripts cannot run dynamically built code",
    "exec": "scripts cannot run dynamically built code",
    "compile": "scripts cannot run dynamically built code",
    "globals": "scripts cannot inspect the interpreter namespace",
    "locals": "scripts cannot inspect the interpreter namespace",
    "vars": "scripts cannot inspect the interpreter namespace",
    "dir": "scripts cannot inspect objects",
    "type": "use isinstance() instead",
    "setattr": "assign to dict keys instead of object attributes",
    "delattr": "remove dict keys instead of object attributes",
    "input": "scripts cannot interact with a console",
    "breakpoint": "scripts cannot start a debugger",
    "help": "scripts cannot interact with a console",
    "exit": "scripts cannot stop the server",
    "quit": "scripts cannot stop the server",
    "memoryview": "scripts cannot access raw memory",
    "object": "scripts cannot create bare objects",
    "super": "classes are not available in scripts",
}


def _guard_call(name: str, like: ast.AST, *args: ast.expr) -> ast.Call:
    call = ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=list(args), keywords=[])
    for node in ast.walk(call):  # new nodes take the position of the code they guard
        if "lineno" in node._attributes and not hasattr(node, "lineno"):
            ast.copy_location(node, like)
    return call


# Operators that can build something huge in one bytecode go through a size guard.
_GUARDED_OPERATORS = {ast.Mult: "_mul_", ast.Pow: "_pow_", ast.LShift: "_lshift_", ast.Mod: "_mod_"}


class _SandboxPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy (no `_` names, no exec/eval, attribute access
    through guards) plus: no imports, no classes, no calls to forbidden builtins, no bare
    `except:`; and the hooks of `script_limits`: every loop round, comprehension step and
    function call ticks the deadline, and size-sensitive operators go through guards."""

    def _tick(self, like: ast.AST) -> ast.Call:
        return _guard_call("_tick_", like)

    def visit_For(self, node):
        node = super().visit_For(node)
        node.body.insert(0, ast.copy_location(ast.Expr(self._tick(node)), node))
        return node

    def visit_While(self, node):
        node = super().visit_While(node)
        node.body.insert(0, ast.copy_location(ast.Expr(self._tick(node)), node))
        return node

    def visit_comprehension(self, node):
        node = super().visit_comprehension(node)
        node.ifs.insert(0, self._tick(node.iter))  # _tick_() is True
        return node

    def visit_FunctionDef(self, node):
        node = super().visit_FunctionDef(node)
        node.body.insert(0, ast.copy_location(ast.Expr(self._tick(node)), node))
        return node

    def visit_Lambda(self, node):
        node = super().visit_Lambda(node)
        node.body = ast.copy_location(ast.BoolOp(op=ast.And(), values=[self._tick(node), node.body]), node)
        return node

    def visit_BinOp(self, node):
        node = super().visit_BinOp(node)
        guard = _GUARDED_OPERATORS.get(type(node.op))
        if guard is None:
            return node
        return ast.copy_location(_guard_call(guard, node, node.left, node.right), node)

    def visit_FormattedValue(self, node):
        node = super().visit_FormattedValue(node)
        if node.format_spec is None:
            return node
        value = _guard_call("_format_", node, node.value, node.format_spec,
                            ast.copy_location(ast.Constant(node.conversion), node))
        return ast.copy_location(ast.FormattedValue(value=value, conversion=-1, format_spec=None), node)

    def visit_ExceptHandler(self, node):
        if node.type is None:
            self.error(node, "a bare 'except:' is not allowed in scripts; name the exception, "
                             "for example 'except ValueError:'.")
        return super().visit_ExceptHandler(node)

    def visit_Import(self, node):
        self.error(node, "import statements are not allowed in scripts; use the helper functions instead.")
        return node

    visit_ImportFrom = visit_Import

    def visit_ClassDef(self, node):
        self.error(node, "class definitions are not allowed in scripts.")
        return node

    def visit_Call(self, node):
        name = node.func.id if isinstance(node.func, ast.Name) else None
        # exec/eval already produce an error from RestrictedPython itself.
        if name in FORBIDDEN_CALLS and name not in ("exec", "eval"):
            self.error(node, f"{name}() is not allowed in scripts: {FORBIDDEN_CALLS[name]}.")
        return super().visit_Call(node)


Mode = Literal["exec", "eval"]


def _parse(source: str, mode: Mode) -> ast.AST:
    # Expressions come from XML attributes/text and often carry surrounding whitespace.
    return ast.parse(source.strip() if mode == "eval" else source, SCRIPT_FILENAME, mode)


def _policy_compile(tree: ast.AST, mode: Mode):
    """Compile a parsed tree under the sandbox policy. Returns (code or None, problems)."""
    compile_mode = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    result = compile_mode(tree, SCRIPT_FILENAME, policy=_SandboxPolicy)
    return result.code, list(result.errors)


def check_script(source: str, mode: Mode = "exec") -> list[str]:
    """Return the problems (syntax errors, forbidden constructs) in `source`
    without running it. An empty list means the script compiles in the sandbox.

    Use mode "eval" for expressions (gateway conditions, timers, DMN cells) and
    "exec" for script tasks and pre/post scripts."""
    if mode not in ("exec", "eval"):
        raise ValueError(f"mode must be 'exec' or 'eval', not {mode!r}")
    if not isinstance(source, str):
        return [f"script must be a string, not {type(source).__name__}"]
    try:
        tree = _parse(source, mode)
    except SyntaxError as err:
        return [f"Line {err.lineno}: syntax error: {err.msg}"]
    return _policy_compile(tree, mode)[1]


@lru_cache(maxsize=2048)
def _compiled(source: str, mode: Mode):
    # The same conditions and scripts run for every instance, so compile each once.
    # Failures raise and are not cached. A SyntaxError is left as is so that
    # SpiffWorkflow reports the failing line.
    code, problems = _policy_compile(_parse(source, mode), mode)
    if problems:
        raise ForbiddenScriptError("Forbidden construct in script: " + "; ".join(problems))
    return code


# --- guards used by RestrictedPython's generated code -------------------------------


def _guarded_getattr(obj: Any, name: str, *default: Any) -> Any:
    """`obj.name` and the `getattr()` builtin: refuse private/dunder names,
    interpreter internals (frames, code objects) and str.format."""
    if not isinstance(name, str):
        raise TypeError("attribute name must be a string")
    if name.startswith("_"):
        raise ForbiddenScriptError(
            f"Access to attribute {name!r} is not allowed in scripts: names starting with '_' are off limits."
        )
    if name in INSPECT_ATTRIBUTES:
        raise ForbiddenScriptError(
            f"Access to attribute {name!r} is not allowed in scripts: it exposes interpreter internals."
        )
    try:
        # safer_getattr also refuses str.format/format_map and string.Formatter;
        # its default of None would hide missing attributes, so pass default only if given.
        if default:
            found = safer_getattr(obj, name, default[0])
        else:
            found = safer_getattr(obj, name, _MISSING)
    except NotImplementedError as err:
        raise ForbiddenScriptError(
            f"{err} in scripts; build strings with f-strings or '+' instead."
        ) from None
    return script_limits.guard_text_method(obj, name, found)


_INPLACE_OPERATORS = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": operator.ipow,
    "<<=": operator.ilshift,
    ">>=": operator.irshift,
    "&=": operator.iand,
    "|=": operator.ior,
    "^=": operator.ixor,
    "@=": operator.imatmul,
}


def _inplacevar(op: str, target: Any, value: Any) -> Any:
    """`x += 1` is compiled to `x = _inplacevar_('+=', x, 1)`."""
    guarded = script_limits.guarded_inplace(op, target, value)
    if guarded is not None:
        return guarded
    try:
        return _INPLACE_OPERATORS[op](target, value)
    except KeyError:
        raise ForbiddenScriptError(f"Operator {op} is not allowed in scripts.") from None


def _write_guard(ob: Any) -> Any:
    """Target of `x[k] = v`, `del x[k]` and `x.attr = v`: only dicts and lists may
    be changed (like RestrictedPython's full_write_guard, with a clearer error)."""
    if isinstance(ob, (dict, list)):
        return ob
    raise ForbiddenScriptError(
        f"Scripts may only modify dicts and lists (data['key'] = value), not a {type(ob).__name__} object."
    )


# C code such as datetime.strftime() imports these modules through the running
# frame's builtins. Scripts themselves cannot reach __import__: names starting with
# "_" and import statements are rejected at compile time.
_IMPLICIT_IMPORTS = frozenset({"time", "_strptime"})


def _implicit_import(name: str, globals=None, locals=None, fromlist=(), level=0):
    if name in _IMPLICIT_IMPORTS and level == 0:
        return builtins.__import__(name, globals, locals, fromlist, level)
    raise ForbiddenScriptError(f"Importing {name!r} is not allowed in scripts.")


def _apply(func: Any, *args: Any, **kwargs: Any) -> Any:
    """Calls using *args / **kwargs are compiled to `_apply_(func, ...)`."""
    return func(*args, **kwargs)


# Names the compiled code looks up in its globals. Scripts cannot refer to names
# starting with '_', so only the sandbox provides these.
GUARDS: dict[str, Any] = {
    "_getattr_": _guarded_getattr,
    "_getitem_": default_guarded_getitem,
    "_getiter_": default_guarded_getiter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": _write_guard,
    "_inplacevar_": _inplacevar,
    "_apply_": _apply,
    "_print_": PrintCollector,  # print() is accepted; its output is discarded
    "_mul_": script_limits.guarded_mul,
    "_pow_": script_limits.guarded_pow,
    "_lshift_": script_limits.guarded_lshift,
    "_mod_": script_limits.guarded_mod,
    "_format_": script_limits.guarded_format,
}

# RestrictedPython's safe builtins minus class building and attribute writes, plus
# the container/iteration builtins process scripts need. Since _getiter_ does not
# restrict iteration, builtins that iterate in C (sorted, zip, ...) bypass nothing.
# Exceptions that are not Exceptions would slip past every handler up to the worker's loop.
_EXCLUDED = {"__build_class__", "setattr", "delattr", "_getattr_",
             "BaseException", "SystemExit", "KeyboardInterrupt", "GeneratorExit"}
SAFE_BUILTINS: dict[str, Any] = {k: v for k, v in safe_builtins.items() if k not in _EXCLUDED}
_CONTAINER_BUILTINS = (
    "list dict set frozenset tuple sorted reversed any all sum min max enumerate zip map filter"
)
SAFE_BUILTINS.update({name: getattr(builtins, name) for name in _CONTAINER_BUILTINS.split()})
SAFE_BUILTINS["getattr"] = _guarded_getattr
SAFE_BUILTINS["__import__"] = _implicit_import
SAFE_BUILTINS["range"] = script_limits.guarded_range
SAFE_BUILTINS["pow"] = script_limits.guarded_pow
SAFE_BUILTINS["sum"] = script_limits.guarded_sum

RESERVED_NAMES = frozenset(GUARDS) | {"__builtins__", "_tick_"}


def _limit_error(exc: ScriptLimitExceeded, seconds: float) -> ScriptLimitError:
    return ScriptLimitError(f"Script stopped: {exc}.", exc.kind, seconds)


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """Drop-in replacement for SpiffWorkflow's TaskDataEnvironment that runs
    scripts and expressions under RestrictedPython.

    `environment_globals` are the helper functions (normally
    `processes.engine.script_helpers.HELPERS`); the dict is kept by reference so helpers
    registered later are visible too. `time_limit` is the wall time, in seconds, that each
    script or expression may take (`script_limits`).
    """

    def __init__(self, environment_globals=None, time_limit: float = DEFAULT_TIME_LIMIT):
        super().__init__(environment_globals)
        self.time_limit = time_limit

    def evaluate(self, expression, context, external_context=None):
        code = _compiled(expression, "eval")
        # A fresh namespace, so nothing the expression touches leaks anywhere.
        namespace = copy.copy(self.globals)
        namespace.update(external_context or {})
        namespace.update(context)
        namespace.update(GUARDS)
        namespace["_tick_"] = Budget(self.time_limit).tick
        namespace["__builtins__"] = SAFE_BUILTINS
        try:
            return eval(code, namespace)  # code was compiled by RestrictedPython
        except Exception:
            raise
        except ScriptLimitExceeded as exc:
            raise _limit_error(exc, self.time_limit) from None
        except BaseException as exc:  # noqa: BLE001 - never let a script stop the process
            raise ScriptError(f"the expression raised {type(exc).__name__}, which scripts may not raise") from None

    def execute(self, script, context, external_context=None):
        external_context = external_context or {}
        code = _compiled(script, "exec")
        self.check_for_overwrite(context, external_context)
        # Like TaskDataEnvironment: run with the task data itself as globals so that
        # assignments land in it, then strip everything that was added.
        context.update(self.globals)
        context.update(external_context)
        context.update(GUARDS)
        context["_tick_"] = Budget(self.time_limit).tick
        context["__builtins__"] = SAFE_BUILTINS
        try:
            exec(code, context)  # noqa: S102 - code was compiled by RestrictedPython
        except Exception:
            raise
        except ScriptLimitExceeded as exc:
            raise _limit_error(exc, self.time_limit) from None
        except BaseException as exc:  # noqa: BLE001 - never let a script stop the process
            raise ScriptError(f"the script raised {type(exc).__name__}, which scripts may not raise") from None
        finally:
            self._remove_globals_and_functions_from_context(context, external_context)
        return True

    def call_service(self, context, **kwargs):
        raise NotImplementedError("Service tasks are dispatched by the script engine, not the sandbox.")

    def _remove_globals_and_functions_from_context(self, context, external_context=None):
        for key in list(context):
            if (
                key in RESERVED_NAMES
                or callable(context[key])
                or key in self.globals
                or (external_context and key in external_context)
            ):
                context.pop(key)

    def check_for_overwrite(self, context, external_context):
        """Fail fast when task data would hide a helper (it would otherwise be
        silently removed after the script) or collide with the sandbox's own names."""
        clashes = set(self.globals).intersection(context)
        clashes.update(set(external_context).intersection(context))
        clashes.update(RESERVED_NAMES.intersection(context))
        if clashes:
            names = ", ".join(sorted(clashes))
            raise ValueError(
                "Task data has variable(s) with the same name as a predefined script function "
                f"or sandbox name; rename these variables or form fields: {names}"
            )
