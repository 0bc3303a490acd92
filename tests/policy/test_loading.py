"""Policy loading and validation, in the style of anubis's policy tests.

Every file in `fixtures/good` must load and say what its file says; every file
in `fixtures/bad` must be refused with exactly the problems listed in BAD_CASES
below: the file, the dotted key, the line where that key stands in the fixture,
what is wrong and what is allowed.

The fixtures at the end of BAD_CASES each pinned a validation bug that has
since been fixed (a crash, a missing line, a cascading second problem).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from scrapeguard.policy import (
    Policy,
    PolicyError,
    PolicyProblem,
    default_policy,
    defaults_text,
    load_policy,
    load_policy_text,
)
from scrapeguard.policy import loading as loading_module
from scrapeguard.policy.model import Quota, RouteRule
from scrapeguard.routes import RouteMap

FIXTURES = Path(__file__).parent / "fixtures"
GOOD = FIXTURES / "good"
BAD = FIXTURES / "bad"


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.toml"))


def _as_default(policy: Policy, **changes: object) -> Policy:
    """`policy` with `changes` and the defaults' source, to compare with default_policy()."""
    return dataclasses.replace(policy, source="<defaults>", **changes)


# ---------------------------------------------------------------------------
# The built-in defaults
# ---------------------------------------------------------------------------


def test_default_policy_has_the_documented_values() -> None:
    p = default_policy()
    assert p.mode == "enforce"
    assert p.enforcing is True
    assert p.source == "<defaults>"

    pq = p.profile_quota
    assert pq.enabled is True
    assert pq.score == 0.6
    assert pq.anonymous == Quota(per_hour=60, per_day=300, per_week=1000)
    assert pq.account == Quota(per_hour=150, per_day=1000, per_week=3000)
    assert pq.new_account == Quota(per_hour=30, per_day=100, per_week=300)
    assert pq.shared_address == Quota(per_hour=300, per_day=1500, per_week=4000)
    assert pq.new_account_max_age_days == 7
    assert pq.network_enabled is False
    assert pq.network == Quota(per_hour=600, per_day=3000, per_week=0)

    assert (p.risk.throttle, p.risk.block) == (0.5, 0.9)
    assert (p.actions.throttle_status, p.actions.block_status) == (429, 403)
    assert p.actions.escalate_after == 10
    assert p.allowlist.cidrs == ()
    assert p.allowlist.accounts == frozenset()
    assert p.client.session_cookie == "session"
    assert p.client.account_header == "X-Account-Id"
    assert (p.store.max_keys, p.store.max_members_per_key) == (200_000, 4096)


def test_default_route_map_is_the_demo_sites() -> None:
    routes = {r.pattern: r for r in default_policy().routes}
    member_page = routes["/u/{username}"]
    assert (member_page.kind, member_page.subject) == ("profile", "username")
    assert "user.name" in member_page.categories
    api = routes["/api/v1/members/{id}"]
    assert (api.kind, api.subject) == ("profile", "id")
    assert "user.contact.phone_number" in api.categories
    assert routes["/lookup"].kind == "contact_lookup"
    assert routes["/lookup"].subject == "query:email"
    assert routes["/static/{path*}"].kind == "asset"

    matched = RouteMap(default_policy().routes).match("/u/alice")
    assert (matched.kind, matched.subject) == ("profile", "username:alice")


def test_defaults_text_is_the_shipped_file_and_valid_toml() -> None:
    text = defaults_text()
    shipped = Path(loading_module.__file__).with_name("defaults.toml").read_text("utf-8")
    assert text == shipped
    data = tomllib.loads(text)
    assert data["mode"] == "enforce"
    pq = data["detectors"]["profile_quota"]
    assert pq["anonymous"] == {"per_hour": 60, "per_day": 300, "per_week": 1000}
    assert pq["account"] == {"per_hour": 150, "per_day": 1000, "per_week": 3000}
    assert pq["new_account"] == {"max_age_days": 7, "per_hour": 30, "per_day": 100, "per_week": 300}
    assert pq["network"]["enabled"] is False
    assert [r["pattern"] for r in data["routes"]][:2] == ["/u/{username}", "/api/v1/members/{id}"]


