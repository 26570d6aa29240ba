"""Limits from the environment: bad values stop start-up with one line."""

from __future__ import annotations

import pytest

from tests.test_settings import _manage


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("CHAT_DAILY_TOKENS", "-1", "an integer >= 0"),
        ("CHAT_DAILY_TOKENS", "1e6", "an integer"),
        ("CHAT_CONCURRENT_TURNS", "0", "an integer >= 1"),
        ("CHAT_CONCURRENT_TURNS", "three", "an integer"),
        ("CHAT_TURNS_PER_MINUTE", "-20", "an integer >= 1"),
        ("CHAT_HISTORY_MAX_TOKENS", "-1", "an integer >= 0"),
        ("CHAT_MAX_OUTPUT_TOKENS", "4k", "an integer"),
        ("CHAT_TURN_LEASE_SECONDS", "0", "an integer >= 1"),
    ],
)
def test_a_bad_limit_stops_startup_with_one_line(variable, value, expected):
    result = _manage("check", DJANGO_DEBUG="1", **{variable: value})
    assert result.returncode == 2
    assert result.stderr.strip() == f"configuration error: {variable}: expected {expected}"


def test_good_limits_start(settings):
    result = _manage(
        "check",
        DJANGO_DEBUG="1",
        CHAT_DAILY_TOKENS="0",
        CHAT_CONCURRENT_TURNS="1",
        CHAT_HISTORY_MAX_TOKENS="0",
        CHAT_MAX_OUTPUT_TOKENS="0",
    )
    assert result.returncode == 0, result.stderr
    # The documented defaults.
    assert (
        settings.CHAT_CONCURRENT_TURNS,
        settings.CHAT_TURNS_PER_MINUTE,
        settings.CHAT_DAILY_TOKENS,
        settings.CHAT_HISTORY_MAX_TOKENS,
        settings.CHAT_MAX_OUTPUT_TOKENS,
        settings.CHAT_TURN_LEASE_SECONDS,
    ) == (3, 20, 1_000_000, 16_000, 4096, 60)
