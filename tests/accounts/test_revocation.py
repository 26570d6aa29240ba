"""Revocation is immediate: the access tokens of an ended session are refused at once
(401 ``token_revoked``) on every entry point, within the one query per request."""

from __future__ import annotations

import threading
import uuid

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.test import RequestFactory

from accounts import services, sessions
from accounts.authentication import _session_user, authenticate_request, authenticate_scope
from accounts.models import TokenFamily
from chatproject.errors import ApiError
from tests.accounts.conftest import COOKIE_HEADERS, login, post_json, refresh
from tests.conftest import PASSWORD

NEW_PASSWORD = "a-brand-new-password-77"


def bearer_of(access: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access}"}


def end_by_logout(client, access):
    assert post_json(client, "/api/auth/logout", **COOKIE_HEADERS).status_code == 204


def end_by_logout_all(client, access):
    assert post_json(client, "/api/auth/logout-all", **bearer_of(access)).status_code == 204


def end_by_reuse(client, access):
    stolen = client.cookies[settings.REFRESH_COOKIE_NAME].value
    assert refresh(client).status_code == 200
    client.cookies[settings.REFRESH_COOKIE_NAME] = stolen
    assert refresh(client).json()["code"] == "token_reused"


def end_by_password_change_elsewhere(client, access):
    """Another session of the same user changes the password: this one ends."""
    other = login(client.__class__(), "owner").json()["access"]
    response = post_json(
        client.__class__(),
        "/api/auth/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        **bearer_of(other),
    )
    assert response.status_code == 204, response.content


def end_by_password_set_outside_the_api(client, access):
    """``manage.py changepassword``, the shell: no service call, only a new hash."""
    from accounts.models import User

    user = User.objects.get(username="owner")
    user.set_password(NEW_PASSWORD)
    user.save()


def end_by_deactivation(client, access):
    from accounts.models import User

    services.user_deactivate(user=User.objects.get(username="owner"))


def end_from_the_sessions_page(client, access):
    other = login(client.__class__(), "owner").json()["access"]
    session = TokenFamily.objects.filter(user__username="owner").order_by("created_at").first()
    response = client.__class__().delete(
        f"/api/auth/sessions/{session.pk}", headers=bearer_of(other)
    )
    assert response.status_code == 204


ENDINGS = {
    "logout": end_by_logout,
    "logout-all": end_by_logout_all,
    "reuse detection": end_by_reuse,
    "password change": end_by_password_change_elsewhere,
    "password set by another path": end_by_password_set_outside_the_api,
    "deactivation": end_by_deactivation,
    "sessions page": end_from_the_sessions_page,
}


@pytest.mark.django_db
@pytest.mark.parametrize("ending", ENDINGS.values(), ids=ENDINGS.keys())
def test_access_token_of_an_ended_session_is_refused_at_once(client, owner, ending):
    access = login(client, "owner").json()["access"]
    assert client.get("/api/auth/me", headers=bearer_of(access)).status_code == 200

    ending(client, access)

    response = client.get("/api/auth/me", headers=bearer_of(access))
    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.django_db(transaction=True)  # the async view reads on its own connection
def test_the_chat_stream_refuses_a_revoked_token_before_streaming(client, owner):
    access = login(client, "owner").json()["access"]
    end_by_logout(client, access)

    response = post_json(client, "/api/chat", {"message": "hello"}, **bearer_of(access))

    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.django_db
def test_ending_one_session_leaves_the_others_working(client, owner):
    other = login(client.__class__(), "owner").json()["access"]
    access = login(client, "owner").json()["access"]

    end_by_logout(client, access)

    assert client.get("/api/auth/me", headers=bearer_of(other)).status_code == 200


@pytest.mark.django_db
def test_a_forged_session_id_is_refused(client, owner):
    """A token whose session is unknown (a deleted row, another user's id) fails."""
    from rest_framework_simplejwt.tokens import AccessToken

    other = sessions.token_family_start(user=owner)
    token = AccessToken.for_user(owner)
    token["fam"] = "00000000-0000-0000-0000-000000000000"
    assert client.get("/api/auth/me", headers=bearer_of(str(token))).status_code == 401
    token["fam"] = "not-a-uuid"
    assert client.get("/api/auth/me", headers=bearer_of(str(token))).status_code == 401
    TokenFamily.objects.filter(pk=other.family_id).delete()
    response = client.get("/api/auth/me", headers=bearer_of(other.access))
    assert response.json()["code"] == "token_not_valid"


@pytest.mark.django_db
def test_a_bearer_request_with_a_session_costs_one_query(client, owner, django_assert_num_queries):
    access = login(client, "owner").json()["access"]
    with django_assert_num_queries(1) as captured:
        assert client.get("/api/auth/me", headers=bearer_of(access)).status_code == 200
    sql = captured.captured_queries[0]["sql"]
    assert " JOIN " in sql.upper() and "accounts_tokenfamily" in sql


def _orm_session_join(user_id, session_id):
    """The same lookup through the ORM's join, to compare the SQL built once with."""
    family = (
        TokenFamily.objects.select_related("user").filter(pk=session_id, user_id=user_id).first()
    )
    if family is None:
        return None, None
    return family.user, (family.revoked_at is not None, family.password_fingerprint)


def _fields(user):
    return {f.attname: getattr(user, f.attname) for f in user._meta.concrete_fields}


