"""Email verification (opt-in: ``REQUIRE_EMAIL_VERIFICATION=1``).

Registration emails a link ``<FRONTEND_ORIGIN>/verify-email?uid=…&token=…``; the
SPA posts it to ``/api/auth/email/verify``. The token is Django's
``PasswordResetTokenGenerator`` with its own salt, over the user's id, address
and verified address: it stops working once the address is verified (works
once) or changed, and expires with ``PASSWORD_RESET_TIMEOUT``.

Unverified users can log in, but the chat endpoints refuse them with 403
``email_unverified``: ``chat_allowed_check`` is called where those paths resolve
their caller (``accounts.authentication.authenticate_request`` and
``authenticate_scope`` with the chat scope). With the setting off it costs
nothing; on, one indexed query per chat request.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.http import HttpRequest

from accounts import emails
from accounts.models import Scope, User
from accounts.password_reset import link_minutes, throttle, user_from_uid
from chatproject import db
from chatproject.errors import ApiError

audit = logging.getLogger("accounts.audit")

VERIFY_PATH = "/verify-email"


class EmailVerificationTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "accounts.verification.EmailVerificationTokenGenerator"

    def _make_hash_value(self, user: User, timestamp: int) -> str:
        return f"{user.pk}|{user.email}|{user.verified_email}|{timestamp}"


verification_tokens = EmailVerificationTokenGenerator()


def email_unverified() -> ApiError:
    return ApiError(
        403,
        "email_unverified",
        "Confirm your email address first: follow the link we sent (Account page to resend).",
    )


def registration_email_check(*, email: str) -> None:
    """With verification required, an account needs an address to verify."""
    if settings.REQUIRE_EMAIL_VERIFICATION and not email:
        raise ApiError(
            400,
            "invalid",
            "Invalid input.",
            errors={"email": ["An email address is required to create an account."]},
        )


def verification_send(*, user: User, request: HttpRequest) -> None:
    origin = emails.frontend_origin(request)
    token = verification_tokens.make_token(user)
    url = emails.link(origin, VERIFY_PATH, {"uid": emails.uid_of(user.pk), "token": token})
    message = emails.render(
        "verify_email",
        {
            "username": user.get_username(),
            "email": user.email,
            "link": url,
            "minutes": link_minutes(),
        },
        to=user.email,
    )
    emails.send_later(message, label=f"verification user_id={user.pk}")
    audit.info("email verification sent user_id=%s", user.pk)


def user_registered(*, user: User, request: HttpRequest) -> None:
    """After registration: email the verification link when verification is required."""
    if settings.REQUIRE_EMAIL_VERIFICATION and user.email:
        verification_send(user=user, request=request)


def verification_resend(*, user: User, request: HttpRequest) -> None:
    if not user.email:
        raise ApiError(400, "email_missing", "This account has no email address.")
    if user.email_verified:
        raise ApiError(409, "email_already_verified", "This address is already verified.")
    throttle(name="verification_resend", ident=str(user.pk))
    verification_send(user=user, request=request)


def email_verify(*, uid: str, token: str, ip: str) -> User:
    """Mark the address in the link as verified; 400 ``verification_token_invalid``
    for a bad, used or expired link."""
    throttle(name="email_link_ip", ident=ip)
    user = user_from_uid(uid)
    if user is None or not user.email or not verification_tokens.check_token(user, token):
        raise ApiError(
            400,
            "verification_token_invalid",
            "This verification link is invalid, already used or expired.",
        )
    # Conditional on the address the token was made for: a concurrent change wins.
    User.objects.filter(pk=user.pk, email=user.email).update(verified_email=user.email)
    user.verified_email = user.email
    audit.info("email verified user_id=%s ip=%s", user.pk, ip)
    return user


def _verified(user_id: int) -> bool:
    row = User.objects.filter(pk=user_id).values_list("email", "verified_email").first()
    return row is not None and bool(row[0]) and row[0].casefold() == row[1].casefold()


async def chat_allowed_check(*, user: User, scope: str | None) -> None:
    """403 ``email_unverified`` when verification is required, ``scope`` is the chat
    scope and the user has not verified their address (async; chat paths only)."""
    if not settings.REQUIRE_EMAIL_VERIFICATION or scope != Scope.CHAT:
        return
    if not await db.run(_verified, user.pk):
        raise email_unverified()
