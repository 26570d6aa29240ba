"""Log formatters: plain lines that a client cannot forge, and JSON lines.

``PlainFormatter`` (the default, ``LOG_FORMAT=plain``) escapes control
characters in every record's message. Paths, and anything else a client
sends, arrive percent-decoded: ``/x%0D%0A2026-01-01 ... INFO ...`` would
otherwise write a second, forged line, and ``%1B[...`` would drive the
terminal of whoever tails the log. A traceback keeps its newlines, with
every line of it indented, so that no line of it can pass for a record.

``JsonFormatter`` (``LOG_FORMAT=json``) writes one object per line, for log
shippers; JSON escapes control characters by itself.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

# C0 controls, DEL, C1 controls (U+0085 is a newline to some readers) and the
# Unicode line and paragraph separators.
_ESCAPES = {code: f"\\x{code:02x}" for code in [*range(0x20), 0x7F, *range(0x80, 0xA0)]}
_ESCAPES.update({ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"})
_ESCAPES.update({0x2028: "\\u2028", 0x2029: "\\u2029"})


def escape_control_characters(text: str) -> str:
    return text.translate(_ESCAPES)


def _continuation(text: str) -> str:
    """A traceback's lines, each escaped and indented: none can pass for a record."""
    return "\n".join("  " + escape_control_characters(line) for line in text.split("\n"))


class PlainFormatter(logging.Formatter):
    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape_control_characters(record.message)
        return super().formatMessage(record)

    # An exception's text can carry client input too (a message quoting it).
    def formatException(self, ei: Any) -> str:
        return _continuation(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return _continuation(super().formatStack(stack_info))


# Attributes every LogRecord has; anything else was passed through ``extra=``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)
