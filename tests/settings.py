"""Settings for the test run: the project's settings in development mode,
with a fast password hasher (hashing cost is not what these tests measure)."""

import os

os.environ.setdefault("DJANGO_DEBUG", "1")

from chatproject.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
