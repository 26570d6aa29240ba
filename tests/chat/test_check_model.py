"""``manage.py check_model`` against the loopback fake OpenAI server: one outcome per test,
said in plain words, exit status 0 (answered, or the offline demo) or 1."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.test import override_settings

from tests.fake_openai import (
    closed_port_url,
    http_error,
    rate_limited,
    server_error,
    stall,
    text,
    unauthorized,
)

pytestmark = pytest.mark.django_db

MODEL = "gpt-fake-check"


def model_settings(base_url: str | None, *, api_key: str | None = "sk-check", **extra):
    values = {
        "OPENAI_API_KEY": api_key,
        "OPENAI_BASE_URL": base_url,
        "OPENAI_MODEL": MODEL,
        "CHAT_MODEL_API": "chat_completions" if base_url else "responses",
        "CHAT_UPSTREAM_TIMEOUT_SECONDS": 5,
        "CHAT_UPSTREAM_MAX_RETRIES": 2,  # the check itself never retries
    }
    values.update(extra)
    return override_settings(**values)


def run_check(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("check_model", *args, stdout=out)
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue()
    return 0, out.getvalue()


def test_offline_demo_says_how_to_connect_a_real_model():
    with model_settings(None, api_key=None):
        status, out = run_check()
    assert status == 0
    assert "Offline demo model" in out
    assert "OPENAI_API_KEY" in out and "OPENAI_BASE_URL" in out
    assert "http://localhost:11434/v1" in out  # Ollama's base URL, ready to copy


@pytest.mark.parametrize("api", ["chat_completions", "responses"])
def test_ok_reports_latency_and_the_reply(fake, api):
    fake.push(text("OK, ready when you are."))
    with model_settings(fake.base_url, CHAT_MODEL_API=api):
        status, out = run_check()
    assert status == 0, out
    assert f"Model: {MODEL}" in out and fake.base_url in out
    assert f"OK: {MODEL} answered in " in out and " ms" in out
    assert '"OK, ready when you are."' in out
    (request,) = fake.model_requests
    assert request.body["model"] == MODEL
    assert request.path.endswith("/chat/completions" if api == "chat_completions" else "/responses")
    assert request.headers["authorization"] == "Bearer sk-check"


def test_long_replies_are_cut_to_a_snippet(fake):
    fake.push(text("word " * 100))
    with model_settings(fake.base_url):
        status, out = run_check()
    assert status == 0
    snippet = out.split('"')[1]
    assert len(snippet) <= 80 and snippet.endswith("…")


def test_key_missing_for_openai_fails_without_sending(fake):
    with model_settings("https://api.openai.com/v1", api_key=None):
        status, out = run_check()
    assert status == 1
    assert "FAILED: OPENAI_API_KEY is missing" in out
    assert fake.model_requests == []


def test_unreachable_base_url():
    url = closed_port_url()
    with model_settings(url):
        status, out = run_check()
    assert status == 1
    assert f"FAILED: cannot reach {url}" in out
    assert "OPENAI_BASE_URL" in out


def test_auth_refused(fake):
    fake.push(unauthorized())
    with model_settings(fake.base_url, api_key="sk-wrong"):
        status, out = run_check()
    assert status == 1
    assert "FAILED: authentication refused (401)" in out
    assert "OPENAI_API_KEY" in out
    assert "Incorrect API key provided" in out  # what the server said


def test_auth_refused_without_a_key_asks_for_one(fake):
    fake.push(unauthorized())
    with model_settings(fake.base_url, api_key=None):
        status, out = run_check()
    assert status == 1
    assert "refused the request (401): it wants an API key. Set OPENAI_API_KEY." in out


def test_unknown_model_name_lists_the_served_models(fake):
    fake.push(http_error(404))  # OpenAI's model_not_found body
    with model_settings(fake.base_url):
        status, out = run_check()
    assert status == 1
    assert f"FAILED: model name unknown: {MODEL!r}" in out
    assert "Models it lists:" in out and "gpt-fake" in out
    assert "Set OPENAI_MODEL" in out


def test_model_not_found_code_on_a_400(fake):
    fake.push(http_error(400, "no such model", code="model_not_found"))
    with model_settings(fake.base_url):
        status, out = run_check()
    assert status == 1
    assert "model name unknown" in out


def test_rate_limited_is_reported_once_without_retrying(fake):
    fake.push(rate_limited(retry_after=3))
    with model_settings(fake.base_url):
        status, out = run_check()
    assert status == 1
    assert "FAILED: rate limited (429) (the server asks to wait 3 s)" in out
    assert len(fake.model_requests) == 1


def test_out_of_quota(fake):
    fake.push(http_error(429, "You exceeded your current quota.", code="insufficient_quota"))
    with model_settings(fake.base_url):
        status, out = run_check()
    assert status == 1
    assert "out of quota" in out


def test_server_error(fake):
    fake.push(server_error(503))
    with model_settings(fake.base_url):
        status, out = run_check()
    assert status == 1
    assert "FAILED: the server failed (503)" in out


def test_timeout(fake):
    fake.push(stall(3))
    with model_settings(fake.base_url):
        status, out = run_check("--timeout", "0.3")
    assert status == 1
    assert "FAILED: no answer from" in out and "within 0.3 s" in out
