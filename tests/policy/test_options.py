"""Policy options declared once: every option is a documented field, every field has its value in
defaults.toml (the only source of defaults), and every key of defaults.toml is a field."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from typing import Any, get_type_hints

import pytest

from scrapeguard.detectors import REGISTRY
from scrapeguard.detectors.flood import KEEP, FloodOptions
from scrapeguard.detectors.login_wall import LoginWallOptions
from scrapeguard.policy import PolicyError, default_policy, defaults_text, load_policy_text
from scrapeguard.policy.model import Policy, Quota
from scrapeguard.policy.options import (
    TABLE,
    OptionField,
    OptionProblem,
    option,
    option_fields,
    table,
    table_name,
)


def _tables() -> list[type]:
    """Every @table class of the policy: its own tables and each registered detector's options."""
    tables = [t for t in get_type_hints(Policy).values() if isinstance(t, type) and hasattr(t, TABLE)]
    return tables + [cls.options_class for cls in REGISTRY.values()]


def _nested(field: OptionField) -> type | None:
    """The value type of a sub-table field (Quota), else None."""
    hint = field.hint
    return hint if dataclasses.is_dataclass(hint) and isinstance(hint, type) else None


def _claimed(cls: type, prefix: str) -> Iterator[tuple[str, OptionField, bool]]:
    """(dotted TOML key, field, whether the key may be absent) of every option a table reads,
    sub-tables' options included (a value type's field with a Python default may be absent:
    Quota.per_week, "no weekly quota")."""
    for field in option_fields(cls):
        key = f"{prefix}.{field.key}"
        nested = _nested(field)
        if nested is None:
            yield key, field, False
        else:
            for sub in option_fields(nested):
                yield f"{key}.{sub.key}", sub, sub.default is not dataclasses.MISSING


def _leaves(data: dict[str, Any], prefix: str = "") -> Iterator[str]:
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _leaves(value, f"{dotted}.")
        else:
            yield dotted


def test_every_policy_table_and_detector_is_covered() -> None:
    names = {table_name(t) for t in _tables()}
    assert {"client", "risk", "challenge", "incidents", "detectors.flood", "detectors.campaign"} <= names
    assert len(names) == len(_tables()) == 8 + len(REGISTRY)


def test_every_option_is_documented() -> None:
    for cls in _tables():
        for key, field, _ in _claimed(cls, table_name(cls)):
            assert field.spec.doc.strip().endswith("."), key


def test_defaults_toml_names_every_option_and_nothing_else() -> None:
    shipped = tomllib.loads(defaults_text())
    keys = set(_leaves(shipped)) - {"mode", "routes"}
    claimed: set[str] = set()
    for cls in _tables():
        for key, _, optional in _claimed(cls, table_name(cls)):
            claimed.add(key)
            assert optional or key in keys, f"{key} is not in defaults.toml"
    in_toml_only = keys - claimed
    assert in_toml_only == set(), "keys of defaults.toml that no option reads"


def test_a_table_field_missing_from_defaults_toml_is_an_error_at_import() -> None:
    with pytest.raises(TypeError, match="has no nonexistent"):
        @dataclasses.dataclass(frozen=True)
        @table("detectors.flood")
        class Broken:
            enabled: bool = option("Whether it runs.")
            nonexistent: int = option("Not in the shipped file.")


def test_a_table_field_must_be_an_option() -> None:
    with pytest.raises(TypeError, match="declare it with option"):
        @dataclasses.dataclass(frozen=True)
        @table("detectors.flood")
        class Broken:
            enabled: bool = True


def test_the_defaults_of_a_table_class_are_the_shipped_ones() -> None:
    assert FloodOptions() == default_policy().flood
    assert LoginWallOptions() == default_policy().login_wall
    assert FloodOptions().pages == tomllib.loads(defaults_text())["detectors"]["flood"]["pages"]


