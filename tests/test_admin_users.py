"""The admin of SPOJ users and tags: a list with the numbers, ``tracked`` the only edit."""

from __future__ import annotations

import pytest
from django.test import Client

from core.models import Problem, SpojUser, Tag
from tests.test_views_users import make_user
from tests.web_data import make_problem, parse

pytestmark = pytest.mark.django_db


def test_the_user_list_shows_handle_rank_points_solved_and_tracked(
    superuser_client: Client,
) -> None:
    make_user("kosaksi", ["AAA", "BBB", "CCC"], world_rank=28304, name="<b>K</b>")
    response = superuser_client.get("/admin/core/spojuser/")
    assert response.status_code == 200
    row = parse(response).select_one("#result_list tbody tr")
    text = row.get_text(" ", strip=True)
    assert "kosaksi" in text
    assert "28304" in text.replace(",", "")
    assert "12.5" in text
    assert "<b>K</b>" in text  # shown as text, escaped in the HTML
    assert "<b>K</b>" not in response.content.decode()
    assert row.select_one("td.field-solved_count").get_text() == "3"
    assert row.select_one("input[name$=tracked]").has_attr("checked")
    assert row.select_one("a[href='/users/kosaksi/']")


def test_tracked_can_be_switched_off_in_the_list_and_nothing_else_changes(
    superuser_client: Client,
) -> None:
    user = make_user("alice", ["AAA"])
    page = parse(superuser_client.get("/admin/core/spojuser/"))
    form = {
        tag["name"]: tag.get("value", "")
        for tag in page.select("#changelist-form input")
        if tag.get("name") and tag.get("type") != "checkbox"
    }
    form["_save"] = "Save"
    response = superuser_client.post("/admin/core/spojuser/", form)  # tracked unchecked
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.tracked is False
    assert (user.handle, user.solved_count, user.world_rank) == ("alice", 1, 1234)


def test_users_cannot_be_added_and_their_profile_is_read_only(superuser_client: Client) -> None:
    user = make_user("bob", [])
    assert superuser_client.get("/admin/core/spojuser/add/").status_code == 403
    change = parse(superuser_client.get(f"/admin/core/spojuser/{user.pk}/change/"))
    assert change.select_one("input[name=tracked]")
    assert change.select_one("input[name=handle]") is None
    assert change.select_one("input[name=world_rank]") is None
    superuser_client.post(
        f"/admin/core/spojuser/{user.pk}/change/", {"handle": "evil", "world_rank": "1"}
    )
    user.refresh_from_db()
    assert (user.handle, user.world_rank, user.tracked) == ("bob", 1234, False)


def test_the_tag_list_counts_problems_and_is_read_only(superuser_client: Client) -> None:
    problems = Problem.objects.bulk_create([make_problem("AAA"), make_problem("BBB")])
    Tag.objects.create(slug="dp", name="Dynamic <i>programming</i>").problems.add(*problems)
    Tag.objects.create(slug="empty", name="Empty")
    page = parse(superuser_client.get("/admin/core/tag/"))
    rows = {
        tr.select_one("th, td.field-slug").get_text(): tr.select_one(
            "td.field-problem_count"
        ).get_text()
        for tr in page.select("#result_list tbody tr")
    }
    assert rows == {"dp": "2", "empty": "0"}
    assert superuser_client.get("/admin/core/tag/add/").status_code == 403
    assert SpojUser.objects.count() == 0
