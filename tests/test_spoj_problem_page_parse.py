"""The problem-page parser: a problem's tags, and the pages it refuses to read as "no tags"."""

from __future__ import annotations

import pytest

from core.spoj.problem_page import ProblemPageError, TagLink, parse_problem_tags
from tests.spoj_server import (
    MAINTENANCE_PAGE,
    FixtureProblem,
    data_set,
    render_problem_page,
    truncated,
)

pytestmark = pytest.mark.any_database  # see tests/conftest.py

YODANESS_TAGS = ("graph-theory", "number-theory", "shortest-path", "sorting", "tree", "bitmasks")


def problem(code: str) -> FixtureProblem:
    return next(p for p in data_set() if p.code == code)


def page(code: str = "YODANESS", tags: tuple[str, ...] = YODANESS_TAGS) -> str:
    return render_problem_page(problem(code), tags)


def test_it_reads_the_tags_in_page_order() -> None:
    # What StopStalk's tests expect spoj.com to show for YODANESS.
    tags = parse_problem_tags(page(), "YODANESS")

    assert tags == [TagLink(slug=slug, name=slug) for slug in YODANESS_TAGS]


def test_a_problem_without_tags_has_none() -> None:
    # TOUR: no tags (StopStalk's tests); the div is there, empty.
    text = page("TOUR", ())
    assert 'id="problem-tags"' in text

    assert parse_problem_tags(text, "TOUR") == []


def test_the_slug_comes_from_the_link_and_the_name_from_the_span() -> None:
    text = page(tags=()).replace(
        '<div id="problem-tags" class="col-lg-12 text-center">',
        '<div id="problem-tags" class="col-lg-12 text-center">'
        '<a href="https://www.spoj.com/problems/tag/Dynamic-Programming/">'
        '<span class="problem-tag tag-big">#dynamic programming</span></a>'
        '<a href="/problems/tag/dfs">dfs</a>'
        '<a href="/problems/tag/dfs"><span class="problem-tag">#dfs</span></a>'
        '<a href="/problems/YODANESS/">not a tag</a>',
    )

    assert parse_problem_tags(text, "YODANESS") == [
        TagLink(slug="dynamic-programming", name="dynamic programming"),
        TagLink(slug="dfs", name="dfs"),
    ]


def test_tag_links_outside_the_tags_box_are_not_the_problems() -> None:
    text = page(tags=("tree",)).replace(
        "<p>The statement", '<a href="/problems/tag/greedy">see also</a><p>The statement'
    )

    assert parse_problem_tags(text, "YODANESS") == [TagLink(slug="tree", name="tree")]


def test_a_page_without_the_tags_box_is_refused_not_read_as_no_tags() -> None:
    text = page().replace('id="problem-tags"', 'id="problem-labels"')

    with pytest.raises(ProblemPageError, match=r"^no div#problem-tags on the page: "):
        parse_problem_tags(text, "YODANESS")


def test_a_maintenance_page_is_refused() -> None:
    with pytest.raises(ProblemPageError, match=r"no div#problem-tags on the page: .*maintenance"):
        parse_problem_tags(MAINTENANCE_PAGE, "YODANESS")


def test_another_problems_page_is_refused() -> None:
    with pytest.raises(ProblemPageError, match=r"^the page is problem TOUR's, not YODANESS's$"):
        parse_problem_tags(page("TOUR", ()), "YODANESS")


def test_a_page_cut_after_its_first_tag_is_refused() -> None:
    cut = truncated(page().encode(), "problem").decode()
    assert cut.endswith('<span class="problem-tag">#graph-theory</span>')

    with pytest.raises(ProblemPageError, match=r"^page ends without </html> after \d+ characters$"):
        parse_problem_tags(cut, "YODANESS")


def test_no_prefix_of_a_page_reads_as_its_tags() -> None:
    text = page()
    end = text.rindex("</html>")

    for length in range(0, end, 97):
        with pytest.raises(ProblemPageError):
            parse_problem_tags(text[:length], "YODANESS")
    assert len(parse_problem_tags(text[: end + 7], "YODANESS")) == 6


@pytest.mark.parametrize("slug", ["Bad Slug", "-leading", "x" * 65, "%2e%2e", "ünïcode"])
def test_a_tag_link_without_a_valid_slug_is_refused(slug: str) -> None:
    box = '<div id="problem-tags" class="col-lg-12 text-center">'
    text = page(tags=()).replace(box, f'{box}<a href="/problems/tag/{slug}">x</a>')

    with pytest.raises(ProblemPageError, match="has no valid slug"):
        parse_problem_tags(text, "YODANESS")