def test_defaults_text_loaded_as_a_policy_file_is_the_default_policy() -> None:
    assert _as_default(load_policy_text(defaults_text(), "defaults.toml")) == default_policy()


_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_.\"-]+)\s*=")


def _undocumented_keys(text: str) -> list[str]:
    """`table.key` of every `key =` line with no comment line above it in its table.

    The comment block right above a table header documents that table; the
    tables of an array ([[routes]]) share one section, documented once.
    """
    documented: dict[str, bool] = {"": False}
    current = ""
    previous_was_comment = False
    missing = []
    for line in text.splitlines():
        stripped = line.strip()
        header = _HEADER.match(line)
        if header:
            current = header.group(1)
            documented[current] = documented.get(current, False) or previous_was_comment
        elif stripped.startswith("#"):
            documented[current] = True
        elif (key := _KEY.match(line)) and not documented[current]:
            missing.append(f"{current}.{key.group(1)}".lstrip("."))
        if stripped:
            previous_was_comment = stripped.startswith("#")
    return missing


def test_every_default_value_is_documented() -> None:
    text = defaults_text()
    key_lines = [line for line in text.splitlines() if _KEY.match(line)]
    assert len(key_lines) > 40  # the check below is not vacuous
    assert _undocumented_keys(text) == []


def test_undocumented_key_check_catches_an_undocumented_key() -> None:
    text = "# the mode\nmode = 1\n\n[risk]\nthrottle = 1\n# documented\nblock = 2\n\n[[routes]]\nkind = 1\n"
    assert _undocumented_keys(text) == ["risk.throttle", "routes.kind"]


def test_an_empty_or_comment_only_policy_is_the_defaults() -> None:
    assert _as_default(load_policy_text("", "empty.toml")) == default_policy()
    assert _as_default(load_policy_text("# nothing to change\n\n", "c.toml")) == default_policy()


# ---------------------------------------------------------------------------
# Good fixtures: each loads, and says what its file says
# ---------------------------------------------------------------------------

GOOD_CHECKS: dict[str, Callable[[Policy], None]] = {}


def _good(name: str) -> Callable[[Callable[[Policy], None]], Callable[[Policy], None]]:
    def register(check: Callable[[Policy], None]) -> Callable[[Policy], None]:
        GOOD_CHECKS[name] = check
        return check

    return register


@_good("observe.toml")
def _check_observe(p: Policy) -> None:
    assert p.mode == "observe"
    assert p.enforcing is False
    assert _as_default(p, mode="enforce") == default_policy()  # nothing else changed


@_good("allowlist.toml")
def _check_allowlist(p: Policy) -> None:
    net = ipaddress.ip_network
    assert p.allowlist.cidrs == (
        net("192.0.2.0/24"),
        net("2001:db8:1::/48"),
        net("198.51.100.7/32"),
        net("10.0.0.0/8"),
    )
    assert [n.version for n in p.allowlist.cidrs] == [4, 6, 4, 4]
    assert ipaddress.ip_address("2001:db8:1:ffff::5") in p.allowlist.cidrs[1]
    assert ipaddress.ip_address("2001:db8:2::5") not in p.allowlist.cidrs[1]
    assert p.allowlist.accounts == frozenset({"monitoring-bot", "partner-42"})
    assert p.profile_quota == default_policy().profile_quota
    assert p.routes == default_policy().routes


@_good("custom_routes.toml")
def _check_custom_routes(p: Policy) -> None:
    assert p.routes == (
        RouteRule("/people/{slug}", "profile", "slug", ("user.name", "user.contact.email")),
        RouteRule("/find", "contact_lookup", "query:phone", ("user.contact.phone_number",)),
        RouteRule("/assets/{file*}", "asset", None, ()),
        RouteRule("/about", "page", None, ()),
    )
    route_map = RouteMap(p.routes)
    person = route_map.match("/people/jane-doe")
    assert (person.kind, person.subject) == ("profile", "slug:jane-doe")
    assert route_map.match("/find", "phone=5550100").subject == "phone:5550100"
    assert route_map.match("/assets/css/site.css").kind == "asset"
    # the demo site's routes are replaced, not extended
    assert route_map.match("/u/alice").kind == "page"
    assert route_map.match("/api/v1/members/1").kind == "page"
    assert p.mode == "enforce"


