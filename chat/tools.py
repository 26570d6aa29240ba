"""The agent's tools and their registry. Adding one is one decorated function.

``@chat_tool`` wraps the SDK's ``function_tool`` (with our error policy) and
registers the tool by name; the signature and docstring become the schema the
model sees. The decorated function stays an ordinary function, so a test can
call it directly. Built-in tools live here; yours go in ``chat/custom_tools.py``,
which the app imports at start-up (``ChatConfig.ready``). Which registered
tools the agent may call is ``CHAT_TOOLS`` or the admin's assistant profile
(``chat.agent``).

A tool that raises does not end the stream: the model gets an error result and
carries on. Raise ``ToolInputError`` for a message the model may read ("unknown
time zone"); anything else is reported as a generic failure, so exception text
(paths, keys, SQL) never reaches the model or the user.

Every call has ``CHAT_TOOL_TIMEOUT_SECONDS``. A sync tool runs in a worker
process (``chat.tool_pool``): one that computes too long, even inside a single C
call holding the GIL, is stopped there without stalling the server's event loop.
``@chat_tool(isolated=False)`` keeps a sync tool on a thread of the server
instead (for one that needs the run context or in-process state): it is still
timed, but a thread cannot be stopped, so keep its work bounded. An ``async``
tool runs on the event loop under the same limit: await, never compute.
"""

from __future__ import annotations

import ast
import asyncio
import functools
import inspect
import logging
import math
import operator
import typing
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar, overload
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agents import FunctionTool, RunContextWrapper, Tool, function_tool
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from chat.tool_pool import ToolTimeout, run_in_pool

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


class ToolInputError(ValueError):
    """A tool failure whose message is safe to hand back to the model."""


def tool_error_message(context: RunContextWrapper[Any], error: Exception) -> str:
    if isinstance(error, ToolInputError):
        return f"Error: {error}"
    logger.warning("tool failed: %s", type(error).__name__, exc_info=error)
    return "Error: the tool failed unexpectedly. Do not retry it; tell the user."


# --------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------

# name -> tool, in registration order (built-ins first, then chat/custom_tools.py).
_registry: dict[str, FunctionTool] = {}
# name -> "module.qualname" of the function behind it, to tell a re-import from a clash.
_origins: dict[str, str] = {}
# Names of the tools that run in the tool process pool.
_pooled: set[str] = set()
# Bumped on every change, so an agent built from older tools is not reused.
_generation = 0


DEFAULT_TIMEOUT_SECONDS = 10


