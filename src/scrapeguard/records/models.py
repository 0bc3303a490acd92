"""The records' tables (SQLAlchemy 2.0 typed models). The schema itself is made by the
Alembic migrations in `migrations/versions`; a change here needs a new migration."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database (SQLite keeps no zone: stored naive UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: records keep aware UTC times only")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {"ix": "ix_%(column_0_label)s", "uq": "uq_%(table_name)s_%(column_0_name)s",
          "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s", "pk": "pk_%(table_name)s"}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON(),
    }


class DecisionRecord(Base):
    """A non-allow decision of the guard (live or replayed). Address keys are pseudonymised."""

    __tablename__ = "decisions"
    #: One row per decision: importing a decisions file twice skips the decisions stored already.
    #: (The id with its time: ids are 48 random bits, which two of many millions may share.)
    __table_args__ = (Index("uq_decisions_decision_id_at", "decision_id", "at", unique=True),)
    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[str] = mapped_column(String(40), index=True)
    at: Mapped[datetime] = mapped_column(index=True)
    action: Mapped[str] = mapped_column(String(20))
    enforced: Mapped[bool] = mapped_column(Boolean)
    route: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str | None] = mapped_column(String(300))
    path: Mapped[str] = mapped_column(String(2000))
    #: Pseudonymised actor keys this decision is about, e.g. ["ip:p-1a2b..", "account:42"].
    actors: Mapped[list[Any]] = mapped_column(JSON)
    keys: Mapped[dict[str, Any]] = mapped_column(JSON)
    reasons: Mapped[list[Any]] = mapped_column(JSON)
    #: "campaign:<id>" when a reason names a campaign: the incident is the campaign's.
    campaign: Mapped[str | None] = mapped_column(String(200), index=True)
    source: Mapped[str] = mapped_column(String(20), default="live")


class DecisionActor(Base):
    """Which actors a decision is about (indexed: "the decisions about this actor" is a lookup)."""

    __tablename__ = "decision_actors"
    decision_pk: Mapped[int] = mapped_column(ForeignKey("decisions.id", ondelete="CASCADE"), primary_key=True)
    actor: Mapped[str] = mapped_column(String(300), primary_key=True, index=True)


class ExposureRecord(Base):
    """What one actor received of one member through one route: the exposure ledger's row."""

    __tablename__ = "exposure"
    __table_args__ = (UniqueConstraint("actor", "member", "route", name="uq_exposure_actor_member_route"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(300), index=True)
    #: The member shown, as the route's subject ("id:42", "username:ann"); "" for a listing page.
    member: Mapped[str] = mapped_column(String(300))
    route: Mapped[str] = mapped_column(String(300))
    categories: Mapped[list[Any]] = mapped_column(JSON)
    first_at: Mapped[datetime]
    last_at: Mapped[datetime] = mapped_column(index=True)
    count: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(20), default="live")
    #: Who the responses were shown to ("anonymous", "member", "connection": see routes.py); the
    #: categories are that audience's. Empty for rows recorded before audiences were.
    audiences: Mapped[list[Any]] = mapped_column(JSON, default=list)


class TrafficMinute(Base):
    """Requests the guard judged (allows included), counted per UTC minute, route kind and action:
    the traffic the Live view sets the refusals against. Written by the records sink with each
    batch; purged with the decisions."""

    __tablename__ = "traffic_minutes"
    minute: Mapped[datetime] = mapped_column(primary_key=True)
    route: Mapped[str] = mapped_column(String(40), primary_key=True)
    #: The action decided (in observe mode a refusal is decided but not enforced).
    action: Mapped[str] = mapped_column(String(20), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class MemberRecord(Base):
    """The member directory: how route subjects name a member, and the member's country."""

    __tablename__ = "members"
    alias: Mapped[str] = mapped_column(String(300), primary_key=True)
    member_id: Mapped[str] = mapped_column(String(200), index=True)
    country: Mapped[str | None] = mapped_column(String(2))


class UserRecord(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(30))
    password_hash: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime]
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class IncidentRecord(Base):
    __tablename__ = "incidents"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    #: "campaign:<id>" or the first actor key: one incident per campaign (or lone actor).
    group_key: Mapped[str] = mapped_column(String(300), unique=True)
    state: Mapped[str] = mapped_column(String(20))
    opened_by: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime]
    detected_at: Mapped[datetime]
    aware_at: Mapped[datetime | None]
    aware_by: Mapped[str | None] = mapped_column(String(100))
    contained_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    #: Whether the data was public before it was scraped: only an answer once `public_stated`.
    data_was_public: Mapped[bool] = mapped_column(Boolean, default=True)
    #: The assessor has said whether the data was public (until then: an open question, no reduction).
    public_stated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    aggregated: Mapped[bool] = mapped_column(Boolean, default=True)
    assessment: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    assessed_at: Mapped[datetime | None]
    notifiable: Mapped[bool | None] = mapped_column(Boolean)
    reasoning: Mapped[str | None] = mapped_column(Text)


