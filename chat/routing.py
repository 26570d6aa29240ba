"""WebSocket routes (``chatproject.asgi`` wraps them in the Origin check)."""

from django.urls import path

from chat.consumers import ChatConsumer

websocket_urlpatterns = [
    path("ws/chat", ChatConsumer.as_asgi()),
]