@_good("quotas.toml")
def _check_quotas(p: Policy) -> None:
    pq = p.profile_quota
    assert pq.enabled is True
    assert pq.score == 0.95
    # the weekly quotas, not named in the file, are the defaults
    assert pq.anonymous == Quota(20, 100, 1000)
    assert pq.account == Quota(200, 2000, 3000)
    assert pq.new_account == Quota(10, 50, 300)
    assert pq.new_account_max_age_days == 14
    assert pq.network_enabled is True
    assert pq.network == Quota(1000, 5000, 0)
    assert (p.risk.throttle, p.risk.block) == (0.4, 0.95)
    assert p.store.max_members_per_key == 8192
    assert p.store.max_keys == default_policy().store.max_keys
    assert p.actions == default_policy().actions


@_good("dotted_and_inline.toml")
def _check_dotted_and_inline(p: Policy) -> None:
    assert p.profile_quota.enabled is False
    assert p.profile_quota.anonymous == Quota(5, 25, 1000)
    assert p.profile_quota.account == default_policy().profile_quota.account
    assert p.actions.appeal_contact == "privacy@example.org"
    assert p.actions.block_growth == 2.0
    assert isinstance(p.actions.block_growth, float)


@_good("challenge.toml")
def _check_challenge(p: Policy) -> None:
    c = p.challenge
    assert (c.provider, c.site_key, c.verify_url) == ("turnstile", "0x4AAAAAAA-example",
                                                      "http://127.0.0.1:9999/siteverify")
    assert (c.secret_key_file, c.clearance_seconds, c.max_solves) == ("/etc/scrapeguard/key", 900, 5)
    assert c.difficulty == default_policy().challenge.difficulty
    assert (p.risk.challenge, p.actions.challenge_status) == (0.6, 200)


def test_every_good_fixture_has_its_checks() -> None:
    assert _names(GOOD) == sorted(GOOD_CHECKS)
    assert len(GOOD_CHECKS) >= 4


@pytest.mark.parametrize("name", _names(GOOD))
def test_good_fixture_loads(name: str) -> None:
    path = GOOD / name
    policy = load_policy(path)
    assert policy.source == str(path)
    assert load_policy(str(path)) == policy  # str and Path alike


@pytest.mark.parametrize("name", sorted(GOOD_CHECKS))
def test_good_fixture_values(name: str) -> None:
    GOOD_CHECKS[name](load_policy(GOOD / name))


# ---------------------------------------------------------------------------
# Bad fixtures: each is refused with exactly the expected problems
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    """One expected problem."""

    key: str
    #: where the key stands in the fixture (a range: any line of that block; None: not in the file)
    line: int | range | None
    #: a fragment of the message
    message: str
    #: a fragment of the allowed text; None where an allowed text makes no sense
    allowed: str | None = None


@dataclass(frozen=True)
class Bad:
    problems: tuple[Expect, ...]


