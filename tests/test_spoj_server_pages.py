"""The fake SPOJ's profile and problem pages, and faults aimed at one path."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from core.models import score_for
from core.spoj.problem_page import parse_problem_tags
from core.spoj.profile import parse_profile
from tests.spoj_server import (
    DEMO_HANDLES,
    KOSAKSI_PAGE,
    SpojServer,
    data_set,
    demo_tags,
    demo_users,
    generated_user,
)

pytestmark = pytest.mark.any_database  # see tests/conftest.py


def get(server: SpojServer, path: str) -> requests.Response:
    return requests.get(server.base_url + path, timeout=5)


def test_kosaksi_is_the_saved_page_byte_for_byte(spoj_server: SpojServer) -> None:
    response = get(spoj_server, "/users/kosaksi/")

    assert response.status_code == 200
    assert response.content == KOSAKSI_PAGE.read_bytes()


def test_the_demo_users_read_back_as_generated(spoj_server: SpojServer) -> None:
    users = {p.code: p.users for p in data_set()}
    assert [user.handle for user in demo_users()] == list(DEMO_HANDLES[1:])

    for user in demo_users():
        profile = parse_profile(get(spoj_server, f"/users/{user.handle}/").text, user.handle)
        assert profile.solved == user.solved
        assert profile.world_rank == user.world_rank
        # Their points are what SPOJ would show for their problems, from the data set.
        exact = sum(score_for(users[code]) for code in user.solved if code in users)
        assert profile.spoj_points == Decimal(f"{exact:.1f}")
    # One of them lists codes the 2025 list does not have; kosaksi's are all in it.
    assert {"OLDPROB", "NEWPROB"} <= set(demo_users()[1].solved) - set(users)


def test_a_generated_user_solved_every_third_problem_by_score(spoj_server: SpojServer) -> None:
    user = generated_user("bench_many", 1000)
    spoj_server.set_user(user)

    profile = parse_profile(get(spoj_server, "/users/bench_many/").text, "bench_many")
    assert len(profile.solved) == len(set(profile.solved)) == 1000
    by_score = sorted(data_set(), key=lambda p: (p.users, p.code))  # fewer users: more points
    assert set(profile.solved) == {p.code for p in by_score[::3][:1000]}
    assert by_score[0].code in profile.solved
    assert by_score[1].code not in profile.solved
    with pytest.raises(ValueError, match="only 1324 problems"):
        generated_user("too_many", 1325)


def test_its_command_line_refuses_a_bad_generated_user() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tests.spoj_server", "--user", "Bad-Handle:10"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )

    assert result.returncode == 2
    assert "not HANDLE:SOLVED (e.g. many:1000): 'Bad-Handle:10'" in result.stderr


def test_an_unknown_handle_gets_the_site_without_a_profile(spoj_server: SpojServer) -> None:
    response = get(spoj_server, "/users/nobody_here/")
    assert response.status_code == 200
    assert 'id="content"' in response.text
    assert "user-profile-left" not in response.text

    spoj_server.unknown_user_status = 404
    assert get(spoj_server, "/users/nobody_here/").status_code == 404


def test_problem_pages_carry_the_demo_tags(spoj_server: SpojServer) -> None:
    assert parse_problem_tags(get(spoj_server, "/problems/YODANESS/").text, "YODANESS")
    assert [
        tag.slug for tag in parse_problem_tags(get(spoj_server, "/problems/PRIME1/").text, "PRIME1")
    ] == list(demo_tags()["PRIME1"])
    assert parse_problem_tags(get(spoj_server, "/problems/TOUR").text, "TOUR") == []
    assert get(spoj_server, "/problems/NOSUCHCODE/").status_code == 404


def test_a_fault_for_a_path_leaves_the_list_alone_and_the_other_way_round(
    spoj_server: SpojServer,
) -> None:
    spoj_server.fail(status=503, times=None, path="/users/kosaksi/")
    spoj_server.fail(status=502, times=None, start=0)

    assert get(spoj_server, "/users/kosaksi/").status_code == 503
    assert get(spoj_server, "/problems/classical/sort=0,start=0").status_code == 502
    assert get(spoj_server, "/problems/classical/sort=0,start=50").status_code == 200
    assert get(spoj_server, "/users/demo_ana/").status_code == 200
    assert get(spoj_server, "/problems/TEST/").status_code == 200
    assert spoj_server.hits(path="/users/kosaksi/") == 1
    assert spoj_server.hits(0) == 1


def test_it_prints_the_demo_handles_for_the_run_script() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tests.spoj_server", "--print-demo-handles"],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )

    assert result.stdout.split() == list(DEMO_HANDLES)


def test_it_prints_the_demo_codes_for_the_run_script() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tests.spoj_server", "--print-demo-codes"],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )

    assert result.stdout.split() == list(demo_tags())
    assert {"YODANESS", "TOUR", "PRIME1"} <= set(result.stdout.split())
