# syntax=docker/dockerfile:1
# Multi-stage build: Node builds the SPA, a slim Python image runs the app.

# ---- frontend: build the React app into frontend/dist ----
FROM node:20-bookworm-slim AS frontend
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

# ---- runtime ----
FROM python:3.11-slim-bookworm AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    DJANGO_DEBUG=0
WORKDIR /app

# Dependencies first (their own layer, rebuilt only when they change), pinned
# to the versions CI tested.
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml','rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -c constraints.txt -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY manage.py ./
COPY chatproject/ chatproject/
COPY accounts/ accounts/
COPY chat/ chat/
COPY usage/ usage/
COPY scripts/ scripts/
COPY --from=frontend /src/frontend/dist frontend/dist

# collectstatic needs settings, not secrets: a throwaway key only for this step.
RUN DJANGO_SECRET_KEY=collectstatic-only-not-a-real-key python manage.py collectstatic --noinput -v 0

RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin app
USER app

EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3).status != 200)"]
# SIGTERM starts the drain (chatproject/shutdown.py); give the container at
# least SHUTDOWN_GRACE_SECONDS + 15 s to stop (docker-compose.yml: 45 s).
STOPSIGNAL SIGTERM
CMD ["scripts/serve"]
