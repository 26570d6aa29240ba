"""Tools cannot hurt the process: ``calculate``'s bounds, and the time limit every
tool call runs under (sync tools in the worker processes of ``chat.tool_pool``)."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from agents.tool_context import ToolContext
from django.core.exceptions import ImproperlyConfigured

from chat.tools import (
    ToolInputError,
    calculate,
    chat_tool,
    evaluate_expression,
    registered_tools,
    unregister_tool,
    uses_tool_pool,
)
from tests.chat.conftest import LIVE_ENV, chat
from tests.chat.hostile_tools import (
    hold_the_gil,
    note_pid_then_hold,
    refuse_in_worker,
    wants_the_context,
    worker_pid,
)
from tests.conftest import ServerProcess, bearer
from tests.fake_openai import FakeOpenAI, text, tool_call

# --------------------------------------------------------------------------
# calculate: every argument and intermediate is bounded before it is computed
# --------------------------------------------------------------------------

# 2 ** 4095, the largest power of two allowed (4,096 bits), within the exponent limit.
BIGGEST = "2**1000 * 2**1000 * 2**1000 * 2**1000 * 2**95"


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        # round(int, -n) computes 10**n in one C call that holds the GIL.
        ("round(1, -999999999)", "digits"),
        ("round(1, -10**7)", "digits"),
        ("round(7, -(9**9))", "digits"),
        ("round(2**1000, -5000)", "digits"),
        ("round(1.5, 10**9)", "digits"),
        ("round(1, 0.5)", "whole number"),
        # Powers: the exponent and the size of the result, before computing.
        ("9 ** 9 ** 9", "exponent larger"),
        ("(2 ** 1000) ** 5", "too large"),
        ("(-8) ** 0.5", "not a real number"),
        # Big integers: products and sums of the largest allowed ones.
        (f"({BIGGEST}) * ({BIGGEST})", "too large"),
        (f"{BIGGEST} + {BIGGEST}", "too large"),
        ("2**1000 * 2**1000 / 3", "math error"),
        # Constants that are not finite numbers.
        ("1e999", "not a finite number"),
        ("-1e999 * 0", "not a finite number"),
        # Deep nesting and long input.
        ("-" * 150 + "1", "too complex"),
        ("abs(" * 35 + "1" + ")" * 35, "too complex"),
        ("1" * 100_000, "longer than"),
    ],
    ids=lambda value: value if len(value) < 40 else f"{value[:20]}...({len(value)} chars)",
)
def test_calculate_refuses_hostile_expressions_without_computing_them(expression, message):
    with pytest.raises(ToolInputError, match=message):
        evaluate_expression(expression)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("round(123456, -3)", 123000),
        ("round(2**100, -20)", round(2**100, -20)),
        ("round(pi, 10)", 3.1415926536),
        (BIGGEST, 2**4095),
        (f"({BIGGEST}) - 1 + 1", 2**4095),
        ("2 ** 1000 * 2 ** 1000", 2**2000),
    ],
    ids=["round-ints", "round-big-int", "round-float", "biggest", "biggest-sum", "product"],
)
def test_calculate_still_does_big_exact_arithmetic_within_the_bounds(expression, expected):
    assert evaluate_expression(expression) == expected


def test_calculate_answers_the_largest_allowed_integer_in_full():
    assert calculate(BIGGEST) == str(2**4095)


# --------------------------------------------------------------------------
# The time limit, and sync tools in worker processes (in this process)
# --------------------------------------------------------------------------


@pytest.fixture
def register():
    """Register module-level tools for one test; forgotten afterwards."""
    names: list[str] = []

    def add(func, **options):
        chat_tool(**options)(func)
        names.append(func.__name__)
        return registered_tools()[func.__name__]

    yield add
    for name in names:
        unregister_tool(name)


async def invoke(tool, arguments: dict) -> str:
    context = ToolContext(
        context=None, tool_name=tool.name, tool_call_id="call_test", tool_arguments="{}"
    )
    return await tool.on_invoke_tool(context, json.dumps(arguments))


async def eventually(condition, seconds: float = 30) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the condition did not become true")


async def test_a_sync_tool_runs_in_another_process(register):
    tool = register(worker_pid)
    assert await invoke(tool, {}) != str(os.getpid())


async def test_an_error_raised_in_the_worker_reaches_the_model_as_the_tool_result(register):
    tool = register(refuse_in_worker)
    result = await invoke(tool, {"reason": "no"})
    assert result.startswith("Error: no (in process ")
    assert result != f"Error: no (in process {os.getpid()})"


def test_the_built_in_tools_are_bounded_so_they_stay_off_the_pool(register):
    # The pool's workers cost memory and start-up CPU: only a tool that needs
    # them starts them (when the agent is built, see chat.agent).
    built_in = [registered_tools()[name] for name in ("calculate", "current_time", "word_count")]
    assert not uses_tool_pool(built_in)
    assert uses_tool_pool([*built_in, register(worker_pid)])
    assert not uses_tool_pool([register(hold_the_gil, isolated=False)])


async def test_a_built_in_tools_error_reaches_the_model_as_its_result():
    tool = registered_tools()["calculate"]
    assert await invoke(tool, {"expression": "1/0"}) == "Error: division by zero"
    assert await invoke(tool, {"expression": "round(1, -999999999)"}) == (
        "Error: round's digits must be between -1000 and 1000"
    )


async def test_a_tool_holding_the_gil_is_stopped_at_the_limit_while_the_loop_runs_on(
    register, settings
):
    settings.CHAT_TOOL_TIMEOUT_SECONDS = 1
    tool = register(hold_the_gil)
    await invoke(register(worker_pid), {})  # the workers are up: only the call is measured
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        output = await invoke(tool, {"seconds": 30})
    finally:
        ticker.cancel()
    assert output == "Error: the tool did not finish within 1 seconds and was stopped"
    # The event loop kept running while the tool held its (worker's) GIL.
    assert ticks >= 20
    # A worker replaced the stopped one.
    assert await invoke(registered_tools()["calculate"], {"expression": "6 * 7"}) == "42"


async def test_a_call_whose_turn_is_cancelled_has_its_worker_stopped(register, tmp_path):
    tool = register(note_pid_then_hold)
    pid_file = tmp_path / "pid"
    call = asyncio.create_task(invoke(tool, {"path": str(pid_file), "seconds": 60}))
    await eventually(lambda: pid_file.exists() and pid_file.read_text())
    pid = int(pid_file.read_text())
    call.cancel()  # what a client leaving mid-stream does to the turn
    with pytest.raises(asyncio.CancelledError):
        await call

    def alive() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

    await eventually(lambda: not alive())  # the pool's manager stops it (SIGTERM, SIGKILL)
    assert await invoke(registered_tools()["calculate"], {"expression": "1 + 1"}) == "2"


async def test_an_async_tool_is_stopped_at_the_limit(register, settings):
    settings.CHAT_TOOL_TIMEOUT_SECONDS = 0.2
    tool = register(never_answers)
    assert await invoke(tool, {}) == (
        "Error: the tool did not finish within 0.2 seconds and was stopped"
    )


async def never_answers() -> str:
    """Wait forever."""
    await asyncio.sleep(3600)
    return "never"


def test_a_pooled_tool_must_be_a_module_level_function():
    def local_tool() -> str:
        """A closure a worker process cannot import."""
        return "x"

    with pytest.raises(ImproperlyConfigured, match="module-level function"):
        chat_tool(local_tool)
    assert "local_tool" not in registered_tools()


def test_a_pooled_tool_cannot_take_the_run_context(register):
    with pytest.raises(ImproperlyConfigured, match="takes the run context"):
        chat_tool(wants_the_context)
    assert "wants_the_context" not in registered_tools()
    assert register(wants_the_context, isolated=False).name == "wants_the_context"


def test_a_sync_tool_left_on_a_thread_may_be_local(register):
    def local_tool() -> str:
        """Runs on a thread of the server (isolated=False)."""
        return "x"

    assert register(local_tool, isolated=False).name == "local_tool"


# --------------------------------------------------------------------------
# A real server: /healthz answers while a tool computes
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def _tool_server(server_factory, _fake_upstream: FakeOpenAI) -> ServerProcess:
    return server_factory(
        OPENAI_BASE_URL=_fake_upstream.base_url,
        CHAT_MODEL_API="chat_completions",
        CHAT_TOOL_TIMEOUT_SECONDS="2",
        DJANGO_SETTINGS_MODULE="tests.chat.tool_settings",
        **LIVE_ENV,
    )


@pytest.fixture
def tool_server(_tool_server, fake, transactional_db) -> ServerProcess:
    assert _tool_server.process.poll() is None, _tool_server.log()
    return _tool_server


@dataclass
class Probes:
    """``GET /healthz`` in a loop on a thread: (sent, answered, ok) per probe."""

    url: str
    results: list[tuple[float, float, bool]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self._stop.is_set():
                sent = time.monotonic()
                try:
                    ok = client.get(f"{self.url}/healthz").status_code == 200
                except httpx.HTTPError:
                    ok = False
                self.results.append((sent, time.monotonic(), ok))
                time.sleep(0.02)

    def answered_between(self, start: float, end: float) -> int:
        return sum(1 for sent, got, ok in self.results if ok and sent >= start and got <= end)

    @property
    def failed(self) -> int:
        return sum(1 for *_, ok in self.results if not ok)


@pytest.fixture
def probes(tool_server) -> Iterator[Probes]:
    probes = Probes(tool_server.url)
    thread = threading.Thread(target=probes.run, daemon=True)
    thread.start()
    yield probes
    probes._stop.set()
    thread.join(10)


def test_a_hostile_calculate_from_the_model_gets_an_error_and_the_stream_goes_on(
    tool_server, fake, owner, probes
):
    fake.push(
        tool_call("calculate", {"expression": "round(1, -999999999)"}),
        text("That number is too large to compute."),
    )
    stream = chat(tool_server, bearer(owner), "What is round(1, -999999999)?")

    assert stream.status == 200
    assert [e["output"] for e in stream.of_type("tool_result")] == [
        "Error: round's digits must be between -1000 and 1000"
    ]
    assert stream.text == "That number is too large to compute."
    assert stream.done
    # The model got the error as the tool's output.
    assert "round's digits" in fake.model_requests[1].messages[-1]["content"]
    assert probes.failed == 0


def test_healthz_answers_while_a_tool_holds_the_gil_until_it_is_stopped(
    tool_server, fake, owner, probes
):
    fake.push(tool_call("hold_the_gil", {"seconds": 30}), text("The tool was stopped."))
    stream = chat(tool_server, bearer(owner), "Hold the GIL for 30 seconds", timeout=60)

    assert [e["output"] for e in stream.of_type("tool_result")] == [
        "Error: the tool did not finish within 2 seconds and was stopped"
    ]
    assert stream.text == "The tool was stopped."
    assert stream.done
    # The tool ran between the model's two requests; the server answered all along.
    first, second = fake.model_requests
    assert first.finished_at is not None
    assert probes.answered_between(first.finished_at, second.received_at) >= 10
    assert probes.failed == 0

    # The stopped worker was replaced: the next call computes.
    fake.push(tool_call("calculate", {"expression": "6 * 7"}), text("42."))
    stream = chat(tool_server, bearer(owner), "6 * 7?")
    assert [e["output"] for e in stream.of_type("tool_result")] == ["42"]
