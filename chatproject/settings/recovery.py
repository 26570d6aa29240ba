"""Account recovery and two-factor: email, password reset, verification, admin MFA."""

from __future__ import annotations

from chatproject.env import EnvError
from chatproject.settings.api import REST_FRAMEWORK
from chatproject.settings.core import DEBUG, env

# --------------------------------------------------------------------------
# Account recovery and two-factor: email, password reset, verification, TOTP
# https://docs.djangoproject.com/en/5.2/topics/email/
# --------------------------------------------------------------------------

# Under DEBUG emails are printed on the console unless a backend is named; in
# production Django's SMTP backend reads EMAIL_HOST etc. README "Email".
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default=(
        "django.core.mail.backends.console.EmailBackend"
        if DEBUG
        else "django.core.mail.backends.smtp.EmailBackend"
    ),
)
if "." not in EMAIL_BACKEND:
    raise EnvError(
        "EMAIL_BACKEND", "a dotted path like django.core.mail.backends.smtp.EmailBackend"
    )
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH")
if EMAIL_BACKEND.endswith("filebased.EmailBackend") and not EMAIL_FILE_PATH:
    raise EnvError("EMAIL_FILE_PATH", "a directory for the file email backend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25, min_value=1)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise EnvError("EMAIL_USE_SSL", "off when EMAIL_USE_TLS is on (choose one)")
# Seconds before an SMTP connection gives up (Django's default waits forever).
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10, min_value=1)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Secure Chat <noreply@localhost>")
# Where the links in emails point: the SPA's origin ("https://chat.example.com").
# Unset under DEBUG: the request's own origin. Unset in production: no email links
# can be made, and the endpoints that send them answer 503 email_not_configured.
FRONTEND_ORIGIN = env.str("FRONTEND_ORIGIN")
if FRONTEND_ORIGIN is not None:
    FRONTEND_ORIGIN = FRONTEND_ORIGIN.rstrip("/")
    if not FRONTEND_ORIGIN.startswith(("http://", "https://")):
        raise EnvError("FRONTEND_ORIGIN", "an origin like https://chat.example.com")
# Decided here, not at request time: test runners switch DEBUG off.
FRONTEND_ORIGIN_FROM_REQUEST = DEBUG and FRONTEND_ORIGIN is None
# Lifetime of the links in password-reset and verification emails, in seconds.
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3600, min_value=60)
# On: registration emails a link, and users who have not followed it may log in
# but not chat (403 email_unverified).
REQUIRE_EMAIL_VERIFICATION = env.bool("REQUIRE_EMAIL_VERIFICATION", default=False)
if REQUIRE_EMAIL_VERIFICATION and not (FRONTEND_ORIGIN or FRONTEND_ORIGIN_FROM_REQUEST):
    # Else every registration would make an account it cannot email a link to.
    raise EnvError("FRONTEND_ORIGIN", "the SPA's origin when REQUIRE_EMAIL_VERIFICATION is on")
# On: staff users must have TOTP to log in to the admin.
ADMIN_REQUIRE_MFA = env.bool("ADMIN_REQUIRE_MFA", default=False)
# The product name in account emails and next to the account in authenticator apps.
SITE_NAME = env.str("SITE_NAME", default="Secure Chat")
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].update(
    {
        # Every reset request counts, per client IP and per address asked for.
        "password_reset_ip": env.rate("THROTTLE_PASSWORD_RESET_IP", default="10/hour"),
        "password_reset_email": env.rate("THROTTLE_PASSWORD_RESET_EMAIL", default="3/hour"),
        # Following a link (reset confirm, email verify), per client IP.
        "email_link_ip": env.rate("THROTTLE_EMAIL_LINK_IP", default="30/hour"),
        "verification_resend": env.rate("THROTTLE_VERIFICATION_RESEND", default="3/hour"),
    }
)
