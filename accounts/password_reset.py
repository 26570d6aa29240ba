"""Password reset by email: Django's ``PasswordResetTokenGenerator`` makes the link.

The token is an HMAC (``SECRET_KEY``) over the user's id, password hash, last
login, email and a timestamp, so it expires (``PASSWORD_RESET_TIMEOUT``) and
stops working once the password has changed: it works once. Confirming runs
under a lock of the user row, so two confirmations of one link cannot both
succeed. A reset ends every session of the user (``user_password_change``).

The request answers the same for every address, and throttles count every
request (per IP, per address), so neither the answer nor the limits tell
whether an address has an account.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.http import HttpRequest
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode

from accounts import emails, services, throttles
from accounts.models import User
from chatproject.errors import ApiError

audit = logging.getLogger("accounts.audit")

RESET_PATH = "/reset-password"


def reset_token_invalid() -> ApiError:
    return ApiError(
        400, "reset_token_invalid", "This reset link is invalid, already used or expired."
    )


def throttle(*, name: str, ident: str) -> None:
    """Count this request against ``name`` for ``ident``; 429 when over the limit."""
    wait = throttles.retry_after(name, ident)
    if wait is not None:
        raise throttles.throttled(wait)
    throttles.hit(name, ident)


def user_from_uid(uid: str) -> User | None:
    try:
        pk = int(force_str(urlsafe_base64_decode(uid)))
    except (ValueError, TypeError, OverflowError, UnicodeDecodeError):
        return None
    return User.objects.filter(pk=pk).first()


def _message(*, user: User, origin: str) -> EmailMessage:
    token = default_token_generator.make_token(user)
    url = emails.link(origin, RESET_PATH, {"uid": emails.uid_of(user.pk), "token": token})
    return emails.render(
        "password_reset",
        {"username": user.get_username(), "link": url, "minutes": link_minutes()},
        to=user.email,
    )


def link_minutes() -> int:
    """How long the links in account emails live, for the email's text."""
    return max(1, settings.PASSWORD_RESET_TIMEOUT // 60)


def password_reset_request(*, email: str, ip: str, request: HttpRequest) -> None:
    """Email a reset link to every active account with this address (none: nothing).
    Accounts without a usable password (``set_unusable_password``) get none."""
    origin = emails.frontend_origin(request)
    throttle(name="password_reset_ip", ident=ip)
    throttle(name="password_reset_email", ident=email.casefold())
    users = [
        user
        for user in User.objects.filter(email__iexact=email, is_active=True).order_by("pk")
        if user.has_usable_password()
    ]
    if not users:
        # The same work as for a known address, minus the hand-off to the pool.
        _message(user=User(username="nobody", email=email), origin=origin)
        audit.info("password reset requested for no account ip=%s", ip)
        return
    for user in users:
        emails.send_later(_message(user=user, origin=origin), label=f"reset user_id={user.pk}")
        audit.info("password reset requested user_id=%s ip=%s", user.pk, ip)


def password_reset_confirm(*, uid: str, token: str, new_password: str, ip: str) -> User:
    """Set a new password from a reset link; 400 ``reset_token_invalid`` for a bad,
    used or expired link, 400 ``invalid`` when the password fails the validators."""
    throttle(name="email_link_ip", ident=ip)
    user = user_from_uid(uid)
    if user is None or not user.is_active or not default_token_generator.check_token(user, token):
        raise reset_token_invalid()
    try:
        validate_password(new_password, user=user)
    except DjangoValidationError as error:
        raise ApiError(
            400, "invalid", "Invalid input.", errors={"new_password": list(error.messages)}
        ) from None
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        # Again under the lock: a concurrent confirmation may have used the link.
        if not default_token_generator.check_token(locked, token):
            raise reset_token_invalid()
        services.user_password_change(user=locked, password=new_password)
    audit.info("password reset user_id=%s ip=%s: every session ended", user.pk, ip)
    return locked
