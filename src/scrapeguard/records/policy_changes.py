"""Changes of the guard's policy file, with four eyes: one admin proposes a new text (checked to
load as a policy, stored with its diff and with what it would have changed in the last day), a
second admin approves it, and only then is the file written (atomically). The proposal remembers
the SHA-256 of the file it was made from: if the file changed since, approving is refused (the diff
the approver read would no longer be what happens).

The running guard picks the new file up by itself (`scrapeguard proxy` checks its file every few
seconds and on SIGHUP, see serving.PolicyReloader) and audits "policy.in_force" when it does.

`impact` is the "what would change" replay: the last day's decision records under the proposed
mode and allowlist (records/policy_impact.py).
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from scrapeguard.policy import PolicyError, load_policy_text
from scrapeguard.records import audit
from scrapeguard.records.errors import InvalidStep, NotFound, PermissionDenied, RecordsError
from scrapeguard.records.models import PolicyChange
from scrapeguard.records.permissions import requires

if TYPE_CHECKING:
    from scrapeguard.records.users import Actor

PROPOSED, APPLIED, REJECTED, SUPERSEDED = "proposed", "applied", "rejected", "superseded"
#: Longest policy text a proposal takes (the default policy with comments is ~40 KB).
MAX_TEXT = 1024 * 1024


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_policy_file(path: Path) -> str:
    """The policy file's text (RecordsError when it cannot be read)."""
    try:
        return path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordsError(f"the policy file {path} cannot be read: {exc}") from exc


def unified_diff(old: str, new: str, name: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        fromfile=f"{name} (in force)", tofile=f"{name} (proposed)"))


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` so that a reader sees the old file or the new one, never a part:
    a temporary file beside it (same mode), flushed to disk, then renamed over it."""
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


@requires("policy.change")
def propose(session: Session, by: Actor, path: Path, new_text: str, summary: str,
            what_would_change: dict[str, Any] | None = None) -> PolicyChange:
    """Propose `new_text` for the policy file at `path`; it must load as a policy and differ from
    the file. Nothing is written to the file until another admin approves."""
    summary = summary.strip()
    if not summary:
        raise RecordsError("say in a few words what the change is for (summary)")
    if len(new_text) > MAX_TEXT:
        raise RecordsError(f"a policy is at most {MAX_TEXT // 1024} KB")
    current = read_policy_file(path)
    if new_text == current:
        raise RecordsError("the proposed policy is the same as the file in force: nothing to change")
    try:
        load_policy_text(new_text, source=str(path))
    except PolicyError as exc:
        raise RecordsError(str(exc)) from exc
    change = PolicyChange(proposed_by=by.name, proposed_at=datetime.now(UTC), summary=summary[:2000],
                          base_sha256=sha256_text(current), new_text=new_text,
                          diff=unified_diff(current, new_text, path.name), state=PROPOSED,
                          what_would_change=what_would_change)
    session.add(change)
    session.flush()
    audit.record_change(session, by.name, "policy.propose", change, {
        "file": str(path), "summary": change.summary, "base_sha256": change.base_sha256,
        "new_sha256": sha256_text(new_text)})
    return change


def _change(session: Session, change_id: int) -> PolicyChange:
    change = session.get(PolicyChange, change_id)
    if change is None:
        raise NotFound(f"no policy change {change_id}")
    return change


@requires("policy.change")
def approve(session: Session, by: Actor, change_id: int, path: Path, note: str = "") -> PolicyChange:
    """Approve a proposed change (another admin than its proposer) and write the policy file.
    Other proposals made from the same file are superseded: they would undo this one."""
    change = _change(session, change_id)
    if change.state != PROPOSED:
        raise InvalidStep(f"policy change {change_id} is {change.state}: only a proposed change can be "
                          "approved")
    if change.proposed_by == by.name:
        raise PermissionDenied(f"{by.name} proposed policy change {change_id}: a second admin must approve "
                               "it (four eyes)")
    current = read_policy_file(path)
    if sha256_text(current) != change.base_sha256:
        raise InvalidStep("the policy file changed since this was proposed: propose again")
    try:
        load_policy_text(change.new_text, source=str(path))
    except PolicyError as exc:  # (a newer ScrapeGuard may read policies more strictly)
        raise RecordsError(f"the proposed policy no longer loads: {exc}") from exc
    now = datetime.now(UTC)
    change.state, change.decided_by, change.decided_at = APPLIED, by.name, now
    change.note = note.strip() or None
    audit.record_change(session, by.name, "policy.apply", change, {
        "file": str(path), "proposed_by": change.proposed_by, "summary": change.summary,
        "from_sha256": change.base_sha256, "to_sha256": sha256_text(change.new_text)}, at=now)
    others = session.execute(select(PolicyChange).where(PolicyChange.state == PROPOSED,
                                                        PolicyChange.id != change.id)).scalars()
    for other in others:
        other.state, other.decided_by, other.decided_at = SUPERSEDED, by.name, now
        other.note = f"policy change {change.id} was applied first: propose again"
        audit.record_change(session, by.name, "policy.supersede", other, {"by_change": change.id}, at=now)
    try:
        write_atomically(path, change.new_text)  # last: a failure rolls the records back
    except OSError as exc:
        raise RecordsError(f"the policy file {path} could not be written: {exc}") from exc
    return change


@requires("policy.change")
def reject(session: Session, by: Actor, change_id: int, note: str) -> PolicyChange:
    """Reject a proposed change (its proposer may withdraw it this way too), saying why."""
    note = note.strip()
    if not note:
        raise RecordsError("say why the change is rejected (note)")
    change = _change(session, change_id)
    if change.state != PROPOSED:
        raise InvalidStep(f"policy change {change_id} is {change.state}: only a proposed change can be "
                          "rejected")
    change.state, change.decided_by, change.decided_at = REJECTED, by.name, datetime.now(UTC)
    change.note = note
    audit.record_change(session, by.name, "policy.reject", change, {"note": note})
    return change


@requires("read")
def list_changes(session: Session, by: Actor) -> list[PolicyChange]:
    """Every policy change, newest first."""
    return list(session.execute(select(PolicyChange).order_by(PolicyChange.id.desc())).scalars())
