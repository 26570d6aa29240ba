"""Settings for the chat starter, read from the environment.

Every variable goes through ``chatproject.env.Env``; the README's configuration
table lists them. The defaults are the embedded setup (SQLite file, in-memory
channel layer, local-memory cache, offline demo model); ``DATABASE_URL`` and
``REDIS_URL`` switch to PostgreSQL and Redis.

``DJANGO_SETTINGS_MODULE=chatproject.settings`` names this package. It is split
by topic, one module per group of sections, so that each can be read on its own:

- ``core``: the secret key, hosts, apps, middleware, templates, ``env`` itself;
- ``storage``: the database, the Redis cache, static files and the built SPA;
- ``api``: Django REST framework (authentication classes, auth throttle rates)
  and the OpenAPI schema;
- ``auth``: SimpleJWT, the refresh cookie, API keys, session and key lifetimes;
- ``recovery``: email, password reset, email verification, admin MFA;
- ``chat``: the model, crash-safe turns, chat and WebSocket limits, tools, usage
  quotas;
- ``operations``: security headers, metrics, graceful shutdown, logging.

Why a package of plain settings modules rather than helper functions: a setting,
the variable it reads, its default, its check and its comment stay on adjacent
lines of one file, so changing one is one edit in one place. A module takes what
it needs from an earlier one by name (``from chatproject.settings.core import
DEBUG, env``), never the other way round, and this file imports them in order:
the first bad value stops start-up, so the order is the order variables are
checked. A new setting goes in its topic's module (and in the README table and
``.env.example``: tests/test_docs.py checks both); a new topic is a module here
plus one import line below.
"""

# In the order above, not sorted: it is the order variables are checked in.
# isort: off
from chatproject.settings.core import *  # noqa: F403
from chatproject.settings.storage import *  # noqa: F403
from chatproject.settings.api import *  # noqa: F403
from chatproject.settings.auth import *  # noqa: F403
from chatproject.settings.recovery import *  # noqa: F403
from chatproject.settings.chat import *  # noqa: F403
from chatproject.settings.operations import *  # noqa: F403
# isort: on
