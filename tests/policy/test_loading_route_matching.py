"""The [route_matching] section of the policy: defaults, values, and every problem reported."""

from __future__ import annotations

import pytest

from scrapeguard.policy import PolicyError, default_policy, load_policy_text
from scrapeguard.policy.model import RouteMatching


def test_defaults_read_requests_as_starlette_flask_and_django_do() -> None:
    assert default_policy().route_matching == RouteMatching(
        case_insensitive=False, merge_slashes=False, strip_path_params=False, repeated_subject="refuse")


def test_values_are_read() -> None:
    options = load_policy_text('[route_matching]\ncase_insensitive = true\nmerge_slashes = true\n'
                               'strip_path_params = true\nrepeated_subject = "first"\n').route_matching
    assert options == RouteMatching(True, True, True, "first")


@pytest.mark.parametrize(("text", "key", "line", "allowed"), [
    ('[route_matching]\ncase_insensitive = "yes"\n', "route_matching.case_insensitive", 2, "true, false"),
    ("[route_matching]\nmerge_slashes = 1\n", "route_matching.merge_slashes", 2, "true, false"),
    ("\n[route_matching]\nstrip_path_params = []\n", "route_matching.strip_path_params", 3, "true, false"),
    ('[route_matching]\nrepeated_subject = "any"\n', "route_matching.repeated_subject", 2,
     "'refuse', 'first', 'last'"),
    ("[route_matching]\nmerge_slash = true\n", "route_matching.merge_slash", 2, None),
    ("route_matching = 1\n", "route_matching", 1, None),
])
def test_problems_name_the_key_and_line(text: str, key: str, line: int, allowed: str | None) -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy_text(text, "p.toml")
    (problem,) = caught.value.problems
    assert (problem.key, problem.line) == (key, line)
    if allowed is not None:
        assert problem.allowed == allowed
