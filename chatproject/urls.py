"""Root URL configuration.

API paths have no trailing slash. Everything that is not API, admin, static or
a probe falls through to the single-page app, which routes on the client.
"""

from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import admin as accounts_admin
from chatproject import health, metrics, spa

handler404 = "chatproject.errors.not_found"
handler500 = "chatproject.errors.server_error"

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("admin", RedirectView.as_view(url="/admin/", permanent=True)),
    # Before admin.site.urls: the login goes through the API's login limits.
    path("admin/login/", accounts_admin.admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
    path("api/schema", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    path("api/", include("accounts.urls")),
    path("api/", include("chat.urls")),
    path("api/", include("usage.urls")),
    # Client-side routes of the SPA; never API, admin or static paths.
    re_path(r"^(?!api(?:/|$)|admin(?:/|$)|static/|assets/|ws(?:/|$))(?P<route>.*)$", spa.spa),
]