BAD_CASES: dict[str, Bad] = {
    "unknown_top_level_key.toml": Bad((
        Expect("moed", 3, "unknown key; did you mean 'mode'?", "mode"),
    )),
    "unknown_nested_key.toml": Bad((
        Expect("detectors.profile_quota.anonymous.per_hours", 5, "did you mean 'per_hour'?",
               "per_day, per_hour"),
    )),
    "string_for_integer.toml": Bad((
        Expect("actions.escalate_after", 5, "must be a whole number, not a string '10'", "value >= 1"),
    )),
    "boolean_as_integer.toml": Bad((
        Expect("detectors.profile_quota.network.enabled", 4, "must be true or false, not an integer 1",
               "true, false"),
    )),
    "score_out_of_range.toml": Bad((
        Expect("detectors.profile_quota.score", 5, "1.5 is out of range", "0 <= value <= 1"),
    )),
    "per_day_below_per_hour.toml": Bad((
        Expect("detectors.profile_quota.account.per_day", 5, "400 is less than per_hour (500)",
               "per_day >= per_hour"),
    )),
    "invalid_mode.toml": Bad((
        Expect("mode", 2, "'audit' is not a valid value", "'enforce', 'observe'"),
    )),
    "invalid_cidr.toml": Bad((
        Expect("allowlist.cidrs[1]", 5, "'10.0.0.300/8' is not an IP network", "192.0.2.0/24"),
    )),
    "route_kind_not_allowed.toml": Bad((
        Expect("routes[1].kind", 10, "'member_list' is not a route kind",
               "profile, contact_lookup, listing, asset, auth, page"),
    )),
    "route_subject_no_placeholder.toml": Bad((
        Expect("routes[0].subject", 6, "'user' names no placeholder of the pattern", "username, query:NAME"),
    )),
    "profile_route_without_subject.toml": Bad((
        Expect("routes[1].subject", range(7, 11), "a profile route must say which member it shows",
               "username, query:NAME"),
    )),
    "route_pattern_without_slash.toml": Bad((
        Expect("routes[0].pattern", 6, "must be a path starting with '/', not 'u/{username}'"),
    )),
    "block_below_throttle.toml": Bad((
        Expect("risk.block", 5, "0.7 is below risk.throttle (0.8)", "block >= throttle"),
    )),
    "toml_syntax_error.toml": Bad((
        Expect("", 5, "not valid TOML"),
    )),
    "challenge_outside_band.toml": Bad((
        Expect("risk.challenge", 5, "0.95 is above risk.block (0.9)", "challenge <= block"),
    )),
    "captcha_without_site_key.toml": Bad((
        Expect("challenge.site_key", None, "provider 'hcaptcha' needs the site key of its widget"),
    )),
    "challenge_values.toml": Bad((
        Expect("actions.challenge_status", 4, "100 is out of range", "200 <= value <= 599"),
        Expect("challenge.provider", 7, "'friendlycaptcha' is not a valid value",
               "'pow', 'hcaptcha', 'turnstile', 'recaptcha'"),
        Expect("challenge.cookie", 8, "'my cookie' is not a valid cookie name"),
        Expect("challenge.difficulty_max", 10, "1000 is below difficulty (5000)"),
        Expect("challenge.verify_url", 11, "'ftp://verify.example/' is not an http(s) URL"),
    )),
    "several_problems.toml": Bad((
        Expect("mode", 2, "'strict' is not a valid value", "'enforce', 'observe'"),
        Expect("client.session_ttl_seconds", 5, "must be a number, not a string 'one day'", "value >= 1"),
        Expect("detectors.profile_quota.enabled", 8, "must be true or false", "true, false"),
        Expect("detectors.profile_quota.score", 9, "-0.1 is out of range", "0 <= value <= 1"),
        Expect("detectors.profile_quota.anonymous.per_day", 13, "50 is less than per_hour (100)",
               "per_day >= per_hour"),
        Expect("risk.throtle", 16, "did you mean 'throttle'?", "block, challenge, throttle"),
        Expect("actions.throttle_status", 19, "200 is out of range", "400 <= value <= 599"),
        Expect("routes[0].pattern", 22, "must be a path starting with '/'"),
        Expect("routes[1].kind", 28, "'lookup' is not a route kind", "contact_lookup"),
    )),
    # -- fixtures that showed validation bugs (fixed) -------------------------
    "table_given_as_value.toml": Bad((
        Expect("risk", 2, "must be a table, not a number"),
    )),
    "block_out_of_range.toml": Bad((
        Expect("risk.block", 4, "1.5 is out of range", "0 < value <= 1"),
    )),
    "per_day_zero.toml": Bad((
        Expect("detectors.profile_quota.anonymous.per_day", 4, "0 is out of range", "value >= 1"),
    )),
    "table_header_with_comment.toml": Bad((
        Expect("risk.throttle", 4, "2 is out of range", "0 < value <= 1"),
    )),
    "duplicate_placeholder.toml": Bad((
        Expect("routes[0].pattern", 4, "id"),
    )),
    "network_quota_above_store_bound.toml": Bad((
        Expect("store.max_members_per_key", None, "must be larger than every per_day and per_week quota",
               "> 10000"),
    )),
    "per_week_below_per_day.toml": Bad((
        Expect("detectors.profile_quota.anonymous.per_week", 5, "350 is less than per_day (400)",
               "per_week >= per_day, or 0 for no weekly quota"),
    )),
    "per_day_above_default_week.toml": Bad((
        Expect("detectors.profile_quota.anonymous.per_week", None, "1000 is less than per_day (2000)",
               "or 0 for no weekly quota"),
    )),
    "weekly_quota_above_store_bound.toml": Bad((
        Expect("store.max_members_per_key", None, "per_week quota", "> 5000"),
    )),
}