@pytest.mark.django_db
def test_the_session_join_sql_agrees_with_the_orm(owner, second_user):
    live = sessions.token_family_start(user=owner)
    ended = sessions.token_family_start(user=owner)
    sessions.token_family_revoke(family=TokenFamily.objects.get(pk=ended.family_id))
    owner.refresh_from_db()
    cases = [
        (owner.pk, live.family_id),
        (owner.pk, ended.family_id),
        (second_user.pk, live.family_id),  # someone else's session
        (owner.pk, uuid.uuid4()),  # no such session
    ]
    for user_id, session_id in cases:
        user, session = _session_user(user_id, session_id)
        expected_user, expected_session = _orm_session_join(user_id, session_id)
        if expected_user is None:
            assert (user, session) == (None, None)
            continue
        assert type(user) is type(expected_user)
        assert not user.get_deferred_fields()  # the whole row: async code reads it safely
        assert _fields(user) == _fields(expected_user)  # every column, converted alike
        assert (session.revoked, session.password_fingerprint) == expected_session
        assert session.password_hash == expected_user.password
        assert not hasattr(user, "session_revoked_at")  # no stray attributes on the user
    assert _session_user(owner.pk, ended.family_id)[1].revoked


# --------------------------------------------------------------------------
# The async entry points: plain async views and WebSocket scopes
# --------------------------------------------------------------------------


def ws_scope(access: str) -> dict:
    return {
        "type": "websocket",
        "path": "/ws/chat",
        "headers": [(b"sec-websocket-protocol", f"bearer, {access}".encode())],
    }


def http_request(access: str):
    return RequestFactory().post("/api/chat", headers=bearer_of(access))


async def code_of(awaitable) -> str:
    with pytest.raises(ApiError) as caught:
        await awaitable
    return caught.value.code


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("entry", ["request", "scope"])
async def test_async_entry_points_refuse_an_ended_session(owner, entry, db_thread_queries):
    issued = await sync_to_async(sessions.token_family_start)(user=owner)
    check = (
        (lambda: authenticate_request(http_request(issued.access)))
        if entry == "request"
        else (lambda: authenticate_scope(ws_scope(issued.access)))
    )
    principal = await check()
    assert principal.session_id == issued.family_id
    assert len(db_thread_queries) == 1  # the session and its user, joined
    assert " JOIN " in db_thread_queries[0].upper()
    assert "accounts_tokenfamily" in db_thread_queries[0]

    await sync_to_async(services.user_sessions_revoke)(user=owner)

    # An open WebSocket re-authenticates before each turn with the same call.
    assert await code_of(check()) == "token_revoked"


@pytest.mark.django_db(transaction=True)
async def test_async_entry_points_see_a_password_set_by_any_path(owner):
    issued = await sync_to_async(sessions.token_family_start)(user=owner)
    await authenticate_request(http_request(issued.access))

    owner.set_password(NEW_PASSWORD)
    await owner.asave()

    assert await code_of(authenticate_request(http_request(issued.access))) == "token_revoked"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", ["bearer", "api_key"])
async def test_then_runs_in_the_same_job_and_only_for_valid_credentials(owner, kind, monkeypatch):
    """The chat views read the usage facts with ``then``: it must run once, in the
    lookup's own job (one hand-over to the database threads), and never for
    credentials that are refused."""
    from accounts import authentication
    from accounts.api_key_services import api_key_create, api_key_revoke

    if kind == "bearer":
        issued = await sync_to_async(sessions.token_family_start)(user=owner)
        headers = bearer_of(issued.access)
    else:
        key, plaintext = await sync_to_async(api_key_create)(user=owner, name="then")
        headers = {"X-API-Key": plaintext}
    jobs: list[str] = []
    real_run = authentication.db.run

    async def counting_run(fn, *args, **kwargs):
        jobs.append(fn.__name__)
        return await real_run(fn, *args, **kwargs)

    monkeypatch.setattr(authentication.db, "run", counting_run)
    seen: list[tuple[int, str]] = []

    def then(principal):
        seen.append((principal.user.pk, threading.current_thread().name))
        return "read"

    request = RequestFactory().post("/api/chat", headers=headers)
    principal = await authenticate_request(request, then=then)
    assert principal.prefetched == "read"
    assert len(jobs) == 1, jobs
    assert seen == [(owner.pk, seen[0][1])] and seen[0][1].startswith("db-")

    if kind == "bearer":
        await sync_to_async(services.user_sessions_revoke)(user=owner)
    else:
        await sync_to_async(api_key_revoke)(api_key=key)
    refused = RequestFactory().post("/api/chat", headers=headers)
    assert await code_of(authenticate_request(refused, then=then)) in {
        "token_revoked",
        "api_key_invalid",
    }
    assert len(seen) == 1  # not called for the refused credentials


# --------------------------------------------------------------------------
# Across processes: the server process sees a revocation made elsewhere
# --------------------------------------------------------------------------


@pytest.mark.live
def test_a_session_ended_in_another_process_is_refused_by_the_server(app_server, owner, settings):
    import httpx

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    owner.set_password(PASSWORD)
    owner.save()
    with httpx.Client(base_url=app_server.url, timeout=10) as http:
        login_response = http.post(
            "/api/auth/token", json={"username": "owner", "password": PASSWORD}
        )
        access = login_response.json()["access"]
        assert http.get("/api/auth/me", headers=bearer_of(access)).status_code == 200

        # This test process, not the server, ends the session.
        sessions.logout(raw=login_response.cookies[settings.REFRESH_COOKIE_NAME])

        response = http.get("/api/auth/me", headers=bearer_of(access))
        assert response.status_code == 401
        assert response.json()["code"] == "token_revoked"
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'
