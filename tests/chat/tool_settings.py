"""The project's settings plus the misbehaving tools of ``tests.chat.hostile_tools``
(``DJANGO_SETTINGS_MODULE`` of the live server in ``test_tool_limits``)."""

from chatproject.settings import *  # noqa: F403
from chatproject.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.chat.hostile_tools.HostileToolsConfig"]
