"""Tools that misbehave on purpose, for the tool time-limit tests.

They are plain functions here (importing this module registers nothing): a test
registers the one it needs with ``chat_tool``, and the live server started with
``tests.chat.tool_settings`` registers them all at start-up (``HostileToolsConfig``).
A worker process of the tool pool finds them by module and name, like any tool.
"""

from __future__ import annotations

import ctypes
import os
from typing import Any

from agents import RunContextWrapper
from django.apps import AppConfig


def hold_the_gil(seconds: int) -> str:
    """Sleep inside one C call that keeps the GIL (what a runaway C extension does).

    Args:
        seconds: How long to hold it.
    """
    # PyDLL, unlike CDLL, does not release the GIL around the call.
    ctypes.PyDLL(None).sleep(seconds)
    return "held the GIL and returned"


def note_pid_then_hold(path: str, seconds: int) -> str:
    """Write this process's id to a file, then hold the GIL.

    Args:
        path: The file to write.
        seconds: How long to hold it.
    """
    with open(path, "w") as file:
        file.write(str(os.getpid()))
    return hold_the_gil(seconds)


def refuse_in_worker(reason: str) -> str:
    """Raise the error the model may read, from wherever the tool runs.

    Args:
        reason: The message.
    """
    from chat.tools import ToolInputError

    raise ToolInputError(f"{reason} (in process {os.getpid()})")


def worker_pid() -> str:
    """The process id of the process the tool runs in."""
    return str(os.getpid())


class HostileToolsConfig(AppConfig):
    name = "tests.chat.hostile_tools"
    label = "hostile_tools"

    def ready(self) -> None:
        from chat.tools import chat_tool

        chat_tool(hold_the_gil)
        chat_tool(worker_pid)


def wants_the_context(context: RunContextWrapper[Any], text: str) -> str:
    """Needs the run context, which cannot cross to a worker process.

    Args:
        text: Anything.
    """
    return text
