"""Rule files: every shipped file validates; broken files get errors naming file, key and problem."""

import copy
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scrapeguard.compliance import RulesError, load_rules, packaged_rules
from scrapeguard.compliance.rules import Offset, load_rule_texts, regime_from_data

SOURCE = 'sources = [{ title = "Test Act", url = "https://laws.example/test-act", citation = "s. 1" }]'
MINIMAL = """
id = "xx_test"
name = "Test regime"
regulator = "the test regulator"
version = "1"
effective = 2026-01-01
countries = ["XX"]
""" + SOURCE + """

[[rules]]
id = "notify_regulator"
kind = "notify"
audience = "regulator"
recipient = "the test regulator"
requirement = "required"
trigger = "a risk"
basis = "Test Act s. 1"
min_severity = "medium"
clock_start = "awareness"
deadline = "72 hours"
offset = { hours = 72 }
contents = ["what happened"]
"""


def test_every_shipped_rule_file_loads() -> None:
    rules = packaged_rules()
    ids = {r.id for r in rules.regimes}
    assert {"eu_gdpr", "uk_gdpr", "ca_pipeda", "au_ndb"} <= ids
    for regime in rules.regimes:
        assert regime.sources and regime.version and regime.countries
        assert regime.rules


@pytest.mark.parametrize(("country", "regime"), [("DE", "eu_gdpr"), ("ie", "eu_gdpr"), ("GB", "uk_gdpr"),
                                                 ("CA", "ca_pipeda"), ("AU", "au_ndb")])
def test_country_mapping(country: str, regime: str) -> None:
    found = packaged_rules().regime_for_country(country)
    assert found is not None and found.id == regime


def test_unmapped_and_unknown_country() -> None:
    assert packaged_rules().regime_for_country("US") is None
    assert packaged_rules().regime_for_country(None) is None


def test_minimal_file_loads(tmp_path: Path) -> None:
    (tmp_path / "xx.toml").write_text(MINIMAL)
    regime = load_rules(tmp_path).regime("xx_test")
    rule = regime.rule("notify", "regulator")
    assert rule is not None and rule.offset == Offset(hours=72) and rule.min_severity == "medium"


@pytest.mark.parametrize(("change", "key", "message"), [
    (('requirement = "required"', 'requirement = "maybe"'), "rules[0].requirement", "'maybe' is not allowed"),
    (('min_severity = "medium"', 'min_severity = "huge"'), "rules[0].min_severity", "a required rule needs"),
    (('offset = { hours = 72 }', 'offset = { hours = -1 }'), "rules[0].offset.hours", "positive whole"),
    (('offset = { hours = 72 }', 'offset = { weeks = 1 }'), "rules[0].offset.weeks", "unknown key"),
    (('countries = ["XX"]', 'countries = ["Xx1"]'), "countries", "not an ISO 3166-1"),
    (('effective = 2026-01-01', 'effective = "soon"'), "effective", "must be a TOML date"),
    (('audience = "regulator"', 'audience = "controller"'), "rules[0].audience", "a notify rule tells"),
    ((SOURCE, 'sources = [{ title = "x", url = "ftp://x" }]'), "sources[0].url", "https://"),
])
def test_errors_name_file_key_and_problem(change: tuple[str, str], key: str, message: str) -> None:
    with pytest.raises(RulesError) as info:
        load_rule_texts([("xx.toml", MINIMAL.replace(*change))])
    assert any(p.file == "xx.toml" and p.key == key and message in p.message for p in info.value.problems), \
        str(info.value)


def test_contents_can_carry_a_check_and_a_bad_one_is_named() -> None:
    contents = """contents = ["in writing", { item = "the number", check = 'affected: {members}\\b' }]"""
    checked = MINIMAL.replace('contents = ["what happened"]', contents)
    rule = load_rule_texts([("xx.toml", checked)]).regime("xx_test").rule("notify", "regulator")
    assert rule is not None and rule.contents == ("in writing", "the number")
    (check,) = rule.checks
    assert check.regex({"members": "12"}).search("People affected: 12.")
    assert not check.regex({"members": "12"}).search("People affected: 120.")
    broken = checked.replace("affected: {members}", "affected: (")
    with pytest.raises(RulesError, match=r"contents\[1\]\.check: not a valid regular expression"):
        load_rule_texts([("xx.toml", broken)])


