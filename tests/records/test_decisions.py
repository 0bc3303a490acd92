from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scrapeguard.decisions import Decision, Reason, evidence_text
from scrapeguard.records.db import Database
from scrapeguard.records.decisions import add_decisions, decisions_of, parse_decision_line
from scrapeguard.records.errors import RecordsError
from scrapeguard.records.privacy import Pseudonymiser

PS = Pseudonymiser(b"decisions-test-key-0123456789")


def line_of(decision: Decision) -> str:
    return json.dumps(decision.to_dict())


def test_a_decisions_file_line_becomes_a_pseudonymised_record_with_its_campaign(db: Database) -> None:
    reasons = (Reason("campaign", "campaign:fp-1", 0.9, "sweep"),
               Reason("profile_quota", "ip:203.0.113.7", 0.6, "over"))
    decision = Decision("block", 1_790_000_000.5, reasons,
        until=1_790_003_600.0, id="sg-0123456789ab", keys={"ip": "203.0.113.7", "net": "203.0.113.0/24"},
        route="profile", subject="id:7", path="/api/v1/members/7")
    record = parse_decision_line(line_of(decision), PS)
    ip = PS.key("ip", "203.0.113.7")
    assert record["actors"] == [ip] and record["campaign"] == "campaign:fp-1"
    assert "203.0.113" not in json.dumps(record)
    with db.session() as s:
        add_decisions(s, [record])
    with db.session() as s:
        (row,) = decisions_of(s, {ip})
        assert row.at == datetime.fromtimestamp(1_790_000_000.5, UTC) and row.source == "replay"
        by_campaign = decisions_of(s, set(), campaign="campaign:fp-1")
        assert [r.decision_id for r in by_campaign] == ["sg-0123456789ab"]


def test_a_campaigns_related_actors_become_actors_of_the_decision() -> None:
    decision = Decision("block", 1_790_000_000.5, (Reason("campaign", "campaign:ids-1", 0.95, "sweep"),),
                        id="sg-0123456789ac", keys={"ip": "203.0.113.7"}, route="profile", subject="id:7",
                        related=("ip:198.51.100.1", "account:42"))
    assert decision.to_dict()["related"] == ["ip:198.51.100.1", "account:42"]
    record = parse_decision_line(line_of(decision), PS)
    assert record["actors"] == [PS.key("ip", "203.0.113.7"), PS.key("ip", "198.51.100.1"), "account:42"]
    assert "198.51.100" not in json.dumps(record)
    assert "related" not in Decision("block", 1.0).to_dict()  # written only when there are some


def test_a_reasons_evidence_is_kept_with_its_actors_pseudonymised() -> None:
    evidence = {"campaign": "campaign:ids-1", "networks": 5, "members": 31,
                "related": ["ip:198.51.100.1", "account:42"]}
    decision = Decision("block", 1_790_000_000.5,
                        (Reason("campaign", "campaign:ids-1", 0.95, "sweep", evidence_text(evidence)),),
                        id="sg-0123456789ad", keys={"ip": "203.0.113.7"}, route="profile", subject="id:7")
    [reason] = parse_decision_line(line_of(decision), PS)["reasons"]
    assert reason["detail"] == "sweep"
    assert reason["evidence"] == evidence | {"related": [PS.key("ip", "198.51.100.1"), "account:42"]}
    assert "198.51.100" not in json.dumps(reason)


@pytest.mark.parametrize(("line", "problem"), [
    ('{"action": "block", "ts": 1, "reasons": [{"key": "ip:1.2.3.4", "evidence": [1]}]}', "evidence"),
    ('{"action": "block", "ts": 1, "related": "ip:1.2.3.4"}', "related"),
    ('{"action": "block", "ts": 1, "related": [7]}', "related"),
    ("{", "not JSON"), ("[]", "not a JSON object"), ('{"action": "allow", "ts": 1}', "not a refusal"),
    ('{"action": "block", "ts": "x"}', "ts"), ('{"action": "block", "ts": 1e300}', "ts"),
    ('{"action": "block", "ts": 1, "keys": []}', "keys"),
    ('{"action": "block", "ts": 1, "reasons": [{"key": 3}]}', "reasons"),
    ('{"action": "block", "ts": 1, "subject": 5}', "subject"),
])
def test_bad_lines_say_what_is_wrong(line: str, problem: str) -> None:
    with pytest.raises(RecordsError, match=problem):
        parse_decision_line(line, PS)


values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                      lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from(["key", "detector", "ip", "account", "score"]), inner,
                                        max_size=3), max_leaves=12)
decision_like = st.fixed_dictionaries({}, optional={
    "action": st.sampled_from(["block", "throttle", "challenge", "allow", 3]),
    "ts": values | st.floats(0, 2e9),
    "id": values, "keys": values, "reasons": values, "route": values, "subject": values, "path": values,
    "enforced": values})


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=80), decision_like.map(json.dumps)))
def test_any_line_is_a_record_or_a_records_error(line: str) -> None:
    try:
        record: dict[str, Any] = parse_decision_line(line, PS)
    except RecordsError:
        return
    datetime.fromtimestamp(record["ts"], UTC)  # storable
    assert record["action"] in ("block", "throttle", "challenge")
    assert all(isinstance(a, str) for a in record["actors"])


def test_a_decision_stored_already_is_skipped(db: Database) -> None:
    from .helpers import refusal  # type: ignore[import-not-found]

    batch = [refusal("ip:p-aaaa", 1), refusal("ip:p-aaaa", 2), refusal("ip:p-aaaa", 2)]
    with db.session() as s:
        assert add_decisions(s, batch) == 2
    with db.session() as s:
        assert add_decisions(s, [*batch, refusal("ip:p-aaaa", 3)]) == 1
        assert [d.decision_id for d in decisions_of(s, {"ip:p-aaaa"})] == [
            "sg-000000000001", "sg-000000000002", "sg-000000000003"]
