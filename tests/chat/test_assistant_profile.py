"""The assistant profile: a staff user changes the agent in /admin/, the next message uses it.

In-process tests cover the admin form and the per-turn cost; live tests drive a
real server's admin over HTTP and read what the next upstream request carried
(the fake's request log), in the same process and, with Redis, in another one.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings

from chat.agent import PROFILE_VERSION_TTL_SECONDS, current_identity, profile_changed
from chat.models import AssistantProfile, Turn
from tests.chat.conftest import LIVE_ENV, chat
from tests.conftest import PASSWORD, ServerProcess, bearer
from tests.fake_openai import text

ADD_URL = "/admin/chat/assistantprofile/add/"
ALL_TOOLS = ["current_time", "calculate", "word_count"]
PROFILE = {
    "name": "Ada",
    "instructions": "You are Ada. Answer in one sentence.",
    "model": "gpt-profile-test",
    "tools": ["calculate"],
}


@pytest.fixture(autouse=True)
def _forget_profile() -> Iterator[None]:
    # Rows written here vanish with the test's transaction or flush, which publishes
    # no new version: make this process re-read the profile for the tests after.
    yield
    profile_changed()


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_superuser(
        "staff", "staff@example.com", PASSWORD, is_staff=True
    )


def offered_tools(request) -> list[str]:
    return [tool.get("function", tool)["name"] for tool in request.body.get("tools") or []]


def system_prompt(request) -> str:
    return request.messages[0]["content"] if request.messages[0]["role"] == "system" else ""


# --------------------------------------------------------------------------
# The admin form (in process)
# --------------------------------------------------------------------------


def test_staff_creates_the_profile_starting_from_the_settings(
    client, staff, django_capture_on_commit_callbacks
):
    client.force_login(staff)
    assert client.get("/admin/chat/assistantprofile/")["Location"] == ADD_URL
    form = client.get(ADD_URL).content.decode()
    assert django_settings.CHAT_INSTRUCTIONS in form
    assert re.search(r'value="word_count"[^>]*checked', form)

    with django_capture_on_commit_callbacks(execute=True) as published:
        response = client.post(ADD_URL, PROFILE)
    assert response.status_code == 302
    profile = AssistantProfile.objects.get()
    assert (profile.name, profile.instructions, profile.model, profile.tools) == (
        "Ada",
        "You are Ada. Answer in one sentence.",
        "gpt-profile-test",
        ["calculate"],
    )
    assert len(published) == 1  # the new version goes out once the row is committed
    # One row at most: the list goes to it, and there is no second "add".
    change_url = f"/admin/chat/assistantprofile/{profile.pk}/change/"
    assert client.get("/admin/chat/assistantprofile/")["Location"] == change_url
    assert client.get(ADD_URL).status_code == 403


def test_only_staff_can_open_or_save_the_profile(client, owner, django_user_model):
    client.force_login(owner)  # a signed-in user, not staff
    assert client.get(ADD_URL)["Location"].startswith("/admin/login/")
    assert client.post(ADD_URL, PROFILE)["Location"].startswith("/admin/login/")

    clerk = django_user_model.objects.create_user("clerk", password=PASSWORD, is_staff=True)
    client.force_login(clerk)  # staff, without the profile permissions
    assert client.get(ADD_URL).status_code == 403
    assert client.post(ADD_URL, PROFILE).status_code == 403
    assert not AssistantProfile.objects.exists()


def test_the_form_refuses_unknown_tools_and_empty_instructions(client, staff):
    client.force_login(staff)
    response = client.post(
        ADD_URL, {**PROFILE, "instructions": "   \n ", "tools": ["calculate", "rm_rf"]}
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"instructions", "tools"}
    assert "rm_rf is not one of the available choices" in errors["tools"][0]
    assert not AssistantProfile.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_unchanged_profile_costs_no_query_per_turn(client, staff, db_thread_queries):
    # Transactional: the turn's lookups run on chatproject.db's threads, which see
    # committed rows only.
    profile_changed()
    first = async_to_sync(current_identity)()
    assert len(db_thread_queries) == 1
    assert not first.from_profile and first.instructions == django_settings.CHAT_INSTRUCTIONS
    assert async_to_sync(current_identity)() == first
    assert len(db_thread_queries) == 1  # no query for an unchanged profile

    client.force_login(staff)
    client.post(ADD_URL, {**PROFILE, "model": ""})  # publishes a new version on commit
    changed = async_to_sync(current_identity)()
    assert len(db_thread_queries) == 2
    assert (changed.name, changed.instructions, changed.tools) == (
        "Ada",
        PROFILE["instructions"],
        ("calculate",),
    )
    assert changed.model == django_settings.OPENAI_MODEL  # blank model: the setting
    async_to_sync(current_identity)()
    assert len(db_thread_queries) == 2


# --------------------------------------------------------------------------
# A live server's admin, over HTTP
# --------------------------------------------------------------------------


class LiveAdmin:
    """A staff user's browser session on a live server's /admin/."""

    def __init__(self, server: ServerProcess, username: str) -> None:
        self.http = httpx.Client(base_url=server.url, timeout=10)
        self._post_form("/admin/login/", {"username": username, "password": PASSWORD})

    def _post_form(self, path: str, data: dict) -> httpx.Response:
        page = self.http.get(path)
        assert page.status_code == 200, page.text[:500]
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token is not None
        response = self.http.post(path, data={**data, "csrfmiddlewaretoken": token.group(1)})
        assert response.status_code == 302, re.findall(
            r'(?s)class="error.*?</(?:p|ul)>', response.text
        )
        return response

    def save_profile(self, **fields) -> None:
        profile = AssistantProfile.objects.first()
        path = ADD_URL if profile is None else f"/admin/chat/assistantprofile/{profile.pk}/change/"
        self._post_form(path, fields)

    def delete_profile(self) -> None:
        profile = AssistantProfile.objects.first()
        if profile is not None:
            self._post_form(f"/admin/chat/assistantprofile/{profile.pk}/delete/", {"post": "yes"})

    def close(self) -> None:
        self.delete_profile()  # the server process outlives this test's rows
        self.http.close()


@pytest.fixture
def admin_server(server_factory, fake, transactional_db) -> Iterator[ServerProcess]:
    """A new server process for one test. A long-lived one cannot serve the admin here:
    each flush between tests recreates the content types under new ids (PostgreSQL),
    and a process that cached the old ones fails to write the admin's log entry."""
    server = server_factory(
        OPENAI_BASE_URL=fake.base_url, CHAT_MODEL_API="chat_completions", **LIVE_ENV
    )
    yield server
    server.stop()