def test_a_jurisdiction_table_is_validated() -> None:
    table = '\n[jurisdiction]\nbasis = "Test Act s. 2"\nrepresentative = "mars"\n'
    text = MINIMAL.replace("\n[[rules]]", table + "\n[[rules]]", 1)
    with pytest.raises(RulesError, match=r"jurisdiction\.representative: 'mars' is not allowed"):
        load_rule_texts([("xx.toml", text)])
    regime = load_rule_texts([("xx.toml", text.replace('"mars"', '"eu"'))]).regime("xx_test")
    assert regime.jurisdiction is not None and regime.jurisdiction.establishment_countries == {"XX"}


@pytest.mark.parametrize(("sources", "key", "message"), [
    # a path (of a file outside the repository) is no source: each is cited by title and URL
    ('sources = [{ citation = "Test Act s. 1 (as summarised in reference/regulators.md)" }]',
     "sources[0].title", "missing"),
    ('sources = [{ title = "Test Act" }]', "sources[0].url", "missing"),
    ('sources = [{ title = "Test Act", url = "reference/regulators.md" }]', "sources[0].url", "https://"),
    ('sources = [{ title = "Test Act", url = "https://" }]', "sources[0].url", "https://"),
    ('sources = [{ title = " ", url = "https://laws.example/a" }]', "sources[0].title", "non-empty"),
    ("sources = []", "sources", "at least one {title = ..., url = ...}"),
])
def test_every_source_has_a_title_and_an_https_url(sources: str, key: str, message: str) -> None:
    with pytest.raises(RulesError) as info:
        load_rule_texts([("xx.toml", MINIMAL.replace(SOURCE, sources))])
    assert any(p.key == key and message in p.message for p in info.value.problems), str(info.value)


def test_shipped_regimes_cite_documents_not_files() -> None:
    for regime in packaged_rules().regimes:
        for source in regime.sources:
            assert source.title and source.url.startswith("https://"), (regime.id, source)
            assert "regulators.md" not in str(source), regime.id


def test_a_country_in_two_files_is_refused() -> None:
    other = MINIMAL.replace('id = "xx_test"', 'id = "yy_test"')
    with pytest.raises(RulesError, match=r"XX is also mapped by a\.toml"):
        load_rule_texts([("a.toml", MINIMAL), ("b.toml", other)])


def test_invalid_toml_and_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match=r"x\.toml: not valid TOML"):
        load_rule_texts([("x.toml", "id = ")])
    with pytest.raises(RulesError, match="not a directory"):
        load_rules(tmp_path / "absent")


def test_business_days_skip_weekends() -> None:
    friday = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
    assert Offset(business_days=1).after(friday) == datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
    assert Offset(business_days=15).after(friday) == datetime(2026, 3, 27, 12, 0, tzinfo=UTC)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_loader_never_fails_other_than_with_rules_error(text: str) -> None:
    try:
        load_rule_texts([("fuzz.toml", text)])
    except RulesError as exc:
        assert exc.problems


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(MINIMAL.splitlines()), max_size=30))
def test_loader_on_shuffled_fragments_of_a_valid_file(lines: list[str]) -> None:
    try:
        load_rule_texts([("frag.toml", "\n".join(lines))])
    except RulesError as exc:
        assert all(p.file == "frag.toml" for p in exc.problems)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 100) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
VALID = tomllib.loads(MINIMAL)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([*VALID, *(f"rules.{k}" for k in VALID["rules"][0])]), json_values)
def test_any_value_in_any_key_is_accepted_or_named(key: str, value: object) -> None:
    data = copy.deepcopy(VALID)
    if key.startswith("rules."):
        data["rules"][0][key.removeprefix("rules.")] = value
    else:
        data[key] = value
    try:
        regime_from_data(data, "mutated.toml")
    except RulesError as exc:
        assert exc.problems and all(p.file == "mutated.toml" for p in exc.problems)
