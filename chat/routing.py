"""WebSocket routes (``chatproject.asgi`` wraps them in the Origin check)."""

from django.urls import path

from chat.consumers import ChatConsumer

websocket_urlpatterns = [
    # An ASGI consumer, not a view: django-stubs type path() for views only.
    path("ws/chat", ChatConsumer.as_asgi()),  # type: ignore[arg-type]
]
