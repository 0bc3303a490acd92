"""The console's edits of a policy file: mode and allowlist only, the rest left as written."""

from __future__ import annotations

import pytest

from scrapeguard.policy import load_policy_text
from scrapeguard.policy.editing import EditError, edit_policy, parse_accounts, parse_networks

FILE = """\
# Our policy: observe for a week first.
mode = "observe"  # switch to enforce after review

[allowlist]
# the office
cidrs = [
  "192.0.2.0/24",
]
accounts = ["monitor"]

[risk]
throttle = 0.6
"""


def test_the_mode_line_is_changed_in_place_with_its_comment() -> None:
    edited = edit_policy(FILE, mode="enforce")
    assert edited == FILE.replace('mode = "observe"  # switch', 'mode = "enforce"  # switch')
    assert load_policy_text(edited).mode == "enforce"


def test_a_multi_line_array_is_replaced_and_nothing_else_moves() -> None:
    edited = edit_policy(FILE, cidrs=("192.0.2.0/24", "198.51.100.0/24"))
    assert edited == FILE.replace('cidrs = [\n  "192.0.2.0/24",\n]',
                                  'cidrs = ["192.0.2.0/24", "198.51.100.0/24"]')
    policy = load_policy_text(edited)
    assert [str(c) for c in policy.allowlist.cidrs] == ["192.0.2.0/24", "198.51.100.0/24"]
    assert policy.allowlist.accounts == {"monitor"}
    assert policy.risk.throttle == 0.6


def test_unchanged_values_are_not_rewritten() -> None:
    assert edit_policy(FILE, mode="observe", cidrs=("192.0.2.0/24",), accounts=("monitor",)) == FILE


def test_a_file_without_mode_or_allowlist_gets_them_added() -> None:
    text = "# comment\n\n[risk]\nthrottle = 0.6\n"
    edited = edit_policy(text, mode="observe", cidrs=("10.0.0.0/8",), accounts=("a1",))
    assert edited == ('# comment\n\nmode = "observe"\n[risk]\nthrottle = 0.6\n\n'
                      '[allowlist]\ncidrs = ["10.0.0.0/8"]\naccounts = ["a1"]\n')
    policy = load_policy_text(edited)
    assert policy.mode == "observe" and policy.allowlist.accounts == {"a1"}


def test_a_missing_key_goes_after_the_tables_last_value() -> None:
    text = '[allowlist]\ncidrs = [\n  "192.0.2.0/24",\n]\n\n[risk]\nthrottle = 0.6\n'
    edited = edit_policy(text, accounts=("bob",))
    assert edited == ('[allowlist]\ncidrs = [\n  "192.0.2.0/24",\n]\naccounts = ["bob"]\n'
                      '\n[risk]\nthrottle = 0.6\n')


def test_an_inline_table_is_refused_rather_than_guessed() -> None:
    with pytest.raises(EditError, match="edit it by hand"):
        edit_policy('allowlist = { cidrs = [] }\n', cidrs=("10.0.0.0/8",))


def test_networks_and_accounts_typed_one_per_line() -> None:
    assert parse_networks(" 10.1.2.3/8\n\n2001:db8::/32\n10.0.0.0/8\n") == ("10.0.0.0/8", "2001:db8::/32")
    with pytest.raises(EditError, match=r"'not-a-net', '300\.1\.1\.1'"):
        parse_networks("192.0.2.0/24\nnot-a-net\n300.1.1.1")
    assert parse_accounts("a1\n a2 \n\na1") == ("a1", "a2")
    with pytest.raises(EditError, match="one word"):
        parse_accounts('two words\nok')
    with pytest.raises(EditError, match="neither observe nor enforce"):
        edit_policy(FILE, mode="panic")
