"""``scrape_spoj_users`` and a stored user SPOJ no longer has (a deleted account).

SPOJ's answer is its page without a profile, or a 404: each test runs with
both. The profile stays as last seen and ``missing_since`` records the first
such answer; the first miss fails the run, later ones within ``UNTRACK_AFTER``
do not, and after it the user is untracked, so the periodic refresh stops
asking and stops failing. The clock is moved with time-machine; the commands
talk real HTTP to the fake SPOJ.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client

from core.models import SolvedProblem, SpojUser, SpojUserHistory
from core.spoj.users import UNTRACK_AFTER
from tests.processes import Processes
from tests.spoj_server import SpojServer
from tests.test_scrape_spoj_users import ana, fails, fetch, solved, user_dump
from tests.web_data import parse, record_scrape

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # the first miss
SINCE = "2026-03-02 12:00 UTC"
UNTRACK_ON = "2026-03-09 12:00 UTC"  # T0 + 7 days
SOLVED = {"TEST", "PRIME1", "ONP"}


def at(moment: datetime) -> Any:
    return time_machine.travel(moment, tick=False)


def profile_dump(handle: str, *, without: tuple[str, ...] = ("missing_since",)) -> list[Any]:
    """``user_dump(handle)`` with the ``without`` fields of the user row left out."""
    fields = ["model", *(f.attname for f in SpojUser._meta.concrete_fields)]
    dropped = {fields.index(name) for name in without}
    return [
        tuple(v for i, v in enumerate(row) if i not in dropped) if row[0] == "SpojUser" else row
        for row in user_dump(handle)
    ]


def ana_b() -> SpojUser:
    return SpojUser.objects.get(handle="ana_b")


@pytest.fixture(params=["page without a profile", "404"])
def gone(request: pytest.FixtureRequest, spoj_server: SpojServer) -> SpojServer:
    """ana_b (two history rows) and kosaksi stored before T0; then SPOJ has no ana_b."""
    spoj_server.set_user(ana())
    with at(T0 - timedelta(days=2)):
        fetch("ana_b", "kosaksi")
    spoj_server.set_user(ana(world_rank=4990))
    with at(T0 - timedelta(days=1)):
        fetch("ana_b", "kosaksi")
    spoj_server.remove_user("ana_b")
    if request.param == "404":
        spoj_server.unknown_user_status = 404
    spoj_server.forget_requests()
    return spoj_server


def no_such_user(server: SpojServer, handle: str = "ana_b") -> str:
    """The reason fetch_profile gives for ``handle`` on this variant of "no such user"."""
    url = f"{server.base_url}/users/{handle}/"
    if server.unknown_user_status == 404:
        return f"{url} (HTTP 404): no such SPOJ user"
    return (
        f"{url} (HTTP 200): no such SPOJ user "
        f"(the page says 'User {handle} There is no user with this handle.')"
    )


def first_miss() -> None:
    with at(T0):
        fails()


def test_the_first_miss_fails_and_keeps_the_profile_as_last_seen(gone: SpojServer) -> None:
    before = profile_dump("ana_b")
    assert ana_b().missing_since is None

    with at(T0):
        out, err, message = fails("ana_b", "kosaksi")

    assert profile_dump("ana_b") == before
    user = ana_b()
    assert user.missing_since == T0
    assert user.tracked
    assert (user.world_rank, user.solved_count) == (4990, 3)
    assert solved("ana_b") == SOLVED
    assert SpojUserHistory.objects.filter(user=user).count() == 2
    assert message == "scrape_spoj_users: 1 of 2 users failed: ana_b"
    assert err.splitlines() == [
        f"ana_b failed, profile kept as last seen: {no_such_user(gone)}; it will be untracked "
        f"after 7 days (on {UNTRACK_ON}) if it stays missing"
    ]
    assert out.splitlines()[-1].startswith("Fetched 1 of 2 users in ")
    assert out.splitlines()[-1].endswith(" s: 0 new, 0 changed, 1 unchanged, 1 failed.")
    assert SpojUser.objects.get(handle="kosaksi").fetched_at == T0


def test_a_miss_within_the_grace_is_a_line_but_not_a_failure(gone: SpojServer) -> None:
    first_miss()
    before = profile_dump("ana_b")

    with at(T0 + UNTRACK_AFTER - timedelta(seconds=1)):
        out, err = fetch()  # the periodic refresh: every tracked user

    assert profile_dump("ana_b") == before
    user = ana_b()
    assert user.missing_since == T0
    assert user.tracked
    assert err.splitlines() == [
        f"ana_b: {no_such_user(gone)}; still missing since {SINCE}; untracked on {UNTRACK_ON} "
        "if it stays so (not counted as a failure: the first miss was)"
    ]
    assert out.splitlines()[-1].startswith("Fetched 1 of 2 users in ")
    assert out.splitlines()[-1].endswith(
        " s: 0 new, 0 changed, 1 unchanged, 0 failed, 1 still missing."
    )
    assert gone.hits(path="/users/ana_b/") == 2


def test_a_miss_after_seven_days_untracks_and_the_refresh_stops_asking(
    gone: SpojServer,
) -> None:
    first_miss()
    before = profile_dump("ana_b", without=("missing_since", "tracked"))

    with at(T0 + UNTRACK_AFTER):
        out, err = fetch()

    assert profile_dump("ana_b", without=("missing_since", "tracked")) == before
    user = ana_b()
    assert not user.tracked
    assert user.missing_since == T0
    assert err.splitlines() == [
        f"ana_b: {no_such_user(gone)}; missing since {SINCE}: untracked, the refresh no "
        "longer fetches it; to track it again: manage.py scrape_spoj_users ana_b"
    ]
    assert out.splitlines()[-1].endswith(
        " s: 0 new, 0 changed, 1 unchanged, 0 failed, 1 still missing (1 untracked)."
    )

    gone.forget_requests()
    with at(T0 + UNTRACK_AFTER + timedelta(hours=6)):
        out, err = fetch()

    assert gone.hits(path="/users/ana_b/") == 0
    assert gone.requests == ["/users/kosaksi/"]
    assert err == ""
    assert out.splitlines()[-1].endswith(" s: 0 new, 0 changed, 1 unchanged, 0 failed.")


def test_a_user_back_on_spoj_within_the_grace_is_no_longer_missing(gone: SpojServer) -> None:
    first_miss()
    gone.set_user(ana(world_rank=4000))

    with at(T0 + timedelta(days=3)):
        out, err = fetch()

    user = ana_b()
    assert user.missing_since is None
    assert user.tracked
    assert (user.world_rank, user.fetched_at) == (4000, T0 + timedelta(days=3))
    assert err == ""
    assert "  ana_b: on SPOJ again, no longer missing; tracked" in out.splitlines()
    assert out.splitlines()[-1].endswith(" s: 0 new, 1 changed, 1 unchanged, 0 failed.")

    # Gone again: a new first miss, counted from now.
    gone.remove_user("ana_b")
    with at(T0 + timedelta(days=4)):
        fails()
    assert ana_b().missing_since == T0 + timedelta(days=4)


def test_an_unchanged_profile_back_on_spoj_counts_as_changed(gone: SpojServer) -> None:
    first_miss()
    gone.set_user(ana(world_rank=4990))

    with at(T0 + timedelta(days=1)):
        out, _ = fetch("ana_b")

    assert ana_b().missing_since is None
    assert SpojUserHistory.objects.filter(user__handle="ana_b").count() == 2
    assert out.splitlines()[-1].endswith(" s: 0 new, 1 changed, 0 unchanged, 0 failed.")


def test_naming_a_user_untracked_while_missing_tracks_it_again_once_spoj_has_it(
    gone: SpojServer,
) -> None:
    first_miss()
    with at(T0 + UNTRACK_AFTER):
        fetch()
    assert not ana_b().tracked

    # Named while still missing: a line, not a failure, and it stays untracked.
    with at(T0 + UNTRACK_AFTER + timedelta(hours=1)):
        _, err = fetch("ana_b")
    assert err.splitlines() == [
        f"ana_b: {no_such_user(gone)}; missing since {SINCE}, not tracked; "
        "profile kept as last seen"
    ]
    assert not ana_b().tracked

    gone.set_user(ana(solved=("TEST", "PRIME1", "ONP", "FCTRL")))
    with at(T0 + timedelta(days=10)):
        out, err = fetch("ana_b")

    user = ana_b()
    assert user.tracked
    assert user.missing_since is None
    assert user.solved_count == 4
    assert "  ana_b: on SPOJ again, no longer missing; tracked" in out.splitlines()
    gone.forget_requests()
    with at(T0 + timedelta(days=10, hours=6)):
        fetch()
    assert gone.hits(path="/users/ana_b/") == 1


@pytest.mark.parametrize("fault", ["503", "maintenance page"])
def test_another_failure_of_a_missing_user_fails_and_neither_counts_nor_untracks(
    gone: SpojServer, fault: str
) -> None:
    first_miss()
    if fault == "503":
        gone.fail(status=503, times=None, path="/users/ana_b/")
    else:
        gone.maintenance(status=200, path="/users/ana_b/")
    before = user_dump("ana_b")

    with at(T0 + UNTRACK_AFTER + timedelta(days=1)):
        _, err, message = fails()

    assert user_dump("ana_b") == before  # missing_since and tracked included
    assert ana_b().tracked
    assert message == "scrape_spoj_users: 1 of 2 users failed: ana_b"
    assert err.startswith(f"ana_b failed, nothing changed: {gone.base_url}/users/ana_b/ (HTTP ")
    assert "no such SPOJ user" not in err


def test_another_failure_of_a_present_user_leaves_missing_since_null(gone: SpojServer) -> None:
    gone.fail(status=503, times=None, path="/users/kosaksi/")

    with at(T0):
        fails("kosaksi")

    assert SpojUser.objects.get(handle="kosaksi").missing_since is None


def test_an_unknown_handle_never_stored_is_a_plain_failure_and_stores_nothing(
    gone: SpojServer,
) -> None:
    with at(T0):
        _, err, message = fails("nobody_x")

    assert not SpojUser.objects.filter(handle="nobody_x").exists()
    assert SolvedProblem.objects.filter(user__handle="nobody_x").count() == 0
    assert message == "scrape_spoj_users: 1 of 1 users failed: nobody_x"
    assert err == f"nobody_x failed, nothing changed: {no_such_user(gone, 'nobody_x')}\n"


def test_the_first_miss_of_a_user_untracked_by_hand_fails_without_a_promise(
    gone: SpojServer,
) -> None:
    SpojUser.objects.filter(handle="ana_b").update(tracked=False)

    with at(T0):
        _, err, _ = fails("ana_b")

    assert err.splitlines() == [
        f"ana_b failed, profile kept as last seen: {no_such_user(gone)}; it is not tracked"
    ]
    assert ana_b().missing_since == T0


def test_verbosity_0_still_reports_the_missing_user(gone: SpojServer) -> None:
    first_miss()

    with at(T0 + timedelta(days=1)):
        out, err = StringIO(), StringIO()
        call_command("scrape_spoj_users", verbosity=0, stdout=out, stderr=err)

    assert out.getvalue() == ""
    assert "still missing since" in err.getvalue()


# --- the user's page and the admin ----------------------------------------------------------


def test_the_user_page_says_since_when_spoj_has_had_no_such_user(
    gone: SpojServer, client: Client
) -> None:
    record_scrape(T0 - timedelta(days=3), 0)  # a data version: the page is cached
    before = client.get("/users/ana_b/")
    assert before.status_code == 200
    assert parse(before).select_one("#missing-notice") is None
    assert "no such user" not in before.content.decode()

    first_miss()
    response = client.get("/users/ana_b/")

    assert response.status_code == 200
    assert response["ETag"] != before["ETag"]
    assert (
        '<p class="notice" id="missing-notice">SPOJ has had no such user since '
        '<time datetime="2026-03-02T12:00:00+00:00">2026-03-02 12:00 UTC</time>; this is the '
        'profile as last seen on <time datetime="2026-03-01T12:00:00+00:00">2026-03-01 12:00 '
        "UTC</time>.</p>"
    ) in response.content.decode()
    assert parse(response).select_one("#solved-count").get_text() == "3"

    gone.set_user(ana(world_rank=4990))
    with at(T0 + timedelta(days=1)):
        fetch("ana_b")
    assert parse(client.get("/users/ana_b/")).select_one("#missing-notice") is None


def test_the_user_json_says_since_when_spoj_has_had_no_such_user(
    gone: SpojServer, client: Client
) -> None:
    record_scrape(T0 - timedelta(days=3), 0)
    assert json.loads(client.get("/users/ana_b.json").content)["missing_since"] is None

    first_miss()
    data = json.loads(client.get("/users/ana_b.json").content)
    assert data["missing_since"] == "2026-03-02T12:00:00+00:00"
    assert data["fetched_at"] == "2026-03-01T12:00:00+00:00"
    assert data["solved_count"] == 3

    gone.set_user(ana(world_rank=4990))
    with at(T0 + timedelta(days=1)):
        fetch("ana_b")
    assert json.loads(client.get("/users/ana_b.json").content)["missing_since"] is None


def test_the_admin_lists_and_filters_by_missing_since(
    gone: SpojServer, superuser_client: Client
) -> None:
    first_miss()

    page = parse(superuser_client.get("/admin/core/spojuser/"))
    rows = {
        row.select_one("th.field-handle, td.field-handle").get_text(strip=True): row
        for row in page.select("#result_list tbody tr")
    }
    assert rows["ana_b"].select_one("td.field-missing_since").get_text(strip=True) != "-"
    assert "2026" in rows["ana_b"].select_one("td.field-missing_since").get_text()
    assert rows["kosaksi"].select_one("td.field-missing_since").get_text(strip=True) == "-"
    missing = parse(superuser_client.get("/admin/core/spojuser/?missing_since__isnull=False"))
    handles = [
        cell.get_text(strip=True) for cell in missing.select("#result_list tbody .field-handle")
    ]
    assert handles == ["ana_b"]
    change = parse(superuser_client.get(f"/admin/core/spojuser/{ana_b().pk}/change/"))
    assert change.select_one("input[name=missing_since]") is None  # read-only


# --- a real manage.py process ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_as_a_process_misses_within_and_after_the_grace_exit_0_and_a_first_one_1(
    processes: Processes, spoj_server: SpojServer
) -> None:
    spoj_server.set_user(ana())
    fetch("kosaksi", "ana_b", "demo_ben")
    now = datetime.now(UTC)
    ana_since = now - timedelta(days=2)
    ben_since = now - timedelta(days=8)
    SpojUser.objects.filter(handle="ana_b").update(missing_since=ana_since, fetched_at=now)
    SpojUser.objects.filter(handle="demo_ben").update(
        missing_since=ben_since, fetched_at=now - timedelta(hours=1)
    )
    SpojUser.objects.filter(handle="kosaksi").update(fetched_at=now - timedelta(hours=2))
    spoj_server.remove_user("ana_b")
    spoj_server.remove_user("demo_ben")
    base = spoj_server.base_url
    args = ["scrape_spoj_users", "--base-url", base, "--delay", "0"]

    def moment(value: datetime) -> str:
        return f"{value:%Y-%m-%d %H:%M} UTC"

    code, output = processes.manage(args, tasks={}, PYTHONUNBUFFERED="")

    lines = output.splitlines()
    assert code == 0, output
    assert lines == [
        "user 1 of 3: kosaksi",
        "  kosaksi: 70 solved (+0 -0), world rank #28304 (0.6 points)",
        "user 2 of 3: demo_ben",
        f"demo_ben: {no_such_user(spoj_server, 'demo_ben')}; missing since "
        f"{moment(ben_since)}: untracked, the refresh no longer fetches it; to track it "
        "again: manage.py scrape_spoj_users demo_ben",
        "user 3 of 3: ana_b",
        f"ana_b: {no_such_user(spoj_server)}; still missing since {moment(ana_since)}; "
        f"untracked on {moment(ana_since + UNTRACK_AFTER)} if it stays so (not counted as a "
        "failure: the first miss was)",
        lines[6],
    ]
    assert lines[6].startswith("Fetched 1 of 3 users in ")
    assert lines[6].endswith(
        " s: 0 new, 0 changed, 1 unchanged, 0 failed, 2 still missing (1 untracked)."
    )
    assert list(SpojUser.objects.filter(tracked=True).values_list("handle", flat=True)) == [
        "ana_b",
        "kosaksi",
    ]

    # A first miss, as a 404: the run fails.
    spoj_server.unknown_user_status = 404
    spoj_server.remove_user("kosaksi")
    code, output = processes.manage([*args, "kosaksi"], tasks={}, PYTHONUNBUFFERED="")

    lines = output.splitlines()
    assert code == 1, output
    assert "Traceback" not in output
    kosaksi = SpojUser.objects.get(handle="kosaksi")
    assert kosaksi.missing_since is not None
    assert kosaksi.solved_count == 70
    assert lines[1] == (
        f"kosaksi failed, profile kept as last seen: {base}/users/kosaksi/ (HTTP 404): no such "
        f"SPOJ user; it will be untracked after 7 days (on "
        f"{moment(kosaksi.missing_since + UNTRACK_AFTER)}) if it stays missing"
    )
    assert lines[-1] == "CommandError: scrape_spoj_users: 1 of 1 users failed: kosaksi"