def test_floods_user_agent_limit_is_bounded_by_the_history_it_keeps() -> None:
    """The history of an address keeps KEEP requests: the limit comes from KEEP, not a copy of it."""
    [spec] = [f.spec for f in option_fields(FloodOptions) if f.name == "user_agents"]
    assert spec.hi is not None and spec.hi < KEEP
    load_policy_text(f"[detectors.flood]\nuser_agents = {int(spec.hi)}\n")
    with pytest.raises(PolicyError) as caught:
        load_policy_text(f"[detectors.flood]\nuser_agents = {int(spec.hi) + 1}\n", "p.toml")
    [problem] = caught.value.problems
    assert problem.key == "detectors.flood.user_agents" and problem.allowed == f"2 <= value <= {int(spec.hi)}"


def test_keys_renamed_in_toml_are_read_from_their_key() -> None:
    policy = load_policy_text("[detectors.failed_logins]\nremember_success_days = 2\n"
                              "[detectors.profile_quota.new_account]\nmax_age_days = 3\n"
                              "[incidents.retention_days]\nexposure = 9\n")
    assert policy.failed_logins.remember_success_seconds == 2 * 86400
    assert policy.profile_quota.new_account_max_age_days == 3
    assert policy.incidents.retain_exposure_days == 9


def test_a_list_with_a_wrong_item_is_one_problem_at_the_list() -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy_text('[challenge]\nhostnames = ["www.example.org", 7]\n', "p.toml")
    [problem] = caught.value.problems
    assert (problem.key, problem.line) == ("challenge.hostnames", 2)
    assert problem.message == "must be a list of strings, not ['www.example.org', 7]"


def test_an_array_of_tables_names_its_entries_keys() -> None:
    text = '[[detectors.ip_reputation.lists]]\nname = "x"\ncidrs = []\nscore = 0.5\ncolour = "red"\n'
    with pytest.raises(PolicyError) as caught:
        load_policy_text(text, "p.toml")
    [problem] = caught.value.problems
    assert problem.key == "detectors.ip_reputation.lists[0].colour"
    assert (problem.message, problem.allowed) == ("unknown key", "name, cidrs, score")


def test_a_cross_field_check_is_silent_when_a_value_it_compares_is_already_wrong() -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy_text("[detectors.failed_logins]\naddress_throttle = 0\naddress_block_per_day = 1\n")
    assert [p.key for p in caught.value.problems] == ["detectors.failed_logins.address_throttle"]


def test_the_store_bound_names_the_largest_count() -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy_text("[store]\nmax_members_per_key = 1000\n[detectors.profile_quota.shared_address]\n"
                         "per_week = 1500\n[detectors.flood]\npages = 1200\n")
    [problem] = caught.value.problems
    assert problem.key == "store.max_members_per_key" and problem.allowed == "> 3000"
    assert "detectors.profile_quota, 3000" in problem.message
    with pytest.raises(PolicyError) as caught:
        load_policy_text("[store]\nmax_members_per_key = 5000\n[detectors.flood]\npages = 6000\n")
    [problem] = caught.value.problems
    assert problem.allowed == "> 6000" and "detectors.flood, 6000" in problem.message


def test_quota_checks_are_the_value_types_own() -> None:
    assert list(Quota(10, 5).check()) == [
        OptionProblem("per_day", "5 is less than per_hour (10)", "per_day >= per_hour", ("per_hour",))]
    assert list(Quota(10, 50, 0).check()) == []


def test_every_registered_detector_reads_its_own_table() -> None:
    for name, cls in REGISTRY.items():
        assert cls.name == name
        assert table_name(cls.options_class) == f"detectors.{name}"


@pytest.mark.parametrize("module", ["scrapeguard.engine", "scrapeguard.routes", "scrapeguard.policy.model",
                                    "scrapeguard.detectors.flood", "scrapeguard.refusals",
                                    "scrapeguard.records.sink", "scrapeguard.policy"])
def test_each_module_imports_first(module: str) -> None:
    """The policy reads the detectors' options and the detectors import the policy's model: whichever
    is imported first, in a fresh interpreter, the import works."""
    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
