"""``scrape_spoj_users``: profiles over real HTTP from the local fake SPOJ, all or nothing per user.

Failure tests store users first, change what the server shows (so a write
would show), break one page, and compare a dump of every row of the user
tables before and after.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError, connection, connections, transaction
from django.utils import timezone

from core.models import Problem, SolvedProblem, SpojUser, SpojUserHistory
from core.spoj.profile import parse_profile
from core.spoj.users import save_profile
from tests.db_faults import FailingStatement
from tests.scraping import scrape
from tests.spoj_server import KOSAKSI_PAGE, FakeUser, SpojServer, data_set, render_profile
from tests.test_spoj_profile_parse import KOSAKSI_SOLVED

pytestmark = pytest.mark.django_db


def fetch(*args: str) -> tuple[str, str]:
    """Run ``scrape_spoj_users`` with ``args``; its stdout and stderr."""
    out, err = StringIO(), StringIO()
    call_command("scrape_spoj_users", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def fails(*args: str) -> tuple[str, str, str]:
    """Run ``scrape_spoj_users`` expecting a failure; its stdout, stderr and final error."""
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("scrape_spoj_users", *args, stdout=out, stderr=err)
    message = str(caught.value)
    assert "\n" not in message
    return out.getvalue(), err.getvalue(), message


def user_dump(handle: str | None = None) -> list[tuple[Any, ...]]:
    """Every row and field of the user tables (of one user), in primary-key order."""
    dump: list[tuple[Any, ...]] = []
    users = SpojUser.objects.all() if handle is None else SpojUser.objects.filter(handle=handle)
    for model, rows in (
        (SpojUser, users),
        (SolvedProblem, SolvedProblem.objects.filter(user__in=users)),
        (SpojUserHistory, SpojUserHistory.objects.filter(user__in=users)),
    ):
        fields = [field.attname for field in model._meta.concrete_fields]
        dump.extend((model.__name__, *row) for row in rows.order_by("pk").values_list(*fields))
    return dump


def ana(**changes: Any) -> FakeUser:
    base = FakeUser(
        handle="ana_b",
        name="Ana B.",
        solved=("TEST", "PRIME1", "ONP"),
        world_rank=5000,
        points="12.5",
    )
    return replace(base, **changes)


def solved(handle: str) -> set[str]:
    return set(SolvedProblem.objects.filter(user__handle=handle).values_list("code", flat=True))


def test_it_stores_the_saved_real_profile_fetched_over_http(spoj_server: SpojServer) -> None:
    out, err = fetch("kosaksi")

    user = SpojUser.objects.get()
    assert user.handle == "kosaksi"
    assert user.name == "Kousshik Raj"
    assert user.world_rank == 28304
    assert user.spoj_points == Decimal("0.6")
    assert user.solved_count == 70
    assert user.tracked
    assert user.first_seen == user.fetched_at
    assert solved("kosaksi") == set(KOSAKSI_SOLVED)
    history = SpojUserHistory.objects.get()
    assert (history.world_rank, history.spoj_points, history.solved_count) == (
        28304,
        Decimal("0.6"),
        70,
    )
    assert history.recorded_at == user.fetched_at
    assert spoj_server.requests == ["/users/kosaksi/"]
    assert out.splitlines()[0] == "user 1 of 1: kosaksi"
    assert out.splitlines()[1] == "  kosaksi: 70 solved (+70 -0), world rank #28304 (0.6 points)"
    assert out.splitlines()[-1].startswith("Fetched 1 of 1 users in ")
    assert out.splitlines()[-1].endswith(" s: 1 new, 0 changed, 0 unchanged, 0 failed.")
    assert err == ""


def test_codes_not_in_the_score_table_are_kept(spoj_server: SpojServer) -> None:
    spoj_server.set_problems(data_set()[:100])  # TEST, PRIME1, ... but not most of kosaksi's
    scrape()
    listed = set(Problem.objects.values_list("code", flat=True))
    assert 0 < len(listed & set(KOSAKSI_SOLVED)) < 70

    fetch("kosaksi")

    user = SpojUser.objects.get()
    assert solved("kosaksi") == set(KOSAKSI_SOLVED)
    assert set(user.solved_problems().values_list("code", flat=True)) == listed & set(
        KOSAKSI_SOLVED
    )
    # A list scrape that adds the rest matches them with nothing to re-link.
    spoj_server.set_problems(data_set())
    scrape()
    assert user.solved_problems().count() == 70


def test_a_second_fetch_of_an_unchanged_profile_writes_no_history(
    spoj_server: SpojServer,
) -> None:
    with time_machine.travel(timezone.now() - timedelta(hours=6), tick=False):
        fetch("kosaksi")
    first = SpojUser.objects.get()

    out, _ = fetch("kosaksi")

    user = SpojUser.objects.get()
    assert user.fetched_at > first.fetched_at
    assert user.first_seen == first.first_seen
    assert SpojUserHistory.objects.count() == 1
    assert out.splitlines()[-1].endswith(": 0 new, 0 changed, 1 unchanged, 0 failed.")


@pytest.mark.parametrize(
    "change",
    [{"world_rank": 4990}, {"points": "12.6"}, {"solved": ("TEST", "PRIME1", "ONP", "FCTRL")}],
    ids=["rank", "points", "solved count"],
)
def test_a_change_of_rank_points_or_solved_count_adds_one_history_row(
    spoj_server: SpojServer, change: dict[str, Any]
) -> None:
    spoj_server.set_user(ana())
    fetch("ana_b")
    spoj_server.set_user(ana(**change))

    fetch("ana_b")
    fetch("ana_b")  # unchanged since the last: no third row

    rows = list(SpojUserHistory.objects.values_list("world_rank", "spoj_points", "solved_count"))
    assert rows[0] == (5000, Decimal("12.5"), 3)
    expected = ana(**change)
    assert rows[1:] == [(expected.world_rank, Decimal(expected.points), len(expected.solved))]


def test_the_solved_set_follows_the_page_and_keeps_when_each_code_was_first_seen(
    spoj_server: SpojServer,
) -> None:
    spoj_server.set_user(ana())
    with time_machine.travel(timezone.now() - timedelta(days=1), tick=False):
        fetch("ana_b")
    before = dict(SolvedProblem.objects.values_list("code", "first_seen"))
    # ONP left the list (rejudged, or the problem moved), FCTRL and BUGLIFE are new:
    # the count is the same, so the history does not move, but the set does.
    spoj_server.set_user(ana(solved=("TEST", "PRIME1", "FCTRL"), name="Ana Beatriz"))

    out, _ = fetch("ana_b")

    after = dict(SolvedProblem.objects.values_list("code", "first_seen"))
    assert set(after) == {"TEST", "PRIME1", "FCTRL"}
    assert after["TEST"] == before["TEST"]
    assert after["FCTRL"] > before["TEST"]
    user = SpojUser.objects.get()
    assert user.name == "Ana Beatriz"
    assert user.solved_count == 3
    assert SpojUserHistory.objects.count() == 1
    assert "  ana_b: 3 solved (+1 -1), world rank #5000 (12.5 points)" in out
    assert out.splitlines()[-1].endswith(": 0 new, 1 changed, 0 unchanged, 0 failed.")


def test_a_profile_without_a_world_rank_stores_none(spoj_server: SpojServer) -> None:
    spoj_server.set_user(ana(world_rank=None, solved=()))

    out, _ = fetch("ana_b")

    user = SpojUser.objects.get()
    assert (user.world_rank, user.spoj_points, user.solved_count) == (None, None, 0)
    assert "  ana_b: 0 solved (+0 -0), no world rank" in out


def test_new_handles_become_tracked_and_upper_case_is_lowered(spoj_server: SpojServer) -> None:
    fetch("KOSAKSI", "demo_ana", "kosaksi")

    assert list(SpojUser.objects.values_list("handle", "tracked")) == [
        ("demo_ana", True),
        ("kosaksi", True),
    ]
    assert spoj_server.requests == ["/users/kosaksi/", "/users/demo_ana/"]  # each once


def test_naming_an_untracked_user_refreshes_it_and_leaves_it_untracked(
    spoj_server: SpojServer,
) -> None:
    fetch("kosaksi")
    SpojUser.objects.update(tracked=False)

    fetch("kosaksi")

    assert not SpojUser.objects.get().tracked
    assert spoj_server.hits(path="/users/kosaksi/") == 2


def test_without_handles_it_refreshes_the_tracked_users_stalest_first(
    spoj_server: SpojServer,
) -> None:
    now = timezone.now()
    for hours, handle in ((1, "demo_ben"), (3, "kosaksi"), (2, "demo_ana"), (5, "demo_chen")):
        with time_machine.travel(now - timedelta(hours=hours), tick=False):
            fetch(handle)
    SpojUser.objects.filter(handle="demo_chen").update(tracked=False)
    spoj_server.forget_requests()

    out, _ = fetch()

    assert spoj_server.requests == ["/users/kosaksi/", "/users/demo_ana/", "/users/demo_ben/"]
    assert out.splitlines()[0] == "user 1 of 3: kosaksi"


def test_without_handles_and_tracked_users_it_says_so_and_fetches_nothing(
    spoj_server: SpojServer,
) -> None:
    out, _ = fetch()

    assert out == "No tracked users: name the handles to fetch.\n"
    assert spoj_server.requests == []


@pytest.mark.parametrize("handle", ["bad-handle", "a", "x" * 33, "../admin", "kosaksi/"])
def test_a_malformed_handle_is_refused_before_anything_is_fetched(
    spoj_server: SpojServer, handle: str
) -> None:
    with pytest.raises(CommandError, match="is not a SPOJ handle"):
        fetch("kosaksi", handle)

    assert spoj_server.requests == []
    assert not SpojUser.objects.exists()


# --- failures: nothing changes for that user, the others go on --------------------------


@pytest.fixture
def stored(spoj_server: SpojServer) -> SpojServer:
    """kosaksi and ana_b stored once; both profiles have changed on the server since."""
    spoj_server.set_user(ana())
    fetch("kosaksi", "ana_b")
    spoj_server.set_user(ana(world_rank=4000, solved=("TEST",)))
    kosaksi = KOSAKSI_PAGE.read_bytes().replace(b"#28304 (0.6 points)", b"#28000 (0.7 points)")
    spoj_server.set_user_page("kosaksi", kosaksi)
    spoj_server.forget_requests()
    return spoj_server


def fails_for_kosaksi(server: SpojServer) -> str:
    """Fetch kosaksi and ana_b; kosaksi must fail, unchanged, and ana_b be stored. The reason."""
    before = user_dump("kosaksi")

    out, err, message = fails("kosaksi", "ana_b")

    assert user_dump("kosaksi") == before
    assert message == "scrape_spoj_users: 1 of 2 users failed: kosaksi"
    ana_b = SpojUser.objects.get(handle="ana_b")
    assert (ana_b.world_rank, ana_b.solved_count) == (4000, 1)
    assert out.splitlines()[-1].endswith(": 0 new, 1 changed, 0 unchanged, 1 failed.")
    lines = err.splitlines()
    assert len(lines) == 1
    prefix = "kosaksi failed, nothing changed: "
    assert lines[0].startswith(prefix)
    return lines[0].removeprefix(prefix)


def test_the_fixture_would_write_if_nothing_failed(stored: SpojServer) -> None:
    # The control for every failure test: the same fetch, unbroken, does write.
    before = user_dump("kosaksi")

    fetch("kosaksi", "ana_b")

    assert user_dump("kosaksi") != before
    assert SpojUser.objects.get(handle="kosaksi").world_rank == 28000


def test_a_server_that_keeps_failing_changes_nothing(stored: SpojServer) -> None:
    stored.fail(status=500, times=None, path="/users/kosaksi/")

    reason = fails_for_kosaksi(stored)

    assert reason == (
        f"{stored.base_url}/users/kosaksi/ (HTTP 500): still failing after 2 retries: 'Error 500'"
    )
    assert stored.hits(path="/users/kosaksi/") == 3


def test_a_429_is_retried_and_then_stored(stored: SpojServer) -> None:
    stored.rate_limit(retry_after=1, times=1, path="/users/kosaksi/")

    began = time.monotonic()
    fetch("kosaksi")

    assert time.monotonic() - began >= 0.95
    assert SpojUser.objects.get(handle="kosaksi").world_rank == 28000


def test_a_hanging_server_times_out_and_changes_nothing(stored: SpojServer) -> None:
    stored.hang(seconds=5, times=None, path="/users/kosaksi/")

    reason = fails_for_kosaksi(stored)

    assert reason == (
        f"{stored.base_url}/users/kosaksi/: no answer after 2 retries: read timed out (0.5 s)"
    )


def test_a_connection_closed_mid_page_changes_nothing(stored: SpojServer) -> None:
    stored.cut_transfer(path="/users/kosaksi/")

    assert fails_for_kosaksi(stored) == (
        f"{stored.base_url}/users/kosaksi/: connection closed before the whole page arrived"
    )


def test_a_page_cut_mid_table_changes_nothing(stored: SpojServer) -> None:
    # The changed saved page, cut after 36 of its 70 codes.
    stored.truncate(path="/users/kosaksi/")

    reason = fails_for_kosaksi(stored)

    assert reason.startswith(
        f"{stored.base_url}/users/kosaksi/ (HTTP 200): page ends without </html> after "
    )
    assert SpojUser.objects.get(handle="kosaksi").solved_count == 70


def test_a_maintenance_page_changes_nothing(stored: SpojServer) -> None:
    stored.maintenance(status=200, path="/users/kosaksi/")

    reason = fails_for_kosaksi(stored)

    assert reason.startswith(
        f"{stored.base_url}/users/kosaksi/ (HTTP 200): not a SPOJ profile page: "
        "\"SPOJ - maintenance We'll be back soon"
    )


# A stored user SPOJ no longer knows (its "no such user" page, or a 404) keeps its
# profile but is marked missing: tests/test_scrape_spoj_users_gone.py.


def test_someone_elses_profile_changes_nothing(stored: SpojServer) -> None:
    stored.set_user_page("kosaksi", render_profile(ana(handle="imposter")).encode())

    assert fails_for_kosaksi(stored) == (
        f"{stored.base_url}/users/kosaksi/ (HTTP 200): "
        "the page is the profile of @imposter, not of @kosaksi"
    )


def test_an_unknown_handle_creates_no_user(spoj_server: SpojServer) -> None:
    _, err, message = fails("nobody_here", "kosaksi")

    assert list(SpojUser.objects.values_list("handle", flat=True)) == ["kosaksi"]
    assert message == "scrape_spoj_users: 1 of 2 users failed: nobody_here"
    assert err.startswith("nobody_here failed, nothing changed: ")
    assert "no such SPOJ user" in err


class FailingHistoryInsert:
    """Fails the first INSERT of a history row: the last write of a changed user's save."""

    def __init__(self) -> None:
        self.failed = False

    def __call__(self, execute, sql, params, many, context):
        if not self.failed and sql.startswith("INSERT") and "spojuserhistory" in sql.lower():
            self.failed = True
            raise OperationalError("injected failure: the history insert")
        return execute(sql, params, many, context)


