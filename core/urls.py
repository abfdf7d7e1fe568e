from django.urls import path, re_path

from core import views

urlpatterns = [
    path("", views.score_table, name="score_table"),
    # Only characters a SPOJ code can hold reach the view (no NUL, no slash).
    re_path(
        r"^problems/(?P<code>[A-Za-z0-9_]{1,32})/$", views.problem_detail, name="problem_detail"
    ),
    path("problems.csv", views.problems_csv, name="problems_csv"),
    path("problems.json", views.problems_json, name="problems_json"),
    path("healthz", views.healthz, name="healthz"),
]