class IncidentActor(Base):
    __tablename__ = "incident_actors"
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), primary_key=True)
    actor: Mapped[str] = mapped_column(String(300), primary_key=True, index=True)
    added_at: Mapped[datetime]


class IncidentStep(Base):
    """One step of an incident's lifecycle: who moved it to which state, when, and why."""

    __tablename__ = "incident_steps"
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    state: Mapped[str] = mapped_column(String(20))
    by: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime]
    note: Mapped[str] = mapped_column(Text, default="")


class NoticeRecord(Base):
    __tablename__ = "notices"
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    regime: Mapped[str] = mapped_column(String(40))
    audience: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20))
    drafted_by: Mapped[str] = mapped_column(String(100))
    drafted_at: Mapped[datetime]
    approved_by: Mapped[str | None] = mapped_column(String(100))
    approved_at: Mapped[datetime | None]
    sent_by: Mapped[str | None] = mapped_column(String(100))
    #: When the notice really went out (given by the sender, not the time it was recorded).
    sent_at: Mapped[datetime | None]
    #: How it went out, e.g. "regulator portal", "email".
    channel: Mapped[str | None] = mapped_column(String(100))
    #: What was sent: the approved draft without its draft-only parts, or None when a final
    #: document was attached instead (kept below with its SHA-256).
    final_text: Mapped[str | None] = mapped_column(Text)
    final_document: Mapped[bytes | None] = mapped_column(LargeBinary)
    final_document_name: Mapped[str | None] = mapped_column(String(300))
    final_sha256: Mapped[str | None] = mapped_column(String(64))


class IncidentObligation(Base):
    """One notification duty of an incident: a regime and an audience, as the last assessment judged
    it (re-derived on re-assessment), and how it was met: a sent notice, or a waiver with its reason."""

    __tablename__ = "incident_obligations"
    __table_args__ = (UniqueConstraint("incident_id", "regime", "audience",
                                       name="uq_incident_obligations_incident_regime_audience"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    regime: Mapped[str] = mapped_column(String(40))
    audience: Mapped[str] = mapped_column(String(20))
    #: "required", "likely", "not required" or "open question".
    status: Mapped[str] = mapped_column(String(20))
    reasoning: Mapped[str] = mapped_column(Text)
    due: Mapped[datetime | None]
    deadline: Mapped[str] = mapped_column(Text)
    derived_at: Mapped[datetime]
    waived_by: Mapped[str | None] = mapped_column(String(100))
    waived_at: Mapped[datetime | None]
    waiver_reason: Mapped[str | None] = mapped_column(Text)


class CaseRecord(Base):
    """A legal case against whoever is behind the scraping."""

    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(primary_key=True)
    respondent: Mapped[str] = mapped_column(String(300))
    respondent_address: Mapped[str | None] = mapped_column(Text)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    actors: Mapped[list[Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(30))
    opened_by: Mapped[str] = mapped_column(String(100))
    opened_at: Mapped[datetime]
    deadline: Mapped[datetime | None]
    reply: Mapped[str | None] = mapped_column(Text)
    replied_at: Mapped[datetime | None]
    deletion_confirmed_at: Mapped[datetime | None]
    deletion_document: Mapped[str | None] = mapped_column(String(500))
    deletion_sha256: Mapped[str | None] = mapped_column(String(64))
    #: The clear value of each pseudonymised actor ("ip:p-3f9a.." -> "ip:203.0.113.7"), as entered by
    #: the team and checked against the pseudonym: letters to the respondent name what they know.
    clear_actors: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CaseLetter(Base):
    """A letter of a case: drafted, approved by another person, then sent (see records/cases.py)."""

    __tablename__ = "case_letters"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    title: Mapped[str] = mapped_column(String(300))
    #: The draft as approved (or to be approved).
    text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    deadline: Mapped[datetime]
    #: "draft", "approved" or "sent".
    state: Mapped[str] = mapped_column(String(20), default="draft")
    #: The facts the draft was made from (JSON), so that the letter sent says what was approved.
    facts: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    approved_by: Mapped[str | None] = mapped_column(String(100))
    approved_at: Mapped[datetime | None]
    sent_by: Mapped[str | None] = mapped_column(String(100))
    sent_at: Mapped[datetime | None]
    #: How it was sent ("email", "post", "courier", ...).
    channel: Mapped[str | None] = mapped_column(String(100))
    #: The letter as sent (dated the day it was sent, no draft marks) and its SHA-256.
    final_text: Mapped[str | None] = mapped_column(Text)
    final_sha256: Mapped[str | None] = mapped_column(String(64))


class CaseDocument(Base):
    """A document a case received (the confirmation of deletion, an attachment of a reply): its
    bytes, kept in the records so that a console on PostgreSQL or on another host can serve them.

    Not bound into the audit chain as a row of its own, nor as a child of the case (that would
    change the digest of every case audited before this table existed): its SHA-256 is in the
    audit entry of the step that received it and, for a deletion confirmation, in the case row
    (`deletion_sha256`, bound); the bytes are checked against it each time they are served."""

    __tablename__ = "case_documents"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    #: "deletion_confirmation" or "reply".
    kind: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    added_by: Mapped[str] = mapped_column(String(100))
    added_at: Mapped[datetime]


class CaseStep(Base):
    """A case's status history (and reminders)."""

    __tablename__ = "case_steps"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    status: Mapped[str] = mapped_column(String(30))
    by: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime]
    note: Mapped[str] = mapped_column(Text, default="")


class AuditEntry(Base):
    """Append-only, hash-chained: each row's hash covers its content and the previous hash."""

    __tablename__ = "audit_log"
    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(60))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(100))
    details: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    #: "sha256" (entries written before the chain was keyed) or "hmac-sha256" (keyed with a
    #: secret derived from the pseudonym key, which the database does not hold).
    scheme: Mapped[str] = mapped_column(String(20), default="hmac-sha256", server_default="sha256")
    #: SHA-256 of the audited row as written (its columns and its steps), for the entities bound
    #: into the chain (incident, notice, case, user): a later direct edit of the row shows.
    row_digest: Mapped[str | None] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's last seq and hash (one row), locked by each append so that appends serialise,
    and compared by verify so that rows cut off the end are noticed too."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class SettingRecord(Base):
    """The records' own settings, e.g. the fingerprint of the pseudonym key they were set up with."""

    __tablename__ = "settings"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)



