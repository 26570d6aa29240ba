"""Your tools. Each is one function decorated with ``@chat_tool``; nothing else to wire.

This module is imported at start-up (``ChatConfig.ready``), which registers every
tool in it. ``CHAT_TOOLS`` (or the admin's assistant profile) decides which
registered tools the agent is given: by default, all of them.

The signature (with type hints) and the docstring's ``Args:`` become the schema
the model sees, so write them for the model. Keep a tool's work bounded: the
model chooses its arguments. Raise ``ToolInputError`` with a message the model
may read; any other exception reaches the model as a generic failure.
A plain ``def`` tool runs in a worker process (so it must stay a module-level
function), stopped at ``CHAT_TOOL_TIMEOUT_SECONDS``; ``@chat_tool(isolated=False)``
keeps one whose work is small and bounded on a thread of the server instead, as
``word_count`` does, so no worker process has to start. An ``async def`` tool runs
on the server's event loop under the same limit: use one for network calls,
never for computing (docs/customising.md, "Where a tool runs").

``word_count`` is a working example (models are unreliable at counting words);
replace it with your own. Its test is ``tests/chat/test_custom_tools.py``.
"""

from __future__ import annotations

from chat.tools import ToolInputError, chat_tool

MAX_TEXT_CHARS = 100_000


# Linear in a text of bounded length: it stays on a thread of the server
# (a plain ``@chat_tool`` would run it in the tool process pool).
@chat_tool(isolated=False)
def word_count(text: str) -> str:
    """Count the words and characters in a piece of text exactly.

    Args:
        text: The text to count, verbatim.
    """
    if len(text) > MAX_TEXT_CHARS:
        raise ToolInputError(f"text longer than {MAX_TEXT_CHARS:,} characters")
    return f"{len(text.split())} words, {len(text)} characters"
