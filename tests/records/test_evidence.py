from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scrapeguard.logs.formats import make_format
from scrapeguard.policy.model import IncidentOptions
from scrapeguard.records import audit, cases, evidence, incidents
from scrapeguard.records.db import Database
from scrapeguard.records.log_excerpts import read_excerpt
from scrapeguard.records.privacy import Pseudonymiser
from scrapeguard.records.users import ANALYST, LEGAL, PRIVACY_OFFICER, Actor

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
        case = cases.open_case(s, leo, "Data Harvest Inc.", incident_id=number,
                               clear_actors={A: "ip:203.0.113.7"})
        letter = cases.write_letter(s, leo, case.id, "cease_and_desist", 7, IncidentOptions()).id
        cases.approve_letter(s, Actor("pia", PRIVACY_OFFICER), letter)
        cases.send_letter(s, leo, letter, "email")
        _name, data = evidence.build_pack(s, leo, case_id=case.id)
    pack = zipfile.ZipFile(io.BytesIO(data))
    names = pack.namelist()
    assert f"CASE-{case.id}/case.json" in names
    assert f"CASE-{case.id}/incident/exposure.csv" in names
    assert f"CASE-{case.id}/letters/{letter}-cease_and_desist.md" in names
    sent = pack.read(f"CASE-{case.id}/letters/{letter}-cease_and_desist-sent.md").decode()
    assert "DRAFT" not in sent
    (listed,) = json.loads(pack.read(f"CASE-{case.id}/case.json"))["letters"]
    assert listed["state"] == "sent" and listed["channel"] == "email" and listed["approved_by"] == "pia"


SCRAPER_IP = "203.0.113.7"


def _log_line(ip: str, second: int) -> str:
    return (f'{ip} - - [21/Sep/2026:10:00:{second:02d} +0000] "GET /api/v1/members/{second} HTTP/1.1" 200 '
            f'512 "-" "python-requests/2.31"')


def _pack_with_log(db: Database, pseudonymiser: Pseudonymiser, log: Path,
                   cap: int = 10_000) -> tuple[str, zipfile.ZipFile]:
    actor = pseudonymiser.key("ip", SCRAPER_IP)
    seed(db, [*exposure(actor, range(1, 3)), refusal(actor, 1)])
    ann = Actor("ann", ANALYST)
    with db.session() as s:
        number = incidents.open_incident(s, ann, "scraper", {actor}).id
        actors = evidence.pack_actors(s, ann, incident_id=number)
        excerpt = read_excerpt([str(log)], make_format("combined"), actors, pseudonymiser, cap)
        _name, data = evidence.build_pack(s, ann, incident_id=number, excerpt=excerpt)
    return f"INC-{number}", zipfile.ZipFile(io.BytesIO(data))


def test_a_pack_with_access_logs_quotes_exactly_the_actors_lines(db: Database, pseudonymiser: Pseudonymiser,
                                                                 tmp_path: Path) -> None:
    lines = [_log_line("198.51.100.20", 0), _log_line(SCRAPER_IP, 1), "not a log line",
             _log_line("198.51.100.21", 2), _log_line(SCRAPER_IP, 3)]
    log = tmp_path / "access.log"
    log.write_text("\n".join(lines) + "\n", "utf-8")
    root, pack = _pack_with_log(db, pseudonymiser, log)
    quoted = [json.loads(x) for x in pack.read(f"{root}/logs/excerpts.jsonl").splitlines()]
    assert [(q["file"], q["line"], q["text"]) for q in quoted] == [(str(log), 2, lines[1]),
                                                                   (str(log), 5, lines[4])]
    manifest = json.loads(pack.read(f"{root}/manifest.json"))
    paths = {f["path"] for f in manifest["files"]}
    assert {"logs/excerpts.jsonl", "logs/summary.json"} <= paths
    for f in manifest["files"]:
        assert hashlib.sha256(pack.read(f"{root}/{f['path']}")).hexdigest() == f["sha256"]
    assert manifest["log_excerpts"]["matched"] == 2 and manifest["log_excerpts"]["bad_lines_skipped"] == 1
    assert "addresses in clear" in manifest["note"]
    summary = json.loads(pack.read(f"{root}/logs/summary.json"))
    assert summary["bad_lines_by_reason"] == {"does not match the log format": 1}
    timeline = json.loads(pack.read(f"{root}/timeline.json"))
    from_logs = [t for t in timeline if t["source"] == "access logs"]
    assert [t["event_time"] for t in from_logs] == ["2026-09-21T10:00:01+00:00", "2026-09-21T10:00:03+00:00"]
    assert "line 2)" in from_logs[0]["what"] and "2 lines in all" in from_logs[1]["what"]


