"""POST /api/auth/register."""

from __future__ import annotations

import pytest

from accounts.models import User
from tests.accounts.conftest import login, post_json

pytestmark = pytest.mark.django_db

GOOD_PASSWORD = "a-long-enough-password-1"


def register(client, **body):
    return post_json(client, "/api/auth/register", body)


def test_register_creates_a_user_who_can_then_log_in(client):
    response = register(client, username="newbie", password=GOOD_PASSWORD, email="n@example.com")

    assert response.status_code == 201
    user = User.objects.get(username="newbie")
    assert response.json() == {"id": user.pk, "username": "newbie", "email": "n@example.com"}
    assert user.check_password(GOOD_PASSWORD) and not user.is_staff
    assert login(client, "newbie", GOOD_PASSWORD).status_code == 200


def test_email_is_optional(client):
    assert register(client, username="noemail", password=GOOD_PASSWORD).status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "newbie", "password": "short"}, "password"),
        ({"username": "newbie", "password": "password123"}, "password"),
        ({"username": "newbie", "password": "newbie12"}, "password"),
        ({"username": "bad name!", "password": GOOD_PASSWORD}, "username"),
        ({"username": "Owner", "password": GOOD_PASSWORD}, "username"),
        ({"username": "newbie", "password": GOOD_PASSWORD, "email": "not-an-email"}, "email"),
        ({"password": GOOD_PASSWORD}, "username"),
        ({"username": "newbie"}, "password"),
    ],
)
def test_invalid_registration_is_400_per_field_and_creates_nobody(client, owner, body, field):
    response = register(client, **body)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["errors"]
    assert User.objects.count() == 1


def test_register_is_403_when_signup_is_off(client, settings):
    settings.ALLOW_SIGNUP = False
    response = register(client, username="newbie", password=GOOD_PASSWORD)
    assert response.status_code == 403
    assert response.json()["code"] == "signup_disabled"
    assert not User.objects.exists()
