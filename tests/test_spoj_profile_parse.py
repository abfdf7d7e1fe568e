"""The profile parser, on the saved real page of kosaksi (2019) and on rendered variants."""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal

import pytest

from core.spoj.profile import (
    HANDLE_MAX_LENGTH,
    NotAProfile,
    Profile,
    ProfileError,
    TruncatedProfile,
    UnknownUser,
    normalize_handle,
    parse_profile,
)
from tests.spoj_server import (
    KOSAKSI_PAGE,
    MAINTENANCE_PAGE,
    FakeUser,
    render_no_such_user,
    render_profile,
    truncated,
)

pytestmark = pytest.mark.any_database  # see tests/conftest.py

# The 70 codes of the saved page, in its order (7 a row), as the page's own
# source (a course exercise) lists them.
KOSAKSI_SOLVED = [
    "ABSYS",
    "ARITH2",
    "CANTON",
    "FCTRL2",
    "INVCNT",
    "NY10A",
    "PT07Z",
    "ACODE",
    "ARMY",
    "COINS",
    "FENCE1",
    "JULKA",
    "OFFSIDE",
    "SAMER08F",
    "ACPC10A",
    "ARRAYSUB",
    "CRDS",
    "GIRLSNBS",
    "LASTDIG",
    "OLOLO",
    "SBANK",
    "ADDREV",
    "BEENUMS",
    "EASYPROB",
    "GSS1",
    "LASTDIG2",
    "ONP",
    "STAMPS",
    "AE00",
    "BISHOPS",
    "EDIST",
    "GSS3",
    "MARBLES",
    "PALIN",
    "STPAR",
    "AGGRCOW",
    "BITMAP",
    "EIGHTS",
    "HANGOVER",
    "MAXLN",
    "PARTY",
    "TEST",
    "AIBOHP",
    "BUGLIFE",
    "ETF",
    "HORRIBLE",
    "MIXTURES",
    "PERMUT2",
    "TOANDFRO",
    "AMR10G",
    "BYTESM2",
    "FARIDA",
    "HOTELS",
    "NGM",
    "PIGBANK",
    "TRICOUNT",
    "ANARC09A",
    "CANDY",
    "FASHION",
    "HPYNOS",
    "NHAY",
    "PRIME1",
    "TRT",
    "AP2",
    "CANDY3",
    "FCTRL",
    "HUBULLU",
    "NSTEPS",
    "PT07Y",
    "WILLITST",
]


def saved_page() -> str:
    return KOSAKSI_PAGE.read_bytes().decode("utf-8")


