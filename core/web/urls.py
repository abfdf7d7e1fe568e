from django.urls import path, re_path

from core.web.views import exports, health, problem, score_table, trends, users

urlpatterns = [
    path("", score_table.score_table, name="score_table"),
    # Only characters a SPOJ code can hold reach the view (no NUL, no slash).
    re_path(
        r"^problems/(?P<code>[A-Z0-9_]{1,32})/$", problem.problem_detail, name="problem_detail"
    ),
    re_path(r"^problems/(?P<code>[A-Za-z0-9_]{1,32})/$", problem.to_upper_case),
    path("problems.csv", exports.problems_csv, name="problems_csv"),
    path("problems.json", exports.problems_json, name="problems_json"),
    path("trends/", trends.trends, name="trends"),
    path("users/", users.user_lookup, name="user_lookup"),
    # Handles as SPOJ spells them reach the view (upper case is redirected); the
    # view checks the length (core.spoj.profile.normalize_handle).
    re_path(r"^users/(?P<handle>[A-Za-z0-9_]{1,64})/$", users.user_detail, name="user_detail"),
    re_path(r"^users/(?P<handle>[A-Za-z0-9_]{1,64})\.json$", users.user_json, name="user_json"),
    re_path(
        r"^compare/(?P<a>[A-Za-z0-9_]{1,64})/(?P<b>[A-Za-z0-9_]{1,64})/$",
        users.compare_users,
        name="compare_users",
    ),
    path("healthz", health.healthz, name="healthz"),
    # Browsers ask for /favicon.ico on every page that links none (the admin's).
    path("favicon.ico", health.favicon, name="favicon"),
]