def _cases(aspect: str) -> list[object]:
    params = []
    for name in BAD_CASES:
        params.append(pytest.param(name, id=name.removesuffix(".toml")))
    return params


def _problems(path: Path) -> list[PolicyProblem]:
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    return info.value.problems


def _pair(problems: list[PolicyProblem], expected: tuple[Expect, ...]) -> list[tuple[Expect, PolicyProblem]]:
    """Each expectation with the (distinct) problem that has its key and message."""
    left = list(problems)
    pairs = []
    for exp in expected:
        found = next((p for p in left if p.key == exp.key and exp.message in p.message), None)
        assert found is not None, f"no problem {exp.key!r}: ...{exp.message}... among:\n" + "\n".join(
            map(str, problems))
        left.remove(found)
        pairs.append((exp, found))
    return pairs


def test_every_bad_fixture_has_its_expectations() -> None:
    assert _names(BAD) == sorted(BAD_CASES)
    single = [name for name, case in BAD_CASES.items() if len(case.problems) == 1]
    assert len(single) >= 10


@pytest.mark.parametrize("name", _cases("rejected"))
def test_bad_fixture_is_rejected(name: str) -> None:
    with pytest.raises(PolicyError) as info:
        load_policy(BAD / name)
    assert info.value.problems
    assert str(BAD / name) in str(info.value)


@pytest.mark.parametrize("name", _cases("problems"))
def test_bad_fixture_reports_exactly_its_problems(name: str) -> None:
    path = BAD / name
    expected = BAD_CASES[name].problems
    problems = _problems(path)
    assert len(problems) == len(expected), "\n".join(map(str, problems))
    for exp, problem in _pair(problems, expected):
        assert problem.file == str(path)
        if exp.allowed is not None:
            assert exp.allowed in problem.allowed, problem


@pytest.mark.parametrize("name", _cases("lines"))
def test_bad_fixture_problem_lines(name: str) -> None:
    for exp, problem in _pair(_problems(BAD / name), BAD_CASES[name].problems):
        if isinstance(exp.line, range):
            assert problem.line in exp.line, problem
        else:
            assert problem.line == exp.line, problem


@pytest.mark.parametrize("name", sorted(BAD_CASES))
def test_expected_lines_point_at_the_key(name: str) -> None:
    """Keeps BAD_CASES honest: each expected line is where that key stands in the fixture."""
    lines = (BAD / name).read_text("utf-8").splitlines()
    for exp in BAD_CASES[name].problems:
        if exp.line is None:
            assert re.sub(r"\[\d+\]", "", exp.key).rsplit(".", 1)[-1] not in "\n".join(lines)
        elif isinstance(exp.line, range):
            assert lines[exp.line[0] - 1].strip() == "[[routes]]"
        elif exp.key:
            leaf = re.sub(r"\[\d+\]", "", exp.key).rsplit(".", 1)[-1]
            assert re.match(rf"\s*{re.escape(leaf)}\s*=", lines[exp.line - 1]), (exp, lines[exp.line - 1])