class ConsoleSessionRecord(Base):
    """A signed-in console session (console/sessions.py), kept here so that every console on these
    records knows it and a restart keeps it. Only the token's SHA-256 is stored: a copy of the
    table signs nobody in."""

    __tablename__ = "console_sessions"
    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_name: Mapped[str] = mapped_column(String(100), index=True)
    started: Mapped[datetime]
    #: Written at most every `sessions.TOUCH_SECONDS`, not on every request.
    last_seen: Mapped[datetime]
    csrf: Mapped[str] = mapped_column(String(100))
    #: Messages for the next page, JSON: [[kind, message], ...].
    flashes: Mapped[str] = mapped_column(Text, default="[]")


class AlertClaim(Base):
    """The lock on sending one alert on one channel (console/alerts.py): a console inserts it before
    sending, so a second console on these records finds it taken and does not send. What was sent
    stays in the audit log ("alert.sent")."""

    __tablename__ = "alert_claims"
    #: The alert's audit id (its key, or the key's SHA-256 when longer than 100 characters).
    alert_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    claimed_at: Mapped[datetime]
    #: The console that claimed it (host:pid).
    claimed_by: Mapped[str] = mapped_column(String(300))


class DrillRecord(Base):
    """A drill's scorecard (`scrapeguard drill --db`): what the controls were tested against and
    how they fared, under which policy (its SHA-256). The regulator report cites the latest."""

    __tablename__ = "drill_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    ran_at: Mapped[datetime]
    recorded_by: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(String(500))
    policy_source: Mapped[str] = mapped_column(String(500))
    policy_sha256: Mapped[str] = mapped_column(String(64))
    #: Strategies that ran (not skipped), the most profiles one of them got, people refused in all.
    strategies: Mapped[int] = mapped_column(Integer)
    max_profiles: Mapped[int] = mapped_column(Integer)
    people_refused: Mapped[int] = mapped_column(Integer)
    #: The whole scorecard (`Scorecard.to_dict`).
    scorecard: Mapped[dict[str, Any]] = mapped_column(JSON)


class PolicyChange(Base):
    """A change of the guard's policy file, proposed by one admin and applied only when a second
    admin approves it (records/policy_changes.py)."""

    __tablename__ = "policy_changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    proposed_by: Mapped[str] = mapped_column(String(100))
    proposed_at: Mapped[datetime]
    summary: Mapped[str] = mapped_column(Text)
    #: SHA-256 of the policy file's text when the change was proposed: approving it is refused if
    #: the file changed since (the diff would no longer say what happens).
    base_sha256: Mapped[str] = mapped_column(String(64))
    new_text: Mapped[str] = mapped_column(Text)
    #: Unified diff from the file as it was to `new_text`.
    diff: Mapped[str] = mapped_column(Text)
    #: "proposed", "applied", "rejected" or "superseded".
    state: Mapped[str] = mapped_column(String(20), index=True)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)
    #: What the change would have done to the last day's decisions (compliance/policy_impact.py).
    what_would_change: Mapped[dict[str, Any] | None] = mapped_column(JSON)


Index("ix_exposure_member", ExposureRecord.member)
