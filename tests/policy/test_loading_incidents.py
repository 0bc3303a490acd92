"""The [incidents] section of the policy: defaults, values, and every problem reported."""

from __future__ import annotations

import pytest

from scrapeguard.policy import PolicyError, default_policy, load_policy_text


def test_defaults() -> None:
    options = default_policy().incidents
    assert options.open_at_members == 50 and options.pseudonym_key == "auto"
    assert (options.retain_decisions_days, options.retain_exposure_days) == (180, 365)


def test_values_are_read() -> None:
    options = load_policy_text('[incidents]\nopen_at_members = 5\norganisation = "Ex Ltd"\n'
                               'pseudonym_key = "file:/etc/sg.key"\n[incidents.retention_days]\n'
                               "decisions = 30\n").incidents
    assert (options.open_at_members, options.organisation, options.pseudonym_key) == (5, "Ex Ltd",
                                                                                      "file:/etc/sg.key")
    assert options.retain_decisions_days == 30 and options.retain_exposure_days == 365


@pytest.mark.parametrize(("text", "key", "line"), [
    ("[incidents]\nopen_at_members = 0\n", "incidents.open_at_members", 2),
    ('[incidents]\npseudonym_key = "vault:x"\n', "incidents.pseudonym_key", 2),
    ('[incidents]\npseudonym_key = "env:"\n', "incidents.pseudonym_key", 2),
    ("[incidents.retention_days]\nexposure = -1\n", "incidents.retention_days.exposure", 2),
    ("[incidents]\nopen_at_member = 3\n", "incidents.open_at_member", 2),
])
def test_problems_name_the_key_and_line(text: str, key: str, line: int) -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy_text(text, "p.toml")
    (problem,) = caught.value.problems
    assert problem.key == key and problem.line == line


def test_where_the_controller_is_established() -> None:
    assert default_policy().incidents.controller_country == ""  # not recorded: an open question
    options = load_policy_text('[incidents]\ncontroller_country = "DE"\n'
                               'uk_representative = "Rep Ltd, London"\n').incidents
    assert (options.controller_country, options.eu_representative, options.uk_representative) == (
        "DE", "", "Rep Ltd, London")
    for bad in ('"de"', '"Germany"', "49"):
        with pytest.raises(PolicyError) as caught:
            load_policy_text(f"[incidents]\ncontroller_country = {bad}\n", "p.toml")
        (problem,) = caught.value.problems
        assert problem.key == "incidents.controller_country" and problem.line == 2