def tool_timeout_seconds() -> float:
    """``CHAT_TOOL_TIMEOUT_SECONDS``, read per call (the benchmark's peer imports the
    tools without Django settings: it gets the default)."""
    if not settings.configured:
        return DEFAULT_TIMEOUT_SECONDS
    return float(getattr(settings, "CHAT_TOOL_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS))


def _time_limited(func: Callable[..., Any], *, isolated: bool) -> Callable[..., Any]:
    """An async stand-in for ``func`` with its signature and docstring (the schema the
    SDK derives), running it under the time limit: in the process pool when ``func``
    is sync and ``isolated``."""

    def timed_out(limit: float) -> ToolInputError:
        return ToolInputError(f"the tool did not finish within {limit:g} seconds and was stopped")

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            limit = tool_timeout_seconds()
            try:
                async with asyncio.timeout(limit):
                    return await func(*args, **kwargs)
            except TimeoutError:
                raise timed_out(limit) from None

        return run_async

    @functools.wraps(func)
    async def run_sync(*args: Any, **kwargs: Any) -> Any:
        limit = tool_timeout_seconds()
        try:
            if isolated:
                return await run_in_pool(func, args, kwargs, seconds=limit)
            async with asyncio.timeout(limit):
                return await asyncio.to_thread(func, *args, **kwargs)
        except (ToolTimeout, TimeoutError):
            raise timed_out(limit) from None

    return run_sync


@overload
def chat_tool(func: F, /) -> F: ...
@overload
def chat_tool(*, name: str | None = None, isolated: bool = True) -> Callable[[F], F]: ...
def chat_tool(
    func: F | None = None, /, *, name: str | None = None, isolated: bool = True
) -> F | Callable[[F], F]:
    """Register ``func`` as a tool the agent can be given (``@chat_tool`` or
    ``@chat_tool(name="...")``); returns ``func`` unchanged. A sync tool runs in the
    tool process pool unless ``isolated=False`` (see the module docstring)."""

    def register(func: F) -> F:
        tool = function_tool(
            _time_limited(func, isolated=isolated),
            name_override=name,
            failure_error_function=tool_error_message,
        )
        origin = f"{func.__module__}.{func.__qualname__}"
        if _origins.get(tool.name, origin) != origin:
            raise ImproperlyConfigured(
                f"two tools are named {tool.name!r}: {_origins[tool.name]} and {origin}"
            )
        if isolated and not inspect.iscoroutinefunction(func):
            # A worker process finds the function by its module and name.
            if "<locals>" in func.__qualname__:
                raise ImproperlyConfigured(
                    f"tool {tool.name!r} runs in the tool process pool, so it must be a "
                    "module-level function (or pass isolated=False)"
                )
            if _takes_run_context(func):
                raise ImproperlyConfigured(
                    f"tool {tool.name!r} takes the run context, which cannot be sent to the "
                    "tool process pool: make it async, or pass isolated=False"
                )
        global _generation
        _registry[tool.name] = tool
        _origins[tool.name] = origin
        if isolated and not inspect.iscoroutinefunction(func):
            _pooled.add(tool.name)
        else:
            _pooled.discard(tool.name)
        _generation += 1
        return func

    return register(func) if func is not None else register


def _takes_run_context(func: Callable[..., Any]) -> bool:
    params = list(inspect.signature(func).parameters.values())
    if not params:
        return False
    try:
        hint = typing.get_type_hints(func).get(params[0].name)
    except (NameError, TypeError):  # the SDK reports unresolvable hints itself
        return False
    origin = typing.get_origin(hint) or hint
    return isinstance(origin, type) and issubclass(origin, RunContextWrapper)


def registered_tools() -> dict[str, FunctionTool]:
    """Every registered tool by name (a copy), in registration order."""
    return dict(_registry)


def uses_tool_pool(tools: Iterable[Tool]) -> bool:
    """Whether any of ``tools`` runs in the tool process pool."""
    return any(tool.name in _pooled for tool in tools)


def registry_generation() -> int:
    return _generation


def unregister_tool(name: str) -> None:
    """Forget a tool (tests that register their own)."""
    global _generation
    _registry.pop(name, None)
    _origins.pop(name, None)
    _pooled.discard(name)
    _generation += 1


# --------------------------------------------------------------------------
# Date and time
# --------------------------------------------------------------------------


@chat_tool(isolated=False)  # a time zone lookup: bounded work, no worker process needed
def current_time(timezone: str = "UTC") -> str:
    """Return the current date and time in an IANA time zone.

    Args:
        timezone: An IANA time zone name such as "UTC", "Europe/Paris" or "America/New_York".
    """
    try:
        zone = ZoneInfo(timezone.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ToolInputError(f"unknown time zone {timezone[:64]!r}; use an IANA name") from None
    now = datetime.now(zone)
    return f"{now:%A %Y-%m-%d %H:%M:%S} {now.tzname()} (UTC{now:%z}, {zone.key})"


# --------------------------------------------------------------------------
# Arithmetic: an ast walk over a tiny grammar; no eval, bounded work
# --------------------------------------------------------------------------
# Every operand is a finite float or an int of at most MAX_INT_BITS, and each
# operation is refused *before* it runs when its result could be larger: one
# CPython big-int operation is a single C call that holds the GIL however long
# it takes (``round(1, -10**9)`` computes 10**(10**9)).

MAX_EXPRESSION_CHARS = 200
MAX_NODES = 100
MAX_EXPONENT = 1_000
MAX_INT_BITS = 4_096
MAX_ROUND_DIGITS = 1_000

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}


def _round(number: Any, digits: Any = None) -> Any:
    if digits is None:
        return round(number)
    if not isinstance(digits, int):
        raise ToolInputError("round's digits must be a whole number")
    if abs(digits) > MAX_ROUND_DIGITS:
        raise ToolInputError(
            f"round's digits must be between -{MAX_ROUND_DIGITS} and {MAX_ROUND_DIGITS}"
        )
    return round(number, digits)


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs,
    "round": _round,
    "min": min,
    "max": max,
    "sqrt": math.sqrt,
    "exp": math.exp,
    "log": math.log,
    "log10": math.log10,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
}
_CONSTANTS = {"pi": math.pi, "e": math.e, "tau": math.tau}
_TOO_LARGE = f"result too large (integers are limited to {MAX_INT_BITS} bits)"


def _check_size(value: Any) -> Any:
    if isinstance(value, complex):
        raise ToolInputError("result is not a real number")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise ToolInputError(_TOO_LARGE)
    if isinstance(value, float) and not math.isfinite(value):
        raise ToolInputError("result is not a finite number")
    return value


def _int_bits(value: Any) -> int:
    return value.bit_length() if isinstance(value, int) else 0


def _check_operands(op: ast.operator, left: Any, right: Any) -> None:
    """Refuse an integer operation whose result could pass MAX_INT_BITS, unrun."""
    if isinstance(op, ast.Pow):
        if abs(right) > MAX_EXPONENT:
            raise ToolInputError(f"exponent larger than {MAX_EXPONENT}")
        if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
            if right * math.log2(abs(left)) > MAX_INT_BITS:
                raise ToolInputError(_TOO_LARGE)
    elif isinstance(op, ast.Mult) and _int_bits(left) + _int_bits(right) > MAX_INT_BITS + 1:
        raise ToolInputError(_TOO_LARGE)


def _evaluate(node: ast.AST) -> Any:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return _check_size(node.value)
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        _check_operands(node.op, left, right)
        return _check_size(_BINARY[type(node.op)](left, right))
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and not node.keywords
    ):
        args = [_evaluate(arg) for arg in node.args]
        return _check_size(_FUNCTIONS[node.func.id](*args))
    raise ToolInputError("only numbers, + - * / // % **, parentheses and basic math functions")


