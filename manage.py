#!/usr/bin/env python
"""Django's command-line utility; a configuration error is one line, not a traceback."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatproject.settings")
    from django.core.management import execute_from_command_line

    from chatproject.env import EnvError

    try:
        import django

        django.setup()
    except EnvError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
