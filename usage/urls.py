"""Usage routes, mounted under ``/api/`` (no trailing slashes)."""

from django.urls import path

from usage import apis

urlpatterns = [
    path("usage", apis.UsageApi.as_view(), name="usage"),
]
