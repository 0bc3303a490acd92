"""`scrapeguard drill` as CI runs it: a short drill against the demo, thresholds, JSON, HTML."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from scrapeguard.cli import main

#: A short drill: a declared scripting tool and sign-up probing, and one reader.
SHORT = ("--strategies", "curl,signup-probe", "--personas", "reader")


def drill(*args: str) -> Result:
    return CliRunner().invoke(main, ["drill", *args])


def test_a_short_drill_meets_its_thresholds_and_writes_json_and_html(tmp_path: Path) -> None:
    expect = tmp_path / "drill.toml"
    expect.write_text("max_people_refused = 0\nmax_profiles = 5\nmax_requests_until_refusal = 20\n")
    page = tmp_path / "drill.html"
    result = drill(*SHORT, "--expect", str(expect), "--json", "--html", str(page))
    assert result.exit_code == 0, result.output
    card = json.loads(result.stdout)
    assert [s["name"] for s in card["strategies"]] == ["curl", "signup-probe"]
    assert card["personas"][0]["refused"] == 0 and card["personas"][0]["requests"] > 0
    assert all(s["first_refusal"] is not None for s in card["strategies"])
    assert card["clock"] == "simulated" and len(card["policy_hash"]) == 64
    assert card["summary"]["text"] in page.read_text()


def test_a_threshold_broken_fails_the_drill(tmp_path: Path) -> None:
    expect = tmp_path / "drill.toml"
    # curl is refused on its first request: at most 0 requests before a refusal cannot hold
    expect.write_text("[strategy.curl]\nmax_requests_until_refusal = 0\n")
    result = drill("--strategies", "curl", "--personas", "none", "--expect", str(expect))
    assert result.exit_code == 1
    assert "expectation not met: strategy curl: requests_until_refusal 1 > 0" in result.stderr


def test_the_table_shows_each_strategy_and_persona() -> None:
    result = drill("--strategies", "curl", "--personas", "reader")
    assert result.exit_code == 0, result.output
    for words in ("strategy", "profiles leaked", "requests until first refusal", "contained after", "curl",
                  "persona", "people refused", "reader", "0 of 1", "controls tested on"):
        assert words in result.stdout


def test_strategies_list_names_them() -> None:
    result = drill("--strategies", "list")
    assert result.exit_code == 0
    names = [line.split(":", 1)[0] for line in result.stdout.splitlines()]
    assert {"curl", "low-and-slow", "distributed", "fresh-accounts", "lookup-sweep", "signup-probe",
            "headless-chromium"} <= set(names)


def test_bad_requests_are_clear_errors() -> None:
    external = drill("--target", "http://192.0.2.1/", "--strategies", "curl")
    assert external.exit_code == 2 and "--i-own-this-site" in external.stderr
    unknown = drill("--strategies", "curl,nope")
    assert unknown.exit_code == 2 and "unknown strategies: nope" in unknown.stderr
    no_user = drill("--strategies", "curl", "--db", "sqlite:///x.db")
    assert no_user.exit_code == 2 and "--db needs --as" in no_user.stderr


def test_a_drill_recorded_in_the_records_is_cited_by_the_regulator_report(tmp_path: Path) -> None:
    password = "a long enough password"
    env = {"SCRAPEGUARD_PASSWORD": password, "SCRAPEGUARD_NEW_PASSWORD": password,
           "SCRAPEGUARD_PSEUDONYM_KEY": "drill-test-key-0123456789"}
    db = f"sqlite:///{tmp_path / 'records.db'}"

    def run(*args: str) -> Result:
        result = CliRunner().invoke(main, list(args), env=env)
        assert result.exit_code == 0, result.output
        return result

    run("users", "add", "root", "--role", "admin", "--db", db)
    recorded = run("drill", "--strategies", "curl", "--personas", "none", "--json", "--db", db,
                   "--as", "root")
    summary = json.loads(recorded.stdout)["summary"]["text"]
    assert "drill 1 recorded" in recorded.stderr
    report = tmp_path / "report.html"
    run("report", "regulator", "--out", str(report), "--db", db, "--as", "root")
    assert summary in report.read_text()
    assert json.loads(run("audit", "verify", "--db", db, "--json").stdout)["ok"]


def test_a_user_who_may_not_record_drills_is_refused_before_the_drill_runs(tmp_path: Path) -> None:
    password = "a long enough password"
    env = {"SCRAPEGUARD_PASSWORD": password, "SCRAPEGUARD_NEW_PASSWORD": password,
           "SCRAPEGUARD_PSEUDONYM_KEY": "drill-test-key-0123456789"}
    db = f"sqlite:///{tmp_path / 'records.db'}"
    runner = CliRunner()
    added = runner.invoke(main, ["users", "add", "root", "--role", "admin", "--db", db], env=env)
    assert added.exit_code == 0
    assert runner.invoke(main, ["users", "add", "vic", "--role", "viewer", "--db", db, "--as", "root"],
                         env=env).exit_code == 0
    refused = runner.invoke(main, ["drill", "--strategies", "curl", "--personas", "none", "--json",
                                   "--db", db, "--as", "vic"], env=env)
    assert refused.exit_code == 3 and "drill.record" in refused.stderr
    assert refused.stdout == ""  # no scorecard: the drill never ran
