"""The console guards its own sign-in form with ScrapeGuard: the guard's failed_logins rule,
through the ASGI middleware, as any site would use it.

The console's policy is the built-in defaults with only failed_logins on and one route, the
sign-in form (`/login`, its `username` field as the subject): after `address_throttle` failed
sign-ins within the window an address is throttled on the form (429, then blocked if it goes on),
and a user name that failed that often is refused from the networks that failed it, never from
its owner's own network. Every other page of the console is behind the sign-in and is not
counted. A failed sign-in answers 401 (`auth.py`), which is what the rule counts.
"""

from __future__ import annotations

from typing import Any

from scrapeguard.detectors import REGISTRY
from scrapeguard.integrations.asgi import ScrapeGuardMiddleware
from scrapeguard.policy import Policy, load_policy_text


def console_policy_text() -> str:
    lines = ['mode = "enforce"', "", "[challenge]", "enabled = false", ""]
    for name in sorted(REGISTRY):
        if name != "failed_logins":
            lines += [f"[detectors.{name}]", "enabled = false", ""]
    lines += ["[[routes]]", 'pattern = "/login"', 'kind = "login"', 'subject = "form:username"',
              'methods = ["POST"]', ""]
    return "\n".join(lines)


def console_policy() -> Policy:
    return load_policy_text(console_policy_text(), source="<the console's sign-in guard>")


def guard_console(app: Any, trusted_proxies: tuple[str, ...] = (),
                  clock: Any = None) -> ScrapeGuardMiddleware:
    """`app` behind the guard's failed_logins rule (its own in-memory store)."""
    import time

    # (no clearances, an in-memory store: the guard signs with a random key and says nothing of it)
    return ScrapeGuardMiddleware(app, policy=console_policy(), store="memory://",
                                 trusted_proxies=trusted_proxies, clock=clock or time.time)
