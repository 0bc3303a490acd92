from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta

from scrapeguard.policy.model import IncidentOptions
from scrapeguard.records import audit, cases, evidence, incidents
from scrapeguard.records.db import Database
from scrapeguard.records.users import ANALYST, LEGAL, Actor

from .helpers import exposure, refusal, seed  # type: ignore[import-not-found]

A = "ip:p-aaaa"


def test_an_incident_pack_has_hashes_of_every_file_and_the_audit_head(db: Database) -> None:
    seed(db, [*exposure(A, range(1, 6)), refusal(A, 1), refusal(A, 2)])
    with db.session() as s:
        number = incidents.open_incident(s, Actor("ann", ANALYST), "scraper", {A}).id
        incidents.advance(s, Actor("ann", ANALYST), number, "contained")
    with db.session() as s:
        name, data = evidence.build_pack(s, Actor("ann", ANALYST), incident_id=number)
        head = audit.head(s)
        assert audit.entries_for(s, "incident", number)[-1].action == "evidence.export"
    assert name == f"INC-{number}-evidence.zip"
    pack = zipfile.ZipFile(io.BytesIO(data))
    manifest = json.loads(pack.read(f"INC-{number}/manifest.json"))
    assert manifest["audit_head"] == {"seq": head[0], "hash": head[1]}
    assert "draft for counsel" in manifest["note"]
    paths = {f["path"] for f in manifest["files"]}
    assert {"incident.json", "decisions.jsonl", "exposure.csv", "audit.jsonl", "timeline.json"} <= paths
    for f in manifest["files"]:
        assert hashlib.sha256(pack.read(f"INC-{number}/{f['path']}")).hexdigest() == f["sha256"]
    assert len(pack.read(f"INC-{number}/decisions.jsonl").splitlines()) == 2
    assert len(pack.read(f"INC-{number}/exposure.csv").decode().splitlines()) == 6  # header + 5 members
    timeline = json.loads(pack.read(f"INC-{number}/timeline.json"))
    assert all({"event_time", "recorded_time", "what", "source"} <= set(t) for t in timeline)
    first = timeline[0]
    assert first["what"].startswith("first member data received")
    assert first["event_time"] < first["recorded_time"]
    assert any(t["what"].startswith("incident contained by ann") for t in timeline)


def test_a_case_pack_has_its_letters_and_the_incident(db: Database) -> None:
    seed(db, [*exposure(A, range(1, 3)), refusal(A, 1)])
    leo = Actor("leo", LEGAL)
    with db.session() as s:
        number = incidents.open_incident(s, Actor("ann", ANALYST), "scraper", {A}).id
        case = cases.open_case(s, leo, "Data Harvest Inc.", incident_id=number)
        cases.write_letter(s, leo, case.id, "cease_and_desist", datetime.now(UTC) + timedelta(days=7),
                           IncidentOptions())
        _name, data = evidence.build_pack(s, leo, case_id=case.id)
    pack = zipfile.ZipFile(io.BytesIO(data))
    names = pack.namelist()
    assert f"CASE-{case.id}/case.json" in names
    assert f"CASE-{case.id}/incident/exposure.csv" in names
    assert any(n.startswith(f"CASE-{case.id}/letters/") for n in names)