def evaluate_expression(expression: str) -> int | float:
    """Evaluate arithmetic safely; raises ``ToolInputError`` on anything else."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ToolInputError(f"expression longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise ToolInputError("not a valid arithmetic expression") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise ToolInputError("expression too complex")
    try:
        return _evaluate(tree)
    except ZeroDivisionError:
        raise ToolInputError("division by zero") from None
    except (OverflowError, ValueError, TypeError) as error:
        if isinstance(error, ToolInputError):
            raise
        raise ToolInputError(
            "math error (overflow or a value outside a function's domain)"
        ) from None


# Bounded by construction (above), so it runs on a thread of the server: a
# deployment that offers only the built-in tools never starts the tool pool.
@chat_tool(isolated=False)
def calculate(expression: str) -> str:
    """Evaluate an arithmetic expression exactly, e.g. "(17.5 * 3) / 4" or "2 ** 32".

    Args:
        expression: Numbers, + - * / // % **, parentheses, pi, e, and the functions
            abs, round, min, max, sqrt, exp, log, log10, sin, cos, tan.
    """
    result = evaluate_expression(expression)
    if isinstance(result, float) and result.is_integer() and abs(result) < 2**53:
        return str(int(result))
    return repr(result) if isinstance(result, float) else str(result)


# The built-in tools (the benchmark's FastAPI peer uses the same ones).
TOOLS = [_registry["current_time"], _registry["calculate"]]
