"""WebSocket routes (filled by the WebSocket transport)."""

websocket_urlpatterns: list = []