def test_a_database_error_while_storing_one_user_leaves_it_and_the_others_go_on(
    stored: SpojServer,
) -> None:
    before = user_dump("ana_b")

    with connection.execute_wrapper(FailingHistoryInsert()):
        _, err, message = fails("ana_b", "kosaksi")

    # Its user row and solved codes were written before the history insert failed.
    assert user_dump("ana_b") == before
    assert message == "scrape_spoj_users: 1 of 2 users failed: ana_b"
    assert err == "ana_b failed, nothing changed: injected failure: the history insert\n"
    assert SpojUser.objects.get(handle="kosaksi").world_rank == 28000
    assert SpojUserHistory.objects.filter(user__handle="kosaksi").count() == 2


def test_every_statement_of_a_save_can_fail_without_leaving_half_a_user(
    spoj_server: SpojServer,
) -> None:
    spoj_server.set_user(ana())
    fetch("ana_b")
    changed = parse_profile(
        render_profile(ana(world_rank=1, points="99.5", solved=("TEST", "GSS1", "GSS3"))), "ana_b"
    )
    counting = FailingStatement(None)
    with transaction.atomic():
        with connection.execute_wrapper(counting):
            save_profile(changed)
        transaction.set_rollback(True)
    before = user_dump()
    assert counting.seen >= 6

    for k in range(1, counting.seen + 1):
        failing = FailingStatement(k)
        with pytest.raises(OperationalError), connection.execute_wrapper(failing):
            save_profile(changed)
        assert user_dump() == before, f"statement {k} ({failing.failed_sql}) left a change"

    save_profile(changed)
    assert solved("ana_b") == {"TEST", "GSS1", "GSS3"}


@pytest.mark.django_db(transaction=True)
def test_two_fetches_of_the_same_new_handle_at_once_make_one_user() -> None:
    profile = parse_profile(KOSAKSI_PAGE.read_text("utf-8"), "kosaksi")
    outcome: dict[str, object] = {}

    def second_fetch() -> None:
        try:
            outcome["saved"] = save_profile(profile)
        except Exception as exc:
            outcome["error"] = exc
        finally:
            connections.close_all()

    with transaction.atomic():
        save_profile(profile)  # the first, not committed yet
        second = threading.Thread(target=second_fetch)
        second.start()
        second.join(timeout=1)
        assert second.is_alive()  # waiting for this transaction
    second.join(timeout=30)

    assert not second.is_alive()
    assert "error" not in outcome, outcome
    assert SpojUser.objects.count() == 1
    assert SolvedProblem.objects.count() == 70
    assert SpojUserHistory.objects.count() == 1  # the second found nothing changed
