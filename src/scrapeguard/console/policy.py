"""The policy page: the policy in force (mode, allowlists), changes waiting for a second admin with
their diff and what they would have changed, and the history of changes.

A change is made in three steps: an admin fills the form (mode, allowlisted networks and accounts)
and previews it (GET: the diff of the policy file and the last day's decisions replayed under it,
records/policy_impact.py); proposes it (stored with that replay); a second admin approves it, and
the records layer writes the file (records/policy_changes.py: four eyes, the file unchanged since
the proposal, written atomically). The guard picks the new file up by itself.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.responses import Response

from scrapeguard.console.web import Page, PageError, Routes
from scrapeguard.policy import Policy, PolicyError, default_policy, load_policy_text
from scrapeguard.policy.editing import EditError, edit_policy, parse_accounts, parse_networks
from scrapeguard.records import policy_changes
from scrapeguard.records.errors import NotFound, RecordsError
from scrapeguard.records.policy_impact import impact

routes = Routes()

READ_ONLY = "built-in defaults (read-only): start the console with --policy FILE to edit"


@dataclass(frozen=True)
class DiffLine:
    #: "add", "del", "hunk" or "same": the row's class; `change` says it in words.
    kind: str
    change: str
    text: str


def diff_lines(diff: str) -> list[DiffLine]:
    """A unified diff as rows that say in words what each line is (colour only repeats it)."""
    rows = []
    for line in diff.splitlines():
        if line.startswith(("--- ", "+++ ")):
            continue
        if line.startswith("@@"):
            rows.append(DiffLine("hunk", "…", line))
        elif line.startswith("+"):
            rows.append(DiffLine("add", "+ added", line[1:]))
        elif line.startswith("-"):
            rows.append(DiffLine("del", "− removed", line[1:]))
        else:
            rows.append(DiffLine("same", "", line[1:]))
    return rows


@dataclass(frozen=True)
class InForce:
    """The policy the guard runs with, as the console sees it."""

    path: Path | None
    text: str | None
    policy: Policy
    sha256: str
    problem: str = ""

    @property
    def editable(self) -> bool:
        return self.path is not None and not self.problem


def in_force(page: Page) -> InForce:
    path = page.console.settings.policy_path
    if path is None:
        return InForce(None, None, default_policy(), "")
    try:
        text = policy_changes.read_policy_file(path)
    except RecordsError as exc:
        return InForce(path, None, default_policy(), "", str(exc))
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    try:
        return InForce(path, text, load_policy_text(text, source=str(path)), digest)
    except PolicyError as exc:
        return InForce(path, text, default_policy(), digest, f"the file does not load as a policy: {exc}")


def _require_editable(current: InForce) -> tuple[Path, str]:
    if current.path is None or current.text is None:
        raise PageError(409, f"the console runs with the {READ_ONLY}")
    if current.problem:
        raise PageError(409, current.problem)
    return current.path, current.text


def _lines(values: Any) -> str:
    return "\n".join(str(v) for v in values)


@dataclass(frozen=True)
class Proposal:
    """The form's values and the policy text they make."""

    mode: str
    cidrs_text: str
    accounts_text: str
    new_text: str
    proposed: Policy


def build_proposal(current: InForce, mode: str, cidrs_text: str, accounts_text: str) -> Proposal:
    """The edited policy text for the form's values (PageError 400 saying what is wrong)."""
    _, text = _require_editable(current)
    try:
        cidrs = parse_networks(cidrs_text)
        accounts = parse_accounts(accounts_text)
        # only what differs from the policy in force is written (the file may leave it to the defaults)
        new_text = edit_policy(
            text, mode=mode if mode != current.policy.mode else None,
            cidrs=cidrs if cidrs != tuple(str(c) for c in current.policy.allowlist.cidrs) else None,
            accounts=accounts if set(accounts) != set(current.policy.allowlist.accounts) else None)
        proposed = load_policy_text(new_text, source=str(current.path))
    except (EditError, PolicyError) as exc:
        raise PageError(400, str(exc)) from exc
    return Proposal(mode, cidrs_text, accounts_text, new_text, proposed)


@routes.get("/policy", "read")
async def policy_page(page: Page) -> Response:
    current = in_force(page)
    with page.records() as session:
        changes = policy_changes.list_changes(session, page.actor)
    pending = [c for c in changes if c.state == policy_changes.PROPOSED]
    return page.render("policy.html", in_force=current, read_only=READ_ONLY, pending=pending, history=changes,
                       diff_lines=diff_lines, can_change=page.can("policy.change"))


@routes.get("/policy/propose", "policy.change")
async def propose_form(page: Page) -> Response:
    """The change form; with `preview` in the query, also the diff and what would change."""
    current = in_force(page)
    query = page.request.query_params
    values = {"mode": query.get("mode", current.policy.mode),
              "cidrs": query.get("cidrs", _lines(current.policy.allowlist.cidrs)),
              "accounts": query.get("accounts", _lines(sorted(current.policy.allowlist.accounts))),
              "summary": query.get("summary", "")}
    preview: dict[str, Any] | None = None
    error = ""
    if "preview" in query and current.editable:
        try:
            proposal = build_proposal(current, values["mode"], values["cidrs"], values["accounts"])
        except PageError as exc:
            error = exc.message
        else:
            with page.records() as session:
                changes = impact(session, page.actor, current.policy, proposal.proposed, page.now_datetime)
            assert current.text is not None and current.path is not None
            diff = policy_changes.unified_diff(current.text, proposal.new_text, current.path.name)
            preview = {"diff": diff_lines(diff), "unchanged": proposal.new_text == current.text,
                       "impact": changes}
    return page.render("policy_propose.html", in_force=current, read_only=READ_ONLY, values=values,
                       preview=preview, error=error)


@routes.post("/policy/propose", "policy.change")
async def propose(page: Page) -> Response:
    current = in_force(page)
    path, _ = _require_editable(current)
    mode = await page.field("mode")
    proposal = build_proposal(current, mode, await page.field("cidrs", required=False),
                              await page.field("accounts", required=False))
    summary = await page.field("summary")
    with page.records() as session:
        changes = impact(session, page.actor, current.policy, proposal.proposed, page.now_datetime)
        change = policy_changes.propose(session, page.actor, path, proposal.new_text, summary, changes)
        change_id = change.id
    return page.redirect(f"/policy#change-{change_id}",
                         f"Policy change {change_id} proposed: another admin must approve it.")


def _change_id(page: Page) -> int:
    text = page.param("change_id")
    if not text.isdigit():
        raise NotFound(f"no policy change {text!r}")
    return int(text)


@routes.post("/policy/changes/{change_id}/approve", "policy.change")
async def approve(page: Page) -> Response:
    change_id = _change_id(page)
    path, _ = _require_editable(in_force(page))
    note = await page.field("note", required=False)
    with page.records() as session:
        policy_changes.approve(session, page.actor, change_id, path, note)
    return page.redirect("/policy", f"Policy change {change_id} approved: {path} is written; the guard "
                                    "loads it within seconds.")


@routes.post("/policy/changes/{change_id}/reject", "policy.change")
async def reject(page: Page) -> Response:
    change_id = _change_id(page)
    note = await page.field("note")
    with page.records() as session:
        policy_changes.reject(session, page.actor, change_id, note)
    return page.redirect("/policy", f"Policy change {change_id} rejected.")
