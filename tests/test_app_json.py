"""app.json is valid for Heroku and describes this app (Button, review apps, CI)."""

import json

import jsonschema
import pytest

from tests.heroku_e2e import ROOT, read_procfile

pytestmark = pytest.mark.any_database  # see tests/conftest.py

SCHEMA_PATH = ROOT / "tests" / "fixtures" / "heroku" / "app.json.schema.json"


@pytest.fixture(scope="module")
def app_json() -> dict:
    return json.loads((ROOT / "app.json").read_text())


def test_app_json_is_valid_against_herokus_schema(app_json):
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(app_json), key=str)
    assert not errors, "\n".join(error.message for error in errors)


def test_the_schema_rejects_a_plain_string_env_value(app_json):
    # Guards the validation above: the copied schema really is the strict one.
    schema = json.loads(SCHEMA_PATH.read_text())
    broken = {**app_json, "env": {"DJANGO_SECRET_KEY": "not-an-object"}}
    assert not jsonschema.Draft7Validator(schema).is_valid(broken)


def test_the_secret_key_is_generated_per_app(app_json):
    secret = app_json["env"]["DJANGO_SECRET_KEY"]
    assert secret["generator"] == "secret"
    assert "value" not in secret


def test_no_env_value_is_empty_or_debug_on(app_json):
    # An empty value would be set as a config var and fail the settings' parsing.
    for name, spec in app_json["env"].items():
        assert spec.get("value", "x") != "", name
    assert app_json["env"]["DJANGO_DEBUG"]["value"] == "false"


def test_it_asks_for_postgres_and_the_scheduler(app_json):
    plans = [addon if isinstance(addon, str) else addon["plan"] for addon in app_json["addons"]]
    assert {plan.split(":")[0] for plan in plans} == {"heroku-postgresql", "scheduler"}


def test_the_formation_names_procfile_processes_with_one_web_dyno(app_json):
    formation = app_json["formation"]
    assert set(formation) <= set(read_procfile()) - {"release"}
    assert formation["web"]["quantity"] == 1
    assert formation["clock"]["quantity"] in (0, 1)
    # Workers cost a dyno and a broker: off until the app switches to the celery executor.
    assert formation["worker"]["quantity"] == 0
    assert app_json["env"]["SCHEDULED_TASKS_EXECUTOR"]["value"] == "fork"


def test_heroku_ci_runs_the_test_suite(app_json):
    script = app_json["environments"]["test"]["scripts"]["test"]
    assert "pytest" in script
    assert "requirements-dev.txt" in script


def test_the_postdeploy_script_fills_the_table_through_a_recorded_run(app_json):
    assert app_json["scripts"]["postdeploy"] == "python manage.py runtasks scrape_spoj --force"
