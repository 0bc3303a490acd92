"""`scrapeguard policy defaults` and `scrapeguard policy check FILE`, through click's CliRunner."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from scrapeguard.cli import main
from scrapeguard.policy import PolicyError, default_policy, defaults_text, load_policy

FIXTURES = Path(__file__).parent / "fixtures"
GOOD = FIXTURES / "good"
BAD = FIXTURES / "bad"

#: bad fixtures the loader rejects cleanly today (others show loader bugs, see test_loading.py)
BAD_CLEAN = [
    "unknown_top_level_key.toml",
    "unknown_nested_key.toml",
    "string_for_integer.toml",
    "boolean_as_integer.toml",
    "score_out_of_range.toml",
    "per_day_below_per_hour.toml",
    "invalid_mode.toml",
    "route_kind_not_allowed.toml",
    "route_subject_no_placeholder.toml",
    "route_pattern_without_slash.toml",
    "block_below_throttle.toml",
    "toml_syntax_error.toml",
    "several_problems.toml",
]

#: "  FILE:LINE: KEY: MESSAGE" or, for problems without a key (TOML syntax), "  FILE:LINE: MESSAGE"
PROBLEM_LINE = re.compile(r"^  (?P<file>.+?\.toml):(?P<line>\d+): (?:(?P<key>[\w.\[\]]+): )?(?P<message>.+)$")


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def test_policy_defaults_prints_the_defaults_text() -> None:
    result = run("policy", "defaults")
    assert result.exit_code == 0, result.output
    assert result.stdout == defaults_text()
    assert result.stderr == ""


def test_policy_defaults_output_is_a_loadable_policy(tmp_path: Path) -> None:
    path = tmp_path / "scrapeguard.toml"
    path.write_text(run("policy", "defaults").stdout, "utf-8")
    loaded = load_policy(path)
    assert loaded.source == str(path)
    assert loaded.mode == default_policy().mode
    assert loaded.profile_quota == default_policy().profile_quota
    assert loaded.routes == default_policy().routes
    # and `policy check` agrees
    result = run("policy", "check", str(path))
    assert result.exit_code == 0, result.output
    assert "valid" in result.stdout


@pytest.mark.parametrize("name", sorted(p.name for p in GOOD.glob("*.toml")))
def test_policy_check_good_fixture_exits_0_and_says_valid(name: str) -> None:
    path = GOOD / name
    result = run("policy", "check", str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{path}: valid (mode ")
    # only warnings on stderr, never errors (observe mode and a switched-off detector warn)
    assert all(": warning: " in line for line in result.stderr.splitlines())


def test_policy_check_summarises_the_policy() -> None:
    result = run("policy", "check", str(GOOD / "quotas.toml"))
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"{GOOD / 'quotas.toml'}: valid (mode enforce, 15 routes, "
        "anonymous quota 20/hour 100/day, accounts 200/hour 2000/day)\n"
    )
    observe = run("policy", "check", str(GOOD / "observe.toml"))
    assert "(mode observe, 15 routes," in observe.stdout
    routes = run("policy", "check", str(GOOD / "custom_routes.toml"))
    assert "(mode enforce, 4 routes," in routes.stdout


@pytest.mark.parametrize("name", BAD_CLEAN)
def test_policy_check_bad_fixture_exits_2_listing_every_problem(name: str) -> None:
    path = BAD / name
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    result = run("policy", "check", str(path))
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    first, *listed = result.stderr.splitlines()
    assert first == f"policy {path} is not valid:"
    assert listed == [f"  {problem}" for problem in info.value.problems]
    for line in listed:
        m = PROBLEM_LINE.match(line)
        assert m, line
        assert m["file"] == str(path)


def test_policy_check_prints_file_line_key_message_allowed() -> None:
    path = BAD / "score_out_of_range.toml"
    result = run("policy", "check", str(path))
    assert result.exit_code == 2
    assert f"  {path}:5: detectors.profile_quota.score: 1.5 is out of range (allowed: 0 <= value <= 1)\n" \
        in result.stderr

    path = BAD / "unknown_top_level_key.toml"
    result = run("policy", "check", str(path))
    assert result.exit_code == 2
    assert f"  {path}:3: moed: unknown key; did you mean 'mode'? (allowed: " in result.stderr


def test_policy_check_lists_all_problems_of_a_file() -> None:
    path = BAD / "several_problems.toml"
    result = run("policy", "check", str(path))
    assert result.exit_code == 2
    found = {(m["line"], m["key"]) for m in map(PROBLEM_LINE.match, result.stderr.splitlines()[1:]) if m}
    assert found == {
        ("2", "mode"),
        ("5", "client.session_ttl_seconds"),
        ("8", "detectors.profile_quota.enabled"),
        ("9", "detectors.profile_quota.score"),
        ("13", "detectors.profile_quota.anonymous.per_day"),
        ("16", "risk.throtle"),
        ("19", "actions.throttle_status"),
        ("22", "routes[0].pattern"),
        ("28", "routes[1].kind"),
    }


def test_policy_check_toml_syntax_error_names_the_line() -> None:
    path = BAD / "toml_syntax_error.toml"
    result = run("policy", "check", str(path))
    assert result.exit_code == 2
    assert f"  {path}:5: not valid TOML: " in result.stderr
    assert "Traceback" not in result.output


def test_policy_check_missing_file_exits_2_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "missing.toml"
    result = run("policy", "check", str(path))
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"  {path}: cannot read policy file: No such file or directory" in result.stderr


def test_policy_check_non_utf8_file_exits_2_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'mode = "observ\xe9"\n')
    result = run("policy", "check", str(path))
    assert result.exit_code == 2
    assert f"  {path}: not UTF-8 text: " in result.stderr


def test_policy_check_scalar_for_table_exits_2_not_a_traceback() -> None:
    result = run("policy", "check", str(BAD / "table_given_as_value.toml"))
    assert result.exit_code == 2, repr(result.exception)
    assert "risk: must be a table" in result.stderr


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_policy_check_help_explains_itself(flag: str) -> None:
    result = run("policy", "check", flag)
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())  # help text is wrapped to the terminal width
    assert "Usage: main policy check [OPTIONS] FILE" in text
    assert "Validate a policy file: every problem with file, line, key and what is allowed." in text


def test_policy_group_help_lists_its_commands() -> None:
    result = run("policy", "--help")
    assert result.exit_code == 0
    assert re.search(r"^\s+check\s+Validate a policy file", result.stdout, re.M)
    assert re.search(r"^\s+defaults\s+Print the built-in policy", result.stdout, re.M)


def test_policy_check_without_a_file_is_a_usage_error() -> None:
    result = run("policy", "check")
    assert result.exit_code == 2
    assert "Missing argument 'FILE'" in result.stderr
