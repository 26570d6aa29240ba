"""Schemathesis drives every documented operation against a live server.

It generates requests from ``/api/schema`` (examples, boundary values, fuzzed
bodies, and stateful sequences that follow links: create a key, then delete it)
and checks each answer: no 5xx, only documented status codes and content types,
every JSON body and every Server-Sent Event valid against the schema.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import httpx
import pytest

from tests.conftest import ROOT

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)


@pytest.mark.live
def test_every_documented_operation_conforms_to_the_schema(server_factory, transactional_db):
    server = server_factory(
        ALLOW_SIGNUP="1",
        # The offline demo model, without its typing pauses: many streams to read.
        OPENAI_API_KEY="",
        OPENAI_BASE_URL="",
        CHAT_DEMO_TOKEN_MS="0",
        LOG_LEVEL="WARNING",
    )
    username, password = f"st-{uuid.uuid4().hex[:8]}", "schemathesis-pass-" + uuid.uuid4().hex
    httpx.post(
        f"{server.url}/api/auth/register", json={"username": username, "password": password}
    ).raise_for_status()
    login = httpx.post(
        f"{server.url}/api/auth/token", json={"username": username, "password": password}
    )
    access = login.json()["access"]

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            f"{server.url}/api/schema",
            "--checks",
            CHECKS,
            "--max-examples",
            "25",
            "--seed",
            "20261128",
            "--header",
            f"Authorization: Bearer {access}",
            "--no-color",
        ],
        cwd=ROOT,
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert " passed" in output  # it ran operations, not nothing
