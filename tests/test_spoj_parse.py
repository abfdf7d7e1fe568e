"""The list-page parser, on the saved 2014 page and on rendered current-layout pages."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from core.models import Problem
from core.spoj import parse
from core.spoj.parse import (
    BadRow,
    NoProblemTable,
    Pager,
    ParseError,
    ProblemRow,
    TruncatedPage,
    parse_list_page,
    parse_problem_list,
)
from tests.spoj_server import (
    MAINTENANCE_PAGE,
    OLD_LAYOUT_PAGE,
    FixtureProblem,
    data_set,
    render_page,
    truncated,
)

pytestmark = pytest.mark.any_database  # see tests/conftest.py


def by_code(code: str) -> FixtureProblem:
    return next(p for p in data_set() if p.code == code)


def page_of(*problems: FixtureProblem, with_commas: bool = False) -> str:
    return render_page(list(problems), 0, len(problems), with_commas)


def test_it_reads_the_saved_2014_page_in_the_old_layout() -> None:
    # The bytes are UTF-8 although the page's meta says iso-8859-2.
    rows = parse_problem_list(OLD_LAYOUT_PAGE.read_bytes().decode("utf-8"))

    assert len(rows) == 50
    assert rows[0] == ProblemRow(
        spoj_id=1,
        code="TEST",
        name="Life, the Universe, and Everything",
        users=52250,
        acceptance=34.5,
        quality=None,
    )
    assert rows[-1] == ProblemRow(
        spoj_id=54, code="JULKA", name="Julka", users=7508, acceptance=28.81, quality=None
    )
    assert len({row.code for row in rows}) == 50


def test_it_reads_a_current_layout_page_by_header_meaning() -> None:
    rows = parse_problem_list(render_page(data_set()[:50], 0, 3971))

    assert len(rows) == 50
    assert rows[0] == ProblemRow(
        spoj_id=1,
        code="TEST",
        name="Life, the Universe, and Everything",
        users=221566,
        acceptance=33.15,
        quality=303,
    )
    assert [row.code for row in rows] == [p.code for p in data_set()[:50]]


def test_it_reads_negative_and_missing_quality() -> None:
    disliked = min((p for p in data_set() if p.quality is not None), key=lambda p: p.quality or 0)
    unrated = by_code("EXPR1")

    rows = parse_problem_list(page_of(disliked, unrated))

    assert disliked.quality is not None
    assert disliked.quality < 0
    assert rows[0].quality == disliked.quality
    assert rows[1].quality is None


def test_it_strips_commas_and_whitespace_from_users() -> None:
    rows = parse_problem_list(page_of(by_code("TEST"), by_code("PRIME1"), with_commas=True))

    assert "221,566" in page_of(by_code("TEST"), with_commas=True)
    assert [row.users for row in rows] == [221566, 82235]


def test_it_keeps_names_as_spoj_shows_them() -> None:
    names = [
        "Huffman\u00c2\u00b4s Greed",  # double-encoded at the source: stored as shown
        "A Bugâ\x80\x99s Life",
        "Grandpa\u2019s Rubik Cube",
        "M&M Game",
        "<script>alert(1)</script>",
        'Say "cheese"',
    ]
    problems = [replace(by_code("TEST"), code=f"NAME{i}", name=n) for i, n in enumerate(names)]

    html = page_of(*problems)
    rows = parse_problem_list(html)

    assert "<script>alert" not in html  # escaped in the page...
    assert [row.name for row in rows] == names  # ...and text again once parsed


def test_it_accepts_rows_without_problemrow_class_and_tables_with_more_classes() -> None:
    html = page_of(by_code("TEST"))

    assert 'class="problems table table-condensed table-hover"' in html
    assert "problemrow" not in html.split("<tbody>")[1]
    assert parse_problem_list(html)[0].code == "TEST"


def test_it_reads_columns_in_any_order() -> None:
    html = """<html><body><table class="problems"><tr>
    <th>USERS</th><th>ACC&nbsp;%</th><th>NAME</th><th>QUALITY</th><th>ID</th></tr>
    <tr><td> 1,234 </td><td>12.50</td><td><a href="/problems/ABC/"><b>A b c</b></a></td>
    <td><span title="+3 -5">-2</span></td><td>77</td></tr></table></body></html>"""

    assert parse_problem_list(html) == [
        ProblemRow(spoj_id=77, code="ABC", name="A b c", users=1234, acceptance=12.5, quality=-2)
    ]


def test_it_never_reads_the_points_tooltip_as_anything() -> None:
    html = page_of(by_code("TEST"))

    assert 'title="Value 0 points.' in html
    row = parse_problem_list(html)[0]
    assert (row.users, row.acceptance) == (221566, 33.15)


def test_a_table_without_rows_is_the_end_of_the_list() -> None:
    assert parse_problem_list(render_page([], 4000, 3971)) == []


def test_a_message_row_in_an_empty_table_is_not_a_problem() -> None:
    html = render_page([], 4000, 3971).replace(
        "<tbody>\n", '<tbody>\n<tr><td colspan="5">No problems found.</td></tr>\n<tr></tr>\n'
    )

    assert "No problems found" in html
    assert parse_problem_list(html) == []


def test_it_reads_the_pager_of_the_saved_2014_page() -> None:
    page = parse_list_page(OLD_LAYOUT_PAGE.read_bytes().decode("utf-8"))

    assert len(page.rows) == 50
    assert page.pager == Pager(starts=(*range(50, 501, 50), 2950), next=50, last=2950)
    assert page.pager.furthest == 2950


def test_it_reads_the_pager_of_a_current_layout_page() -> None:
    page = parse_list_page(render_page(data_set()[1000:1050], 1000, 3971))

    # First, previous, two pages either side (1000 itself not a link), Next, last.
    assert page.pager == Pager(starts=(0, 900, 950, 1050, 1100, 3950), next=1050, last=3950)


def test_the_empty_page_after_the_list_links_back_to_its_last_pages() -> None:
    page = parse_list_page(render_page([], 4000, 3971))

    assert page.rows == []
    assert page.pager == Pager(starts=(0, 3900, 3950), next=None, last=3950)


def test_a_page_without_a_pager_has_an_empty_one() -> None:
    page = parse_list_page(render_page(data_set()[:50], 0, None))

    assert len(page.rows) == 50
    assert page.pager == Pager()
    assert page.pager.furthest is None


def test_only_pager_links_with_a_start_count() -> None:
    html = render_page(data_set()[:50], 0, 3971).replace(
        "</h3>",
        "</h3>\n"
        '<a href="/problems/classical/sort=0,start=9000">not the pager</a>\n'
        '<a class="pager_link" href="#">Previous</a>\n'
        '<a class="pager_link btn" href="/problems/classical/sort=6,start=4050">4050</a>',
    )

    pager = parse_list_page(html).pager

    assert pager.starts == (50, 100, 3950, 4050)  # not 9000, and "#" is no page
    assert (pager.next, pager.last) == (50, 3950)


def test_a_page_without_the_table_is_an_error_not_an_empty_list() -> None:
    with pytest.raises(NoProblemTable, match=r"no table\.problems"):
        parse_problem_list(MAINTENANCE_PAGE)


def test_a_table_without_a_users_column_is_an_error() -> None:
    html = page_of(by_code("TEST")).replace(">USERS<", ">SOLVERS<")

    with pytest.raises(ParseError, match=r"no users column \(headers: ID \| NAME \| QUALITY"):
        parse_problem_list(html)


def test_a_page_cut_off_mid_row_is_refused() -> None:
    page = render_page(data_set()[:50], 0, 3971).encode()

    cut = truncated(page).decode()

    assert cut.count("<tr>") > 25  # most rows are there, the last one half
    with pytest.raises(TruncatedPage, match="without </html>"):
        parse_problem_list(cut)


@pytest.mark.parametrize(
    ("shown", "wrong", "message"),
    [
        (">82235</a>", ">12x</a>", r"row 2: USERS '12x' is not a whole number"),
        (">16.24</a>", ">n/a</a>", r"row 2: ACC % 'n/a' is not a number"),
        (">16.24</a>", ">120.5</a>", r"row 2: ACC % '120.5' is not a percentage"),
        (">630</span>", ">lots</span>", r"row 2: QUALITY 'lots' is not a whole number"),
        (">Prime Generator</a>", "> </a>", r"row 2: empty name for PRIME1"),
        ('<td class="text-center">2</td>', "<td>#2</td>", r"row 2: ID '#2' is not a whole"),
        (">82235</a>", ">2147483648</a>", r"row 2: USERS 2147483648 is out of range"),
        (">630</span>", ">-2147483648</span>", r"row 2: QUALITY -2147483648 is out of range"),
        (">Prime Generator</a>", f">{'x' * 256}</a>", r"row 2: name of PRIME1 is longer than 255"),
        ("/problems/PRIME1", f"/problems/{'P' * 33}", r"row 2: code 'PPPP.*longer than 32"),
    ],
)
def test_a_bad_row_is_an_error_naming_the_row(shown: str, wrong: str, message: str) -> None:
    html = page_of(by_code("TEST"), by_code("PRIME1"))
    assert html.count(shown) == 1

    with pytest.raises(BadRow, match=message):
        parse_problem_list(html.replace(shown, wrong))


def test_a_closing_html_tag_before_the_rows_does_not_make_a_cut_page_complete() -> None:
    page = render_page(data_set()[:50], 0, 3971)
    page = page.replace("</head>", '<script>var tail = "</html>";</script>\n</head>')

    with pytest.raises(TruncatedPage):
        parse_problem_list(truncated(page.encode()).decode())


def test_a_row_with_missing_cells_is_an_error() -> None:
    html = page_of(by_code("TEST"), by_code("PRIME1"))
    # Drop the last cell (ACC %) of the second row.
    second = html.index("<tr>", html.index("<tbody>") + 10)
    end = html.index("</tr>", second)
    last_cell = html.rindex("<td", second, end)
    html = html[:last_cell] + html[end:]

    with pytest.raises(BadRow, match="row 2: 4 cells, expected 5"):
        parse_problem_list(html)


def test_a_name_link_that_is_not_a_problem_is_an_error() -> None:
    html = re.sub(r'href="/problems/PRIME1"', 'href="/users/PRIME1"', page_of(by_code("PRIME1")))

    with pytest.raises(BadRow, match=r"row 1: NAME link '/users/PRIME1' is not /problems/CODE"):
        parse_problem_list(html)


def test_in_the_2014_layout_the_code_column_must_match_the_link() -> None:
    html = OLD_LAYOUT_PAGE.read_bytes().decode().replace("\nPRIME1</a>", "\nPRIME2</a>", 1)

    with pytest.raises(BadRow, match="row 2: CODE 'PRIME2' does not match"):
        parse_problem_list(html)


def test_the_limits_match_the_problem_table() -> None:
    assert Problem._meta.get_field("code").max_length == parse.MAX_CODE_LENGTH
    assert Problem._meta.get_field("name").max_length == parse.MAX_NAME_LENGTH
