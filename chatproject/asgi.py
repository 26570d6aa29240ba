"""ASGI entry point: HTTP goes to Django, WebSockets to the chat routes.

Served by Daphne (``daphne chatproject.asgi:application``) or any ASGI server.
A configuration error stops the process with one line naming the variable.
"""

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from channels.routing import ProtocolTypeRouter

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatproject.settings")

from chatproject.env import EnvError

try:
    from django.core.asgi import get_asgi_application

    # Set up Django (settings, apps) before importing anything that uses models.
    django_asgi_app = get_asgi_application()
except EnvError as error:
    print(f"configuration error: {error}", file=sys.stderr)
    raise SystemExit(2) from None


def _build_application() -> "ProtocolTypeRouter":
    from channels.routing import ProtocolTypeRouter, URLRouter
    from channels.security.websocket import AllowedHostsOriginValidator
    from django.urls import get_resolver

    from chat.routing import websocket_urlpatterns
    from chatproject.static_files import StaticFilesApp

    # Import every view module now rather than on the first request, which
    # would otherwise pay ~2 s for the Agents SDK and friends.
    get_resolver().url_patterns  # noqa: B018

    return ProtocolTypeRouter(
        {
            "http": StaticFilesApp(django_asgi_app),
            # types-channels wants its private _ExtendedURLPattern in an invariant list;
            # path() returns URLPattern (python/typeshed#15080).
            "websocket": AllowedHostsOriginValidator(
                URLRouter(websocket_urlpatterns)  # type: ignore[arg-type]
            ),
        }
    )


application = _build_application()