@pytest.fixture
def live_admin(admin_server, staff, settings) -> Iterator[LiveAdmin]:
    # A hash the server processes (production hashers) accept; the test settings
    # use a fast hasher they do not know.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    staff.set_password(PASSWORD)
    staff.save(update_fields=["password"])
    admin = LiveAdmin(admin_server, staff.username)
    yield admin
    admin.close()


def test_an_admin_edit_applies_to_the_next_message(admin_server, live_admin, fake, owner):
    fake.push(text("Hello."), text("Hi, I am Ada."), text("Hello again."))
    chat(admin_server, bearer(owner), "Hello")  # the agent is built and warm
    before = fake.model_requests[-1]
    assert before.body["model"] == "gpt-fake-test"
    assert system_prompt(before) == django_settings.CHAT_INSTRUCTIONS
    assert offered_tools(before) == ALL_TOOLS

    live_admin.save_profile(**PROFILE)
    stream = chat(admin_server, bearer(owner), "Hello")
    after = fake.model_requests[-1]
    assert after.body["model"] == "gpt-profile-test"
    assert system_prompt(after) == PROFILE["instructions"]
    assert offered_tools(after) == ["calculate"]
    assert stream.text == "Hi, I am Ada."
    assert Turn.objects.get(conversation_id=stream.conversation_id).model == "gpt-profile-test"

    live_admin.delete_profile()  # back to the settings, at once too
    chat(admin_server, bearer(owner), "Hello")
    again = fake.model_requests[-1]
    assert (again.body["model"], system_prompt(again), offered_tools(again)) == (
        "gpt-fake-test",
        django_settings.CHAT_INSTRUCTIONS,
        ALL_TOOLS,
    )


@pytest.mark.redis
def test_another_server_process_sees_the_admin_edit(chat_server, live_admin, fake, owner):
    # chat_server is a process that has served chats all along; the edit is made
    # through another one (admin_server), as behind a load balancer.
    chat(chat_server, bearer(owner), "Hello")  # its agent is built and warm
    assert system_prompt(fake.model_requests[-1]) == django_settings.CHAT_INSTRUCTIONS

    live_admin.save_profile(**PROFILE)
    # Other processes re-read the cache's version number at most this often.
    time.sleep(PROFILE_VERSION_TTL_SECONDS)
    chat(chat_server, bearer(owner), "Hello")
    edited = fake.model_requests[-1]
    assert system_prompt(edited) == PROFILE["instructions"]
    assert (edited.body["model"], offered_tools(edited)) == ("gpt-profile-test", ["calculate"])

    live_admin.delete_profile()
    time.sleep(PROFILE_VERSION_TTL_SECONDS)
    chat(chat_server, bearer(owner), "Hello")
    assert system_prompt(fake.model_requests[-1]) == django_settings.CHAT_INSTRUCTIONS
