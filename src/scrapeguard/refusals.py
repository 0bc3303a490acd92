"""What a refused client receives: a short page a person can act on, or JSON for API clients.

Framework-neutral: returns status, headers and body, so the proxy and the
in-process middlewares serve the same thing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, select_autoescape

from scrapeguard.decisions import BLOCK, CHALLENGE, LOGIN, THROTTLE, Decision
from scrapeguard.detectors.login_wall import LoginWallOptions
from scrapeguard.policy.model import ActionOptions

if TYPE_CHECKING:
    from scrapeguard.challenge.service import ChallengeSpec

DECISION_HEADER = "X-ScrapeGuard-Decision"


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@cache
def _environment() -> Environment:
    return Environment(loader=PackageLoader("scrapeguard", "templates"),
                       autoescape=select_autoescape(["html"]))


def _wants_json(accept: str | None) -> bool:
    if not accept:
        return False
    accept = accept.lower()
    return "application/json" in accept and "text/html" not in accept


def _minutes(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    if seconds < 5400:
        return f"{round(seconds / 60)} minutes"
    return f"{round(seconds / 3600)} hours"


def build_refusal(decision: Decision, actions: ActionOptions, accept: str | None = None,
                  challenge: ChallengeSpec | None = None, ratelimit: Sequence[tuple[str, str]] = (),
                  error: str = "", login_wall: LoginWallOptions | None = None) -> Refusal:
    """The response for a refused request. A challenge refusal carries `challenge` (what to
    solve); a throttle carries the `ratelimit` headers that explain its quota; the login wall's
    page links `login_wall.login_url`."""
    retry = decision.retry_after
    template = "refused.html"
    login_url = ""
    if decision.action == LOGIN:
        wall = login_wall or LoginWallOptions()
        status, login_url = wall.status, wall.login_url
        heading = "Log in to see more profiles"
        explanation = ("You have looked at as many member profiles today as this site shows to "
                       "visitors who are not logged in, to protect its members from mass copying.")
        next_step = "Log in (or sign up) to continue: logged-in members see more."
    elif decision.action == THROTTLE:
        status = actions.throttle_status
        heading = "Slow down, please"
        explanation = ("You have looked at a lot of member profiles in a short time, more than "
                       "this site allows, to protect its members from mass copying.")
        next_step = f"You can continue in about {_minutes(retry)}. Logged-in members have a higher limit."
    elif decision.action == CHALLENGE:
        status = actions.challenge_status
        template = "challenge.html"
        heading = "One moment, please"
        explanation = ("This site protects its members' data from automated copying, and requests "
                       "from your connection looked unusual. A quick check lets you continue.")
        next_step = ""
    else:
        status = actions.block_status
        heading = "Access paused"
        explanation = ("Requests from your connection looked like automated copying of member "
                       "data, so this site has paused access for it.")
        next_step = f"Access resumes in about {_minutes(retry)}."
    headers = [(DECISION_HEADER, decision.id), ("Cache-Control", "no-store")]
    if decision.action in (THROTTLE, BLOCK):
        headers.append(("Retry-After", str(retry)))
    if decision.action == THROTTLE:
        headers.extend(ratelimit)
    if _wants_json(accept):
        document: dict[str, Any] = {
            "action": decision.action,
            "decision_id": decision.id,
            "retry_after": retry,
            "reason": decision.summary(),
            "appeal": actions.appeal_contact,
        }
        if login_url:
            document["login"] = login_url
        if error:
            document["error"] = error
        if challenge is not None:
            document["challenge"] = challenge.to_dict()
        body = json.dumps(document).encode()
        headers.append(("Content-Type", "application/json"))
    else:
        html = _environment().get_template(template).render(
            heading=heading, explanation=explanation, next_step=next_step,
            appeal_contact=actions.appeal_contact, decision=decision, spec=challenge, error=error,
            login_url=login_url,
            minutes=_minutes(challenge.expires_in) if challenge else "",
            wait_text="these checks are lifted once your connection has been quiet for a while "
                      "(usually within an hour);",
        )
        body = html.encode()
        headers.append(("Content-Type", "text/html; charset=utf-8"))
    return Refusal(status, headers, body)