def user(**changes: object) -> FakeUser:
    base = FakeUser(
        handle="tourist_x",
        name="Gennady K.",
        solved=("TEST", "PRIME1", "ONP"),
        world_rank=120,
        points="1234.5",
        location="Gomel, Belarus",
        institution="ITMO",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_it_reads_the_saved_real_profile() -> None:
    profile = parse_profile(saved_page(), "kosaksi")

    assert profile == Profile(
        handle="kosaksi",
        name="Kousshik Raj",
        world_rank=28304,
        spoj_points=Decimal("0.6"),
        solved=tuple(KOSAKSI_SOLVED),
    )
    assert len(profile.solved) == 70


def test_the_viewers_links_on_the_saved_page_are_not_the_owners() -> None:
    page = saved_page()
    # The page was saved by the logged-in user itactuk: the menu links their status.
    assert 'href="/status/itactuk"' in page

    profile = parse_profile(page, "kosaksi")

    assert "itactuk" not in profile.solved
    assert all(re.fullmatch(r"[A-Z0-9_]+", code) for code in profile.solved)
    # Nor can the viewer pass the page off as theirs.
    with pytest.raises(
        ProfileError, match=r"^the page is the profile of @kosaksi, not of @itactuk$"
    ):
        parse_profile(page, "itactuk")


def test_links_to_another_users_status_inside_the_solved_table_are_ignored() -> None:
    page = render_profile(user(viewer="itactuk", viewer_links=("FCTRL", "TOUR")))
    assert "/status/TOUR,itactuk/" in page

    assert parse_profile(page, "tourist_x").solved == ("TEST", "PRIME1", "ONP")


def test_it_reads_a_rendered_profile() -> None:
    assert parse_profile(render_profile(user()), "tourist_x") == Profile(
        handle="tourist_x",
        name="Gennady K.",
        world_rank=120,
        spoj_points=Decimal("1234.5"),
        solved=("TEST", "PRIME1", "ONP"),
    )


def test_the_world_rank_is_found_by_its_icon_when_the_location_line_is_missing() -> None:
    page = render_profile(user(location=None, institution=None))
    assert "fa-map-marker" not in page

    profile = parse_profile(page, "tourist_x")

    assert (profile.world_rank, profile.spoj_points) == (120, Decimal("1234.5"))


def test_a_profile_without_a_world_rank_line_has_no_rank_rather_than_a_wrong_one() -> None:
    profile = parse_profile(render_profile(user(world_rank=None)), "tourist_x")

    assert (profile.world_rank, profile.spoj_points) == (None, None)
    assert profile.solved == ("TEST", "PRIME1", "ONP")


def test_a_todo_table_after_the_solved_one_is_not_read() -> None:
    page = render_profile(user(todo=("GSS1", "GSS3", "KQUERY")))
    assert "/status/KQUERY,tourist_x/" in page

    assert parse_profile(page, "tourist_x").solved == ("TEST", "PRIME1", "ONP")


def test_a_user_who_solved_nothing_has_an_empty_list() -> None:
    profile = parse_profile(render_profile(user(solved=(), world_rank=None)), "tourist_x")

    assert profile.solved == ()
    assert profile.name == "Gennady K."


def test_padding_cells_and_repeated_codes_do_not_count() -> None:
    page = render_profile(user(solved=(*(f"P{i}" for i in range(9)), "P3")))
    assert page.count('<td align="left" width="14%"></td>') == 4  # 10 codes, rows of 7

    assert parse_profile(page, "tourist_x").solved == tuple(f"P{i}" for i in range(9))


def test_an_upper_case_at_handle_still_names_the_same_user() -> None:
    page = render_profile(user()).replace("<h4>@tourist_x</h4>", "<h4>@Tourist_X</h4>")

    assert parse_profile(page, "tourist_x").handle == "tourist_x"


def test_the_no_such_user_page_is_an_unknown_user_not_an_empty_profile() -> None:
    with pytest.raises(UnknownUser, match=r"^no such SPOJ user \(the page says 'User nobody_"):
        parse_profile(render_no_such_user("nobody_here"), "nobody_here")


def test_a_page_that_is_not_spojs_is_not_taken_for_an_unknown_user() -> None:
    with pytest.raises(NotAProfile, match=r"^not a SPOJ profile page: .*maintenance"):
        parse_profile(MAINTENANCE_PAGE, "kosaksi")


def test_the_saved_page_cut_mid_table_is_refused() -> None:
    cut = truncated(KOSAKSI_PAGE.read_bytes(), "user").decode("utf-8")
    # lxml would read the 36 codes before the cut as a complete list.
    assert cut.count(",kosaksi/") == 36

    with pytest.raises(TruncatedProfile, match=r"^page ends without </html> after \d+ characters$"):
        parse_profile(cut, "kosaksi")


def test_no_prefix_of_the_saved_page_reads_as_a_profile() -> None:
    page = saved_page()
    end = page.rindex("</html>")

    for length in [*range(0, end, 211), end, end + 5]:
        with pytest.raises(ProfileError):
            parse_profile(page[:length], "kosaksi")
    assert len(parse_profile(page[: end + 7], "kosaksi").solved) == 70


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda page: page.replace("<h4>List of solved classical problems:</h4>", ""),
            "the page has no list of solved classical problems",
        ),
        (
            lambda page: page.replace(
                "<h4>List of solved classical problems:</h4>",
                "<h4>List of solved classical problems:</h4><p>Loading…</p>",
            ),
            "the list of solved classical problems is a p, not a table",
        ),
        (
            lambda page: page.replace("World Rank: #120 (1234.5 points)", "World Rank: soon"),
            "cannot read the world rank line 'World Rank: soon'",
        ),
        (
            lambda page: page.replace("1234.5 points", "1234.56789 points"),
            "points 1234.56789 do not fit the stored precision",
        ),
        (
            lambda page: page.replace("#120 ", "#99999999999 "),
            "world rank 99999999999 is out of range",
        ),
        (
            lambda page: page.replace("#120 ", "#0 "),
            "world rank 0 is out of range",
        ),
        (
            lambda page: page.replace("/status/ONP,tourist_x/", f"/status/{'X' * 33},tourist_x/"),
            f"solved code '{'X' * 33}'... is longer than 32 characters",
        ),
        (
            lambda page: page.replace("<h4>@tourist_x</h4>", ""),
            "the profile shows no @handle",
        ),
        (
            lambda page: page.replace("<h4>@tourist_x</h4>", "<h4>@someone_else</h4>"),
            "the page is the profile of @someone_else, not of @tourist_x",
        ),
        (
            lambda page: page.replace("Gennady K.", "G" * 256),
            "the name is longer than 255 characters",
        ),
    ],
)
def test_a_profile_that_does_not_read_as_expected_is_refused(change, message) -> None:
    page = change(render_profile(user()))

    with pytest.raises(ProfileError) as caught:
        parse_profile(page, "tourist_x")
    assert str(caught.value) == message


def test_an_empty_body_is_refused() -> None:
    with pytest.raises(TruncatedProfile):
        parse_profile("", "kosaksi")


@pytest.mark.parametrize(
    ("value", "handle"),
    [("kosaksi", "kosaksi"), (" Kosaksi\n", "kosaksi"), ("a_1", "a_1"), ("x" * 32, "x" * 32)],
)
def test_a_handle_is_stripped_and_lower_cased(value: str, handle: str) -> None:
    assert normalize_handle(value) == handle


@pytest.mark.parametrize(
    "value",
    [
        "",
        "a",
        "x" * (HANDLE_MAX_LENGTH + 1),
        "bad-handle",
        "../etc",
        "kosaksi/",
        "ko saksi",
        "kösaksi",
        "kosaksi?x=1",
        "%2e%2e",
    ],
)
def test_anything_else_is_not_a_handle(value: str) -> None:
    with pytest.raises(ValueError, match="is not a SPOJ handle"):
        normalize_handle(value)
