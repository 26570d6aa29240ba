"""``manage.py seed_demo``: a demo user whose printed password works."""

from __future__ import annotations

import io
import re

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def _password(output: str) -> str:
    match = re.search(r"password: (\S+)", output)
    assert match is not None, output
    return match[1]


@pytest.mark.django_db
def test_seed_demo_creates_a_user_whose_printed_password_works():
    output = _run()
    password = _password(output)
    assert authenticate(username="demo", password=password) is not None


@pytest.mark.django_db
def test_the_demo_user_counts_as_verified(django_user_model):
    _run()
    assert django_user_model.objects.get(username="demo").email_verified


@pytest.mark.django_db
def test_if_empty_does_nothing_when_users_exist(owner, django_user_model):
    assert _run("--if-empty") == ""
    assert not django_user_model.objects.filter(username="demo").exists()


@pytest.mark.django_db
def test_existing_user_keeps_its_password_unless_reset():
    first = _password(_run())
    assert "exists" in _run()
    assert authenticate(username="demo", password=first) is not None
    second = _password(_run("--reset-password"))
    assert authenticate(username="demo", password=first) is None
    assert authenticate(username="demo", password=second) is not None
