"""Routes declare their data categories once for everyone, or per audience."""

from __future__ import annotations

import pytest

from scrapeguard.policy import PolicyError, load_policy_text

ROUTE = """
[[routes]]
pattern = "/u/{name}"
kind = "profile"
subject = "name"
"""


def test_one_list_is_the_same_for_every_audience() -> None:
    (rule,) = load_policy_text(ROUTE + 'categories = ["user.name", "user.contact.email"]\n').routes
    assert rule.audiences is None
    for audience in ("anonymous", "member", "connection", None):
        assert rule.categories_for(audience) == ("user.name", "user.contact.email")


def test_a_table_per_audience_with_member_and_connection_defaulting_upwards() -> None:
    text = ROUTE + ('[routes.categories]\nanonymous = ["user.name"]\n'
                    'member = ["user.name", "user.contact.email"]\n')
    (rule,) = load_policy_text(text).routes
    assert rule.categories_for("anonymous") == ("user.name",)
    assert rule.categories_for("member") == ("user.name", "user.contact.email")
    assert rule.categories_for("connection") == ("user.name", "user.contact.email")  # as members
    assert rule.categories == ("user.name", "user.contact.email")  # everything it may show anyone
    (only,) = load_policy_text(ROUTE + 'categories = { anonymous = ["user.name"] }\n').routes
    assert only.categories_for("member") == only.categories_for("connection") == ("user.name",)


@pytest.mark.parametrize(("table", "problem"), [
    ('{ anonymous = ["user.name"], friends = ["user.name"] }', "categories.friends: unknown audience"),
    ('{ member = ["user.name"] }', "categories.anonymous"),
    ('{ anonymous = "user.name" }', "categories.anonymous: must be a list"),
])
def test_bad_audience_tables_are_clear_errors(table: str, problem: str) -> None:
    with pytest.raises(PolicyError, match=problem):
        load_policy_text(ROUTE + f"categories = {table}\n")