def test_the_pack_says_how_many_lines_the_cap_left_out(db: Database, pseudonymiser: Pseudonymiser,
                                                       tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text("".join(_log_line(SCRAPER_IP, s) + "\n" for s in range(30)), "utf-8")
    root, pack = _pack_with_log(db, pseudonymiser, log, cap=10)
    assert len(pack.read(f"{root}/logs/excerpts.jsonl").splitlines()) == 10
    summary = json.loads(pack.read(f"{root}/logs/summary.json"))
    assert (summary["matched"], summary["kept"], summary["left_out"]) == (30, 10, 20)
    assert summary["left_out_note"] == "20 more matching lines are not quoted (cap 10)"


def test_without_logs_the_pack_says_none_were_given(db: Database) -> None:
    seed(db, [*exposure(A, range(1, 3))])
    with db.session() as s:
        number = incidents.open_incident(s, Actor("ann", ANALYST), "scraper", {A}).id
        _name, data = evidence.build_pack(s, Actor("ann", ANALYST), incident_id=number)
    pack = zipfile.ZipFile(io.BytesIO(data))
    manifest = json.loads(pack.read(f"INC-{number}/manifest.json"))
    assert manifest["log_excerpts"].startswith("none: no access logs were given")
    assert not any(n.startswith(f"INC-{number}/logs/") for n in pack.namelist())
    assert "addresses in clear" not in manifest["note"]


def test_a_case_packs_actors_are_its_own_and_its_incidents(db: Database) -> None:
    leo = Actor("leo", LEGAL)
    with db.session() as s:
        number = incidents.open_incident(s, Actor("ann", ANALYST), "scraper", {A}).id
        case = cases.open_case(s, leo, "Data Harvest Inc.", incident_id=number, actors={"account:harvester"})
        assert evidence.pack_actors(s, leo, case_id=case.id) == {A, "account:harvester"}


def test_a_case_pack_has_the_documents_the_case_received_checked_against_their_hashes(db: Database) -> None:
    from scrapeguard.records.errors import RecordsError
    from scrapeguard.records.models import CaseDocument

    seed(db, [*exposure(A, range(1, 3)), refusal(A, 1)])
    leo = Actor("leo", LEGAL)
    reply = cases.Document("reply from counsel.pdf", b"%PDF-1.7 we will comply")
    confirmation = cases.Document("C:\\scans\\deletion.pdf", b"%PDF-1.7 all copies deleted")
    with db.session() as s:
        case = cases.open_case(s, leo, "Data Harvest Inc.", clear_actors={A: "ip:203.0.113.7"})
        cases.record_reply(s, leo, case.id, "We will comply.", attachment=reply)
        cases.confirm_deletion(s, leo, case.id, confirmation)
        _name, data = evidence.build_pack(s, leo, case_id=case.id)
    pack = zipfile.ZipFile(io.BytesIO(data))
    root = f"CASE-{case.id}"
    listed = json.loads(pack.read(f"{root}/case.json"))["documents"]
    assert [(d["kind"], d["name"]) for d in listed] == [
        ("reply", "reply from counsel.pdf"), ("deletion_confirmation", "deletion.pdf")]
    for entry, document in zip(listed, (reply, confirmation), strict=True):
        assert pack.read(f"{root}/{entry['path']}") == document.data
        assert entry["sha256"] == document.sha256 and entry["added_by"] == "leo"
    assert listed[1]["path"].endswith("-deletion_confirmation-deletion.pdf")  # (the records kept no folder)
    manifest = {f["path"] for f in json.loads(pack.read(f"{root}/manifest.json"))["files"]}
    assert {d["path"] for d in listed} <= manifest
    with db.session() as s:  # a document altered in the database is refused, not packed
        row = s.query(CaseDocument).filter_by(case_id=case.id, kind="reply").one()
        row.data = b"%PDF-1.7 we will not comply"
    with db.session() as s, pytest.raises(RecordsError, match="does not match the SHA-256"):
        evidence.build_pack(s, leo, case_id=case.id)


@pytest.mark.parametrize(("given", "packed"), [
    ("letter.pdf", "letter.pdf"), ("../../etc/passwd", "passwd"), ("C:\\x\\scan 1.pdf", "scan_1.pdf"),
    ("..", "document"), ("", "document"), ("письмо.pdf", "______.pdf"), (".hidden", "hidden"),
])
def test_a_document_name_from_outside_is_a_plain_file_name_in_the_pack(given: str, packed: str) -> None:
    assert evidence.file_name(given) == packed


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=300))
def test_any_document_name_stays_inside_its_folder(given: str) -> None:
    packed = evidence.file_name(given)
    assert packed and len(packed) <= 120 and not packed.startswith(".")
    assert "/" not in packed and "\\" not in packed and packed.isascii()
