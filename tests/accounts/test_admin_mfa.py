"""The admin login: staff with TOTP give a code; ADMIN_REQUIRE_MFA=1 refuses staff
without TOTP; wrong codes are refused once and count against the login limits."""

from __future__ import annotations

import time

import pyotp
import pytest
from django.test import Client

from accounts import mfa
from accounts.models import TotpDevice
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(
        username="boss", email="boss@example.com", password=PASSWORD, is_staff=True,
        is_superuser=True,
    )  # fmt: skip


def with_totp(user) -> tuple[str, list[str]]:
    setup = mfa.totp_begin(user=user, current_password=PASSWORD, ip="127.0.0.1")
    codes = mfa.totp_confirm(user=user, code=pyotp.TOTP(setup.secret).now(), ip="127.0.0.1")
    return setup.secret, codes


def next_code(secret: str) -> str:
    """The confirming code used the current step; the next step is still in the window."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def admin_login(client: Client, code: str | None = None, password: str = PASSWORD):
    data = {"username": "boss", "password": password}
    if code is not None:
        data["otp_code"] = code
    return client.post(LOGIN, data)


def logged_in(client: Client) -> bool:
    return client.get("/admin/").status_code == 200


def test_the_login_page_asks_for_a_code(client):
    page = client.get(LOGIN).content.decode()
    assert 'name="otp_code"' in page
    assert 'autocomplete="one-time-code"' in page


def test_staff_without_totp_log_in_with_a_password(client, staff):
    response = admin_login(client)
    assert response.status_code == 302
    assert logged_in(client)


def test_staff_with_totp_need_their_code(client, staff):
    secret, _ = with_totp(staff)

    without = admin_login(client)
    assert without.status_code == 200
    assert "Enter the code from your authenticator app." in without.content.decode()
    assert not logged_in(client)

    assert admin_login(client, next_code(secret)).status_code == 302
    assert logged_in(client)


def test_a_code_works_once_at_the_admin_too(client, staff):
    secret, _ = with_totp(staff)
    code = next_code(secret)
    assert admin_login(Client(), code).status_code == 302

    replayed = admin_login(client, code)

    assert replayed.status_code == 200
    assert "Wrong or already used code." in replayed.content.decode()
    assert not logged_in(client)


def test_a_recovery_code_logs_in_to_the_admin(client, staff):
    _, codes = with_totp(staff)
    assert admin_login(client, codes[0]).status_code == 302
    assert logged_in(client)


def test_admin_require_mfa_refuses_staff_without_totp(client, staff, settings):
    settings.ADMIN_REQUIRE_MFA = True

    response = admin_login(client)

    assert response.status_code == 200
    assert "The admin requires two-factor authentication" in response.content.decode()
    assert not logged_in(client)
    secret, _ = with_totp(staff)
    assert admin_login(client, next_code(secret)).status_code == 302


def test_wrong_codes_and_passwords_are_throttled(client, staff):
    with_totp(staff)
    for _ in range(3):
        admin_login(client, "000000x")
    for _ in range(2):
        admin_login(client, password="wrong")

    throttled = admin_login(client, password="wrong")

    assert "Too many attempts" in throttled.content.decode()
    assert TotpDevice.objects.get(user=staff).confirmed_at is not None


def test_an_administrator_turns_two_factor_off_for_a_user(admin_client, owner, caplog):
    import logging

    from django.urls import reverse

    from accounts.models import RecoveryCode

    caplog.set_level(logging.INFO, logger="accounts.audit")
    with_totp(owner)
    device = TotpDevice.objects.get(user=owner)
    listing = admin_client.get(reverse("admin:accounts_totpdevice_changelist"))
    assert listing.status_code == 200
    assert device.secret not in listing.content.decode()
    change = admin_client.get(reverse("admin:accounts_totpdevice_change", args=[device.pk]))
    assert device.secret not in change.content.decode()

    response = admin_client.post(
        reverse("admin:accounts_totpdevice_changelist"),
        {"action": "turn_off", "_selected_action": [device.pk]},
    )

    assert response.status_code == 302
    assert not TotpDevice.objects.filter(user=owner).exists()
    assert not RecoveryCode.objects.filter(user=owner).exists()
    text = "\n".join(r.getMessage() for r in caplog.records if r.name == "accounts.audit")
    assert f"mfa disabled by an administrator user_id={owner.pk}" in text


def test_the_user_page_shows_the_verified_address(admin_client, owner):
    from django.urls import reverse

    page = admin_client.get(reverse("admin:accounts_user_change", args=[owner.pk]))
    assert page.status_code == 200
    assert 'name="verified_email"' in page.content.decode()
