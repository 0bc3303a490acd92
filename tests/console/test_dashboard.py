"""The dashboard: what needs the team now, from the records."""

from __future__ import annotations

from pathlib import Path

from scrapeguard.records import cases, policy_changes
from scrapeguard.records.users import get_actor

from .helpers import ConsoleHarness, make_harness  # type: ignore[import-not-found]
from .incident_seed import OPTIONS, auto_opened_incident  # type: ignore[import-not-found]

POLICY = 'mode = "observe"\n'


def test_the_dashboard_lists_open_incidents_and_what_waits_for_a_second_person(
        harness: ConsoleHarness, tmp_path: Path) -> None:
    empty = harness.client("vic").get("/").text
    assert "No open incident." in empty and "Nothing waits for a second person." in empty
    assert "not connected" in empty  # no store given to this console
    incident = auto_opened_incident(harness.db, tmp_path, harness.clock() - 3600)
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY, "utf-8")
    with harness.db.session() as session:
        leo, ada = get_actor(session, "leo"), get_actor(session, "ada")
        case = cases.open_case(session, leo, "Data Harvest Inc.", incident_id=incident)
        letter = cases.write_letter(session, leo, case.id, "cease_and_desist", 14, OPTIONS)
        change = policy_changes.propose(session, ada, policy, 'mode = "enforce"\n', "enforce at last")
        case_id, letter_id, change_id = case.id, letter.id, change.id
    page = make_harness(harness.db, policy_path=policy, clock=harness.clock).client("vic").get("/").text
    assert f'href="/incidents/INC-{incident}"' in page and "not assessed yet" in page
    assert f"Letter {letter_id} (cease and desist) of" in page and f'href="/cases/CASE-{case_id}"' in page
    assert "drafted by leo" in page
    assert f"Policy change {change_id}" in page and "enforce at last" in page and "proposed by ada" in page
