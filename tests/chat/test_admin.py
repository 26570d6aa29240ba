"""The chat admin renders conversations with owner and token totals, turns and items."""

from __future__ import annotations

from django.utils import timezone

from chat.models import Turn
from tests.chat.conftest import make_conversation


def test_admin_lists_conversations_with_token_totals(client, owner, django_user_model):
    admin = django_user_model.objects.create_superuser("admin", "admin@example.com", "pw-admin-123")
    conversation = make_conversation(owner, "Budget", [{"role": "user", "content": "hi"}])
    now = timezone.now()
    for tokens in (100, 23):
        Turn.objects.create(
            conversation=conversation,
            model="gpt-test",
            input_tokens=tokens,
            output_tokens=tokens // 2,
            status="complete",
            started_at=now,
            finished_at=now,
        )
    client.force_login(admin)

    listing = client.get("/admin/chat/conversation/")
    assert listing.status_code == 200
    html = listing.content.decode()
    assert "Budget" in html and "owner" in html
    assert ">123<" in html and ">61<" in html  # input and output token totals

    detail = client.get(f"/admin/chat/conversation/{conversation.id}/change/")
    assert detail.status_code == 200
    assert "gpt-test" in detail.content.decode()
    assert client.get("/admin/chat/turn/").status_code == 200
