"""Accounts: the custom user model (from the first migration on)."""

from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """The project's user. A custom model from day one, so fields can be added
    later without Django's hard mid-project switch of ``AUTH_USER_MODEL``."""

    class Meta:
        db_table = "accounts_user"
