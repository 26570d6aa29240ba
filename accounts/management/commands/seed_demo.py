"""Create the demo user and print its credentials.

``make run`` calls this with ``--if-empty`` so a fresh database gets a user to
log in with; the password is random and printed once. Run it again with
``--reset-password`` to get a new one.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Create a demo user (random password, printed once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="demo")
        parser.add_argument(
            "--if-empty", action="store_true", help="only when the database has no users yet"
        )
        parser.add_argument(
            "--reset-password",
            action="store_true",
            help="give an existing demo user a new password",
        )

    def handle(
        self, *args: Any, username: str, if_empty: bool, reset_password: bool, **options: Any
    ) -> None:
        users = get_user_model().objects
        if if_empty and users.exists():
            return
        password = secrets.token_urlsafe(12)
        user = users.filter(username=username).first()
        if user is None:
            email = f"{username}@example.com"
            # Nobody reads example.com mail: the demo user counts as verified, so it can
            # chat with REQUIRE_EMAIL_VERIFICATION on.
            users.create_user(
                username=username, email=email, password=password, verified_email=email
            )
        elif reset_password:
            user.set_password(password)
            user.save(update_fields=["password"])
        else:
            self.stdout.write(
                f"User {username!r} exists; use --reset-password to give it a new password."
            )
            return
        self.stdout.write(
            self.style.SUCCESS("Demo user ready.")
            + f"\n  username: {username}\n  password: {password}\n"
            "  (shown once; `manage.py seed_demo --reset-password` makes a new one)"
        )