def test_several_problems_are_all_in_the_error_text() -> None:
    path = BAD / "several_problems.toml"
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    text = str(info.value).splitlines()
    assert len(text) == len(BAD_CASES["several_problems.toml"].problems)
    assert f"{path}:2: mode: 'strict' is not a valid value (allowed: 'enforce', 'observe')" in text
    assert f"{path}:19: actions.throttle_status: 200 is out of range (allowed: 400 <= value <= 599)" in text


@pytest.mark.parametrize(
    ("text", "key", "line", "message"),
    [
        ("[detectors.profile_quota]\nscore = true\n", "detectors.profile_quota.score", 2,
         "must be a number, not a boolean True"),
        ("[actions]\nescalate_after = true\n", "actions.escalate_after", 2,
         "must be a whole number, not a boolean True"),
        ("[store]\nmax_keys = 1000.5\n", "store.max_keys", 2, "must be a whole number, not a number 1000.5"),
        ("[client]\nsession_cookie = 7\n", "client.session_cookie", 2, "must be a string, not an integer"),
        ("[client]\nsession_cookie = \"  \"\n", "client.session_cookie", 2, "must not be empty"),
        ("[allowlist]\naccounts = \"bot\"\n", "allowlist.accounts", 2, "must be a list of strings"),
        ("[[routes]]\npattern = \"/x\"\nname = \"x\"\n", "routes[0].name", 3, "unknown key"),
    ],
)
def test_other_type_errors_are_reported_at_their_line(text: str, key: str, line: int, message: str) -> None:
    with pytest.raises(PolicyError) as info:
        load_policy_text(text, "inline.toml")
    [problem] = info.value.problems
    assert (problem.key, problem.line, problem.file) == (key, line, "inline.toml")
    assert problem.message.startswith(message), problem


# ---------------------------------------------------------------------------
# Files that cannot be read, and the problem's text
# ---------------------------------------------------------------------------


def test_missing_file_is_a_policy_error(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    [problem] = info.value.problems
    assert problem.file == str(path)
    assert problem.line is None
    assert problem.message == "cannot read policy file: No such file or directory"
    assert str(info.value) == f"{path}: cannot read policy file: No such file or directory"


def test_directory_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as info:
        load_policy(tmp_path)
    [problem] = info.value.problems
    assert problem.file == str(tmp_path)
    assert problem.message.startswith("cannot read policy file: ")


def test_non_utf8_file_is_a_policy_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('[actions]\nappeal_contact = "Ren\u00e9e, bureau 12"\n'.encode("latin-1"))
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    [problem] = info.value.problems
    assert problem.file == str(path)
    assert problem.message.startswith("not UTF-8 text: ")
    assert "can't decode byte 0xe9" in problem.message


def test_load_policy_text_names_its_source() -> None:
    with pytest.raises(PolicyError) as info:
        load_policy_text('mode = "audit"\n')
    assert [(p.file, p.line, p.key) for p in info.value.problems] == [("<policy>", 1, "mode")]
    with pytest.raises(PolicyError) as info:
        load_policy_text('\n\nmode = "audit"\n', source="inline.toml")
    assert [(p.file, p.line, p.key) for p in info.value.problems] == [("inline.toml", 3, "mode")]


def test_policy_error_is_a_value_error_listing_every_problem() -> None:
    problems = [PolicyProblem("a", "x"), PolicyProblem("b", "y")]
    error = PolicyError(problems)
    assert isinstance(error, ValueError)
    assert error.problems == problems
    assert str(error) == "<policy>: a: x\n<policy>: b: y"


@pytest.mark.parametrize(
    ("problem", "text"),
    [
        (PolicyProblem("risk.block", "too low", "block >= throttle", "p.toml", 7),
         "p.toml:7: risk.block: too low (allowed: block >= throttle)"),
        (PolicyProblem("risk.block", "too low", "", "p.toml", None), "p.toml: risk.block: too low"),
        (PolicyProblem("", "not valid TOML: oops", "", "p.toml", 3), "p.toml:3: not valid TOML: oops"),
    ],
)
def test_problem_text_is_file_line_key_message_allowed(problem: PolicyProblem, text: str) -> None:
    assert str(problem) == text
