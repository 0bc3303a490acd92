"""Scraping strategies through the site's account and contact forms (plug-ins of the registry):
fresh-account enumeration, a contact look-up sweep and sign-up form probing.

The address lists these use stand for a leaked list an attacker holds: on the
demo site they are members' real addresses (regenerated from the demo's seed),
mixed with invented ones.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from urllib.parse import quote

from scrapeguard.demo.site import COUNTRIES, SiteData
from scrapeguard.drill.client import CHROME, PROFILE_LINK, Tally, Visitor, interleave
from scrapeguard.drill.strategies import Result, Target, strategy

#: The demo site's seed (the harness's default): where the "leaked" address list comes from.
DEMO_SEED = 1
#: A sign-up answer that gives away that an address already has an account.
ADDRESS_KNOWN = re.compile(r"(?i)already (registered|in use|exists|taken)|address is taken")


def leaked_addresses(target: Target, count: int, seed: int) -> list[str]:
    """`count` addresses, about two in three of them members' (the rest invented), shuffled."""
    pace = random.Random(seed)
    real = list(SiteData.generate(target.members, DEMO_SEED, False).by_email)
    pace.shuffle(real)
    known = real[: count * 2 // 3]
    invented = [f"someone.{pace.randrange(10**8)}@example.net" for _ in range(count - len(known))]
    addresses = known + invented
    pace.shuffle(addresses)
    return addresses


def sign_up(visitor: Visitor, username: str, email: str) -> int:
    """Fill the demo's sign-up form; the status of its answer (303: signed up and logged in)."""
    visitor.get("/signup")
    return visitor.post("/signup", {"username": username, "name": username.title(), "email": email,
                                    "password": "correct horse battery", "country": COUNTRIES[0]}
                        ).status_code


def fresh_accounts(target: Target, accounts: int = 6, per_account: int = 400, seed: int = 5) -> Result:
    """Sign up an account and walk member ids through the API with its session (members see more);
    when refused, throw the account away and sign up a new one, from the same address, `accounts`
    times in all."""
    tally = Tally()
    pace = random.Random(seed)
    ids = iter(range(1, target.members + 1))
    made = 0
    with Visitor(target.url, target.clock, CHROME, tally, cookies=True,
                 source_address=target.address) as visitor:
        for made in range(1, accounts + 1):
            visitor.client.cookies.clear()
            name = f"fresh{seed}x{made}r{pace.randrange(10**6)}"
            if sign_up(visitor, name, f"{name}@example.org") != 303:
                target.clock.sleep(60)
                continue
            for taken, member in enumerate(ids, start=1):
                response = visitor.get(f"/api/v1/members/{member}")
                target.clock.sleep(pace.uniform(1, 3))
                if response.status_code != 200 or taken >= per_account:
                    break
    return Result("", tally, notes={"accounts": made})


def lookup_sweep(target: Target, count: int = 300, seed: int = 9) -> Result:
    """A leaked address list run through the contact look-up (/lookup?email=): every hit names a
    member (their profile link), so it counts as that member's profile leaked."""
    tally = Tally()
    pace = random.Random(seed)

    def sweep(visitor: Visitor) -> Iterator[float]:
        for email in leaked_addresses(target, count, seed):
            response = visitor.get("/lookup?email=" + quote(email))
            if response.status_code == 200:
                for name in PROFILE_LINK.findall(response.text):
                    tally.leaked(name)
            yield pace.uniform(0.5, 2.0)

    with Visitor(target.url, target.clock, CHROME, tally, cookies=True,
                 source_address=target.address) as visitor:
        interleave(target.clock, [(0, sweep(visitor))])
    return Result("", tally)


def signup_probe(target: Target, count: int = 120, seed: int = 13) -> Result:
    """A leaked address list tried on the sign-up form, as sites answering "already registered"
    allow: an answer that gives the address away counts as its member's profile leaked (the demo
    answers alike either way; the guard routes the form as a contact look-up)."""
    tally = Tally()
    pace = random.Random(seed)
    with Visitor(target.url, target.clock, CHROME, tally, cookies=False,
                 source_address=target.address) as visitor:
        for n, email in enumerate(leaked_addresses(target, count, seed)):
            response = visitor.post("/signup", {
                "username": f"probe{seed}x{n}r{pace.randrange(10**6)}", "name": "Probe", "email": email,
                "password": "correct horse battery", "country": COUNTRIES[0]})
            if response.status_code == 400 and ADDRESS_KNOWN.search(response.text):
                tally.leaked(email)
            target.clock.sleep(pace.uniform(1, 4))
    return Result("", tally)


@strategy("fresh-accounts", "sign up a new account, walk the API's member ids logged in, and sign up "
          "another whenever refused (6 accounts, one address)")
def _fresh_accounts(target: Target) -> Result:
    return fresh_accounts(target)


@strategy("lookup-sweep", "300 addresses from a leaked list (two in three members') run through the "
          "contact look-up, one every 0.5-2 s")
def _lookup_sweep(target: Target) -> Result:
    return lookup_sweep(target)


@strategy("signup-probe", "120 addresses from a leaked list tried on the sign-up form, to learn which "
          "have accounts")
def _signup_probe(target: Target) -> Result:
    return signup_probe(target)
