"""Admin: totals and effective limits on the user and key pages, overrides that
validate, the read-only ledger with its filters and CSV export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from accounts.api_key_services import api_key_create
from accounts.models import ApiKey
from tests.usage.conftest import spend
from usage.admin import csv_cell
from usage.models import KeyLimit, UsageLimits

pytestmark = pytest.mark.django_db


def user_change_form(admin_client, user, **limits) -> dict:
    """The user change form as the page posts it, with the limits inline filled in."""
    response = admin_client.get(reverse("admin:accounts_user_change", args=[user.pk]))
    form = response.context["adminform"].form
    data = {
        name: value
        for name, value in form.initial.items()
        if name in form.fields and value is not None and name not in ("password",)
    }
    data["date_joined_0"], data["date_joined_1"] = (
        user.date_joined.strftime("%Y-%m-%d"),
        user.date_joined.strftime("%H:%M:%S"),
    )
    data.pop("date_joined", None)
    data.pop("last_login", None)
    data["groups"] = [g.pk for g in user.groups.all()]
    data["user_permissions"] = []
    for formset in response.context["inline_admin_formsets"]:
        management = formset.formset.management_form
        prefix = formset.formset.prefix
        for name in ("TOTAL_FORMS", "INITIAL_FORMS", "MIN_NUM_FORMS", "MAX_NUM_FORMS"):
            data[f"{prefix}-{name}"] = management[name].value()
    prefix = "usage_limits"
    for name, value in limits.items():
        data[f"{prefix}-0-{name}"] = value
    return data


def test_the_user_page_shows_totals_and_the_effective_limits(admin_client, owner, settings):
    settings.CHAT_CONCURRENT_TURNS = 3
    settings.CHAT_DAILY_TOKENS = 0
    spend(owner, 1234)
    spend(owner, 5000, at=timezone.now() - timedelta(days=40))  # neither today nor this month
    group = Group.objects.create(name="pro")
    owner.groups.add(group)
    UsageLimits.objects.create(group=group, turns_per_minute=50)

    page = admin_client.get(reverse("admin:accounts_user_change", args=[owner.pk]))

    assert page.status_code == 200
    html = page.content.decode()
    assert "1,234 tokens today, 1,234 this month (UTC)" in html
    assert "3 live turns at once (default)" in html
    assert "50 turns a minute (group)" in html
    assert "unlimited tokens a day (default)" in html


def test_a_user_override_is_saved_from_the_user_page(admin_client, owner):
    data = user_change_form(admin_client, owner, concurrent_turns="2", daily_tokens="900")
    response = admin_client.post(reverse("admin:accounts_user_change", args=[owner.pk]), data)
    assert response.status_code == 302, response.context["errors"] if response.context else ""
    limits = UsageLimits.objects.get(user=owner)
    assert (limits.concurrent_turns, limits.turns_per_minute, limits.daily_tokens) == (2, None, 900)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("daily_tokens", "-5"),
        ("concurrent_turns", "0"),
        ("turns_per_minute", "-1"),
        ("daily_tokens", "many"),
    ],
)
def test_the_user_page_refuses_bad_limits_and_saves_nothing(admin_client, owner, field, value):
    data = user_change_form(admin_client, owner, **{field: value})
    response = admin_client.post(reverse("admin:accounts_user_change", args=[owner.pk]), data)
    assert response.status_code == 200  # the form again, with errors
    assert not UsageLimits.objects.exists()


def test_the_limits_admin_needs_exactly_one_of_user_or_group(admin_client, owner):
    group = Group.objects.create(name="pro")
    url = reverse("admin:usage_usagelimits_add")
    both = admin_client.post(url, {"user": owner.pk, "group": group.pk, "daily_tokens": "5"})
    neither = admin_client.post(url, {"daily_tokens": "5"})
    assert both.status_code == neither.status_code == 200
    assert not UsageLimits.objects.exists()
    ok = admin_client.post(url, {"group": group.pk, "daily_tokens": "5"})
    assert ok.status_code == 302
    assert UsageLimits.objects.get().group == group


def test_the_group_page_edits_the_groups_limits(admin_client):
    response = admin_client.post(
        reverse("admin:auth_group_add"),
        {
            "name": "pro",
            "usage_limits-TOTAL_FORMS": "1",
            "usage_limits-INITIAL_FORMS": "0",
            "usage_limits-MIN_NUM_FORMS": "0",
            "usage_limits-MAX_NUM_FORMS": "1",
            "usage_limits-0-turns_per_minute": "60",
        },
    )
    assert response.status_code == 302
    assert UsageLimits.objects.get(group__name="pro").turns_per_minute == 60


def test_a_key_gets_its_own_limit_on_the_admin_add_page_and_shows_totals(admin_client, owner):
    form = admin_client.get(reverse("admin:accounts_apikey_add"))
    assert 'name="daily_tokens"' in form.content.decode()
    response = admin_client.post(
        reverse("admin:accounts_apikey_add"),
        {
            "user": owner.pk,
            "name": "from admin",
            "scopes": ["chat"],
            "daily_tokens": "777",
        },
    )
    assert response.status_code == 200  # the page that shows the plaintext once
    key = ApiKey.objects.get()
    assert KeyLimit.objects.get(api_key=key).daily_tokens == 777

    spend(owner, 42, api_key=key)
    spend(owner, 1000)  # the browser's: not this key's
    page = admin_client.get(reverse("admin:accounts_apikey_change", args=[key.pk]))
    assert "42 tokens today, 42 this month (UTC)" in page.content.decode()


def test_a_negative_key_limit_on_the_add_page_creates_no_key(admin_client, owner):
    response = admin_client.post(
        reverse("admin:accounts_apikey_add"),
        {"user": owner.pk, "name": "k", "scopes": ["chat"], "daily_tokens": "-1"},
    )
    assert response.status_code == 200
    assert "daily_tokens" in response.context["adminform"].form.errors
    assert not ApiKey.objects.exists()


def test_the_key_page_edits_its_limit(admin_client, owner):
    key, _ = api_key_create(user=owner, name="k", daily_tokens=5)
    response = admin_client.post(
        reverse("admin:accounts_apikey_change", args=[key.pk]),
        {
            "name": "k",
            "usage_limit-TOTAL_FORMS": "1",
            "usage_limit-INITIAL_FORMS": "1",
            "usage_limit-MIN_NUM_FORMS": "0",
            "usage_limit-MAX_NUM_FORMS": "1",
            "usage_limit-0-api_key": str(key.pk),
            "usage_limit-0-daily_tokens": "900",
        },
    )
    assert response.status_code == 302
    assert KeyLimit.objects.get(api_key=key).daily_tokens == 900


def test_the_ledger_list_filters_by_user_key_model_and_date(admin_client, owner, second_user):
    key, _ = api_key_create(user=owner, name="ci")
    spend(owner, 10, model="model-alpha", api_key=key)
    spend(second_user, 20, model="model-beta")
    url = reverse("admin:usage_usagerecord_changelist")
    cases = {
        f"user__id__exact={second_user.pk}": ("model-beta", "model-alpha"),
        f"api_key__id__exact={key.pk}": ("model-alpha", "model-beta"),
        "model=model-beta": ("model-beta", "model-alpha"),
    }
    for query, (shown, hidden) in cases.items():
        page = admin_client.get(f"{url}?{query}")
        assert page.status_code == 200
        listed = [r.model for r in page.context["cl"].result_list]
        assert shown in listed and hidden not in listed, query
    today = timezone.now()
    spend(owner, 30, model="model-old", at=today - timedelta(days=40))
    page = admin_client.get(
        f"{url}?created_at__year={today.year}&created_at__month={today.month}"
        f"&created_at__day={today.day}"
    )
    assert page.status_code == 200
    assert sorted(r.model for r in page.context["cl"].result_list) == ["model-alpha", "model-beta"]


def test_the_ledger_is_read_only(admin_client, owner):
    record = spend(owner, 10)
    assert admin_client.get(reverse("admin:usage_usagerecord_add")).status_code == 403
    change = admin_client.post(
        reverse("admin:usage_usagerecord_change", args=[record.pk]), {"input_tokens": "0"}
    )
    assert change.status_code == 403
    record.refresh_from_db()
    assert record.input_tokens == 5


def test_csv_export_has_every_selected_row_and_defuses_formulas(admin_client, django_user_model):
    sneaky = django_user_model.objects.create_user(username="=cmd", password="x")
    key, _ = api_key_create(user=sneaky, name="k")
    first = spend(sneaky, 10, api_key=key, model="@SUM(A1)")
    second = spend(sneaky, 3)
    spend(sneaky, 99)  # not selected

    response = admin_client.post(
        reverse("admin:usage_usagerecord_changelist"),
        {"action": "export_csv", "_selected_action": [first.pk, second.pk]},
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="usage-')
    table = list(csv.reader(io.StringIO(response.content.decode())))
    assert table[0][:3] == ["created_at", "user_id", "username"]
    assert len(table) == 3
    by_total = {row[-1]: row for row in table[1:]}
    assert by_total["10"][2] == "'=cmd"
    assert by_total["10"][4] == key.prefix
    assert by_total["10"][6] == "'@SUM(A1)"
    assert by_total["3"][3] == ""  # no key: the browser
    assert sum(int(row[-1]) for row in table[1:]) == 13


def test_csv_cells_only_change_what_a_spreadsheet_would_run():
    assert [csv_cell(v) for v in ("=1", "+1", "-1", "@x", "\tx", "plain", 5)] == [
        "'=1",
        "'+1",
        "'-1",
        "'@x",
        "'\tx",
        "plain",
        5,
    ]


def test_the_ledger_admin_is_staff_only(client, owner):
    client.force_login(owner)
    response = client.get(reverse("admin:usage_usagerecord_changelist"))
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
