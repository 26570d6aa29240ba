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
"""

from __future__ import annotations

import ast
import logging
import math
import operator
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar, overload
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agents import FunctionTool, RunContextWrapper, function_tool
from django.core.exceptions import ImproperlyConfigured

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
# Bumped on every change, so an agent built from older tools is not reused.
_generation = 0


@overload
def chat_tool(func: F, /) -> F: ...
@overload
def chat_tool(*, name: str | None = None) -> Callable[[F], F]: ...
def chat_tool(func: F | None = None, /, *, name: str | None = None) -> F | Callable[[F], F]:
    """Register ``func`` as a tool the agent can be given (``@chat_tool`` or
    ``@chat_tool(name="...")``); returns ``func`` unchanged."""

    def register(func: F) -> F:
        tool = function_tool(func, name_override=name, failure_error_function=tool_error_message)
        origin = f"{func.__module__}.{func.__qualname__}"
        if _origins.get(tool.name, origin) != origin:
            raise ImproperlyConfigured(
                f"two tools are named {tool.name!r}: {_origins[tool.name]} and {origin}"
            )
        global _generation
        _registry[tool.name] = tool
        _origins[tool.name] = origin
        _generation += 1
        return func

    return register(func) if func is not None else register


def registered_tools() -> dict[str, FunctionTool]:
    """Every registered tool by name (a copy), in registration order."""
    return dict(_registry)


def registry_generation() -> int:
    return _generation


def unregister_tool(name: str) -> None:
    """Forget a tool (tests that register their own)."""
    global _generation
    _registry.pop(name, None)
    _origins.pop(name, None)
    _generation += 1


# --------------------------------------------------------------------------
# Date and time
# --------------------------------------------------------------------------


@chat_tool
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

MAX_EXPRESSION_CHARS = 200
MAX_NODES = 100
MAX_EXPONENT = 1_000
MAX_INT_BITS = 4_096

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
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs,
    "round": round,
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


def _check_size(value: Any) -> Any:
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise ToolInputError("result too large")
    if isinstance(value, float) and not math.isfinite(value):
        raise ToolInputError("result is not a finite number")
    return value


def _evaluate(node: ast.AST) -> Any:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
            raise ToolInputError(f"exponent larger than {MAX_EXPONENT}")
        if isinstance(node.op, ast.Pow) and isinstance(left, int) and isinstance(right, int):
            if right > 0 and left.bit_length() * right > MAX_INT_BITS:
                raise ToolInputError("result too large")
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
    except (SyntaxError, ValueError):
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


@chat_tool
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
