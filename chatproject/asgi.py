"""ASGI entry point: HTTP goes to Django, WebSockets to the chat routes.

Served by Daphne (``daphne chatproject.asgi:application``) or any ASGI server.
A configuration error stops the process with one line naming the variable.
HTTP goes through ``chatproject.handlers.ASGIHandler``: Django's handler,
minus a thread per request for async views. Loading it also tunes the
garbage collector (``_tune_garbage_collector``).
"""

import gc
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from channels.routing import ProtocolTypeRouter

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatproject.settings")

from chatproject.env import EnvError

try:
    import django

    # Set up Django (settings, apps) before importing anything that uses models.
    django.setup(set_prefix=False)
    from chatproject.body_limit import BodyLimitApp
    from chatproject.handlers import ASGIHandler

    # A body over the limit is refused before Django's handler stores it.
    django_asgi_app = BodyLimitApp(ASGIHandler())
except EnvError as error:
    print(f"configuration error: {error}", file=sys.stderr)
    raise SystemExit(2) from None


def _no_thread_at_request_start() -> None:
    """Drop Django's two sync ``request_started`` receivers under ASGI.

    Under ASGI, the sync code of each request runs on a thread of its own
    (asgiref's ``ThreadSensitiveContext``), created when first needed and kept
    until the response ends. ``close_old_connections`` and ``reset_queries`` on
    ``request_started`` made Django create that thread at the start of every
    request -- to close connections and clear query logs that a new thread
    cannot have -- and so an open stream held an idle thread (and its stack)
    for its whole life (docs/performance.md, "A thread per request"). Without them a
    request whose view is async never starts that thread before its response
    is closed. ``request_finished`` still runs ``close_old_connections`` on the
    request's thread, which is where a sync view's connection is closed.
    """
    from django.core.signals import request_started
    from django.db import close_old_connections, reset_queries

    request_started.disconnect(close_old_connections)
    request_started.disconnect(reset_queries)


def _build_application() -> "ProtocolTypeRouter":
    from channels.routing import ProtocolTypeRouter, URLRouter
    from channels.security.websocket import AllowedHostsOriginValidator
    from django.urls import get_resolver

    from chat.routing import websocket_urlpatterns
    from chatproject import shutdown
    from chatproject.static_files import StaticFilesApp

    # Import every view module now rather than on the first request, which
    # would otherwise pay ~2 s for the Agents SDK and friends.
    get_resolver().url_patterns  # noqa: B018
    _no_thread_at_request_start()

    return ProtocolTypeRouter(
        {
            "http": StaticFilesApp(django_asgi_app),
            # uvicorn (scripts/serve) sends lifespan events; Daphne does not.
            "lifespan": shutdown.lifespan,
            # types-channels wants its private _ExtendedURLPattern in an invariant list;
            # path() returns URLPattern (python/typeshed#15080).
            "websocket": AllowedHostsOriginValidator(
                URLRouter(websocket_urlpatterns)  # type: ignore[arg-type]
            ),
        }
    )


def _tune_garbage_collector() -> None:
    """Freeze what startup built and make young collections rarer.

    CPython's cycle collector walks every tracked object of the generation it
    collects. A full collection here walked the hundreds of thousands of
    objects that loading Django, the Agents SDK and the app leaves behind,
    with the event loop stopped, several times per load. ``gc.freeze()``
    moves them to a generation that is never collected (they live as long as
    the process anyway; reference counting still frees any that are dropped),
    and a gen-0 threshold of ``GC_GEN0_THRESHOLD`` (default 20,000 instead of
    700) means fewer, larger young collections. The cost is cyclic garbage
    that waits longer for its collection (a little more peak memory). Why it
    is kept: docs/performance.md ("Full garbage collections") measured it.
    """
    from django.conf import settings

    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(settings.GC_GEN0_THRESHOLD, gen1, gen2)


application = _build_application()
_tune_garbage_collector()
