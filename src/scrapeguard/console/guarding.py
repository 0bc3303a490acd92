"""The console guards its own sign-in form with ScrapeGuard: the guard's failed_logins rule,
through the ASGI middleware, as any site would use it.

The console's policy is the built-in defaults with only failed_logins on and one route, the
sign-in form (`/login`, its `username` field as the subject): after `address_throttle` failed
sign-ins within the window an address is throttled on the form (429, then blocked if it goes on),
and a user name that failed that often is refused from the networks that failed it, never from
its owner's own network. Every other page of the console is behind the sign-in and is not
counted. A failed sign-in answers 401 (`auth.py`), which is what the rule counts. With the guard's
shared store (`--store`), the failures are counted there (`signin_store_uri`): several consoles
behind one address share one count, and a restart does not forget it.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from scrapeguard.challenge.keys import SigningKeys
from scrapeguard.detectors import REGISTRY
from scrapeguard.engine import Engine
from scrapeguard.integrations.adapter import GuardAdapter
from scrapeguard.integrations.asgi import ScrapeGuardMiddleware
from scrapeguard.policy import Policy, load_policy_text
from scrapeguard.policy.model import StoreOptions
from scrapeguard.stores import store_from_uri


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


def signin_store_uri(store_uri: str | None, options: StoreOptions) -> str:
    """Where the sign-in guard counts failed sign-ins: in this console's memory, or, when the console
    is given the guard's shared store (`--store redis://...`), in that store under a prefix of its
    own (the store's prefix + "-console"), so that consoles behind one address share the count, a
    restart keeps it, and the site's own login failures are counted apart. The guard's policy's
    [store] timeout, failure mode and retry are carried over, unless the URI sets them itself."""
    if not store_uri or urlsplit(store_uri).scheme == "memory":
        return "memory://"
    parts = urlsplit(store_uri)
    given = parse_qsl(parts.query)  # (blank values dropped, as store_from_uri's parse_qs drops them)
    first = {name: value for name, value in reversed(given)}  # (and the first of a repeated one)
    query = [(name, value) for name, value in given if name != "prefix"]
    for name, value in (("timeout_ms", f"{options.timeout_ms:g}"), ("fail", options.fail),
                        ("retry_seconds", f"{options.retry_seconds:g}")):
        if name not in first:
            query.append((name, value))
    query.append(("prefix", f"{first.get('prefix', options.prefix)}-console"))
    return urlunsplit(parts._replace(query=urlencode(query)))


def guard_console(app: Any, trusted_proxies: tuple[str, ...] = (), clock: Any = None,
                  store: str = "memory://") -> ScrapeGuardMiddleware:
    """`app` behind the guard's failed_logins rule, counting in `store` (see `signin_store_uri`)."""
    import time

    policy = console_policy()
    # A random signing key, on purpose: this guard gives no clearances and stamps no session (the
    # console's cookie is not the policy's session cookie), so no other console or restart needs it.
    keys = SigningKeys((secrets.token_urlsafe(32).encode(),), "random")
    guard = GuardAdapter(Engine(policy, store_from_uri(store, policy.store)), trusted_proxies,
                         metrics=False, keys=keys)
    return ScrapeGuardMiddleware(app, guard=guard, clock=clock or time.time)
