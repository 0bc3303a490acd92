"""What every page shares (console/web.py): here, how a records message reads on a page."""

from __future__ import annotations

import pytest

from scrapeguard.console.web import console_words, error_status
from scrapeguard.records.errors import InvalidStep, PermissionDenied, RecordsError


@pytest.mark.parametrize(("said", "shown"), [
    ("awareness comes before the recorded detection: give the reason (--reason)",
     "awareness comes before the recorded detection: give the reason"),
    ("say how the letter was sent (--channel: email, post, courier, ...)",
     "say how the letter was sent (email, post, courier, ...)"),
    ('or give the reason no assessment is owed (--reason, e.g. "false positive: ...")',
     'or give the reason no assessment is owed (e.g. "false positive: ...")'),
    ("adding a user needs an admin (--as ADMIN)", "adding a user needs an admin"),
    # the console's own options stay: whoever started it acts on them
    ("the console is not connected to the guard's store (--store)",
     "the console is not connected to the guard's store (--store)"),
    ("pages 1--2 and a plain sentence", "pages 1--2 and a plain sentence"),
    ("no user 'a--b'", "no user 'a--b'"),  # a name with dashes is not an option
    ("no user '--admin'", "no user '--admin'"),  # nor a quoted name that starts with them
    ("give the role (--role admin)", "give the role (admin)"),
])
def test_command_line_options_are_not_named_on_a_page(said: str, shown: str) -> None:
    assert console_words(said) == shown


def test_records_errors_reach_the_page_in_its_words() -> None:
    waiver = RecordsError("a waiver needs its reason (--reason)")
    assert error_status(waiver) == (400, "a waiver needs its reason")
    assert error_status(InvalidStep("x (--note)"))[0] == 409
    assert error_status(PermissionDenied("y (--as ADMIN)")) == (403, "y")
    with pytest.raises(ValueError):
        error_status(ValueError("not a records error"))
