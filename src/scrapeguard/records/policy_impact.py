"""What a policy change would have changed: the last day's decision records replayed under the
proposed mode and allowlist (the console shows it before a change is proposed, and stores it with
the proposal).

- observe -> enforce: the refusals that were only logged (`enforced` false) and would have been
  enforced, by action and by detector, and how many distinct actors they were about (enforce ->
  observe: the enforced refusals that would only have been logged).
- allowlist additions: the refusals that the new networks or accounts would have let through, and
  whose they were. Accounts are kept in clear and compare directly. Addresses are pseudonymised at
  rest (a keyed hash, records/privacy.py) and cannot be turned back into addresses, so a network
  is compared the other way round: every address of it is pseudonymised with the same key and
  looked up. Decision records carry the client's /24 (IPv4) or /64 (IPv6) network as well, so a
  network that is a whole number of those is matched by its /24s or /64s (at most MAX_PSEUDONYMS
  of them: an IPv4 network down to /12), a smaller one by its addresses (at most MAX_PSEUDONYMS:
  an IPv6 /116). A larger network is listed as not checked, with what to do instead (replay the
  raw logs with `scrapeguard replay --policy`).

Allowlisted requests are never counted or recorded, so a network or account taken off the
allowlist has no records to replay: the result says so rather than guessing.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from scrapeguard.policy.model import Policy
from scrapeguard.records import audit
from scrapeguard.records.models import DecisionRecord
from scrapeguard.records.permissions import requires
from scrapeguard.records.privacy import Pseudonymiser

if TYPE_CHECKING:
    from scrapeguard.records.users import Actor

#: The most pseudonyms computed for one network (HMAC-SHA256 each: ~10 ms for 4096).
MAX_PSEUDONYMS = 4096
#: The most actors named in a result (the counts cover them all).
MAX_NAMED = 50
REPLAY_HINT = ("addresses are pseudonymised in the records: replay your access logs with "
               "`scrapeguard replay LOG --policy NEW.toml` to see this network's traffic")


def network_pseudonyms(cidr: str, pseudonymiser: Pseudonymiser) -> set[str] | None:
    """The pseudonymised keys ("net:p-...", "ip:p-...") that decisions from inside `cidr` carry;
    None when that takes more than MAX_PSEUDONYMS hashes."""
    network = ipaddress.ip_network(cidr, strict=False)
    unit = 24 if network.version == 4 else 64
    if network.prefixlen <= unit:
        if 2 ** (unit - network.prefixlen) > MAX_PSEUDONYMS:
            return None
        return {f"net:{pseudonymiser.value(str(sub))}" for sub in network.subnets(new_prefix=unit)}
    if network.num_addresses > MAX_PSEUDONYMS:
        return None
    return {f"ip:{pseudonymiser.value(str(address))}" for address in network}


def _detectors(reasons: list[Any]) -> set[str]:
    return {str(r.get("detector")) for r in reasons if isinstance(r, dict) and r.get("detector")}


@requires("read")
def impact(session: Session, by: Actor, current: Policy, proposed: Policy, now: datetime,
           hours: float = 24.0) -> dict[str, Any]:
    """What `proposed` would have changed against `current` over the `hours` before `now` (a JSON
    object: the console renders it and the proposal keeps it)."""
    since = now - timedelta(hours=hours)
    result: dict[str, Any] = {"from": since.isoformat(), "to": now.isoformat(), "hours": hours,
                              "decisions": 0, "mode": None, "allowlist": None}
    old_nets = {str(c) for c in current.allowlist.cidrs}
    new_nets = [str(c) for c in proposed.allowlist.cidrs if str(c) not in old_nets]
    new_accounts = sorted(proposed.allowlist.accounts - current.allowlist.accounts)
    removed = sorted(old_nets - {str(c) for c in proposed.allowlist.cidrs}) + \
        sorted(current.allowlist.accounts - proposed.allowlist.accounts)
    pseudonymiser = Pseudonymiser(audit.record_keys(session).pseudonym)
    matching: set[str] = set()
    unchecked: list[str] = []
    for cidr in new_nets:
        pseudonyms = network_pseudonyms(cidr, pseudonymiser)
        if pseudonyms is None:
            unchecked.append(cidr)
        else:
            matching |= pseudonyms
    allowing = bool(new_nets or new_accounts)
    mode_changes = current.mode != proposed.mode
    let_through: Counter[str] = Counter()
    let_through_actors: dict[str, None] = {}
    enforced_change: Counter[str] = Counter()
    by_action: Counter[str] = Counter()
    by_detector: Counter[str] = Counter()
    mode_actors: dict[str, None] = {}
    rows = session.execute(select(DecisionRecord.enforced, DecisionRecord.action, DecisionRecord.keys,
                                  DecisionRecord.reasons, DecisionRecord.actors)
                           .where(DecisionRecord.at >= since, DecisionRecord.at <= now)
                           .execution_options(yield_per=1000))
    total = 0
    for enforced, action, stored_keys, reasons, actors in rows:
        total += 1
        keys: dict[str, Any] = stored_keys or {}
        if allowing:
            by_account = "account" in keys and keys["account"] in new_accounts
            by_network = f"ip:{keys.get('ip')}" in matching or f"net:{keys.get('net')}" in matching
            if by_account or by_network:
                let_through["account" if by_account else "network"] += 1
                for actor in actors or ():
                    let_through_actors.setdefault(str(actor))
                continue  # allowlisted: neither enforced nor logged under the proposed policy
        if mode_changes and bool(enforced) != proposed.enforcing:
            enforced_change["refusals"] += 1
            by_action[str(action)] += 1
            for detector in _detectors(reasons or []):
                by_detector[detector] += 1
            for actor in actors or ():
                mode_actors.setdefault(str(actor))
    result["decisions"] = total
    if mode_changes:
        result["mode"] = {
            "from": current.mode, "to": proposed.mode,
            "effect": "would have been enforced" if proposed.enforcing else "would only have been logged",
            "refusals": enforced_change["refusals"], "by_action": dict(by_action.most_common()),
            "by_detector": dict(by_detector.most_common()), "actors": len(mode_actors),
            "named_actors": list(mode_actors)[:MAX_NAMED]}
    if allowing or removed:
        result["allowlist"] = {
            "added_cidrs": new_nets, "added_accounts": new_accounts, "removed": removed,
            "let_through": sum(let_through.values()), "by_account": let_through["account"],
            "by_network": let_through["network"], "actors": len(let_through_actors),
            "named_actors": list(let_through_actors)[:MAX_NAMED],
            "unchecked_cidrs": unchecked, "unchecked_why": REPLAY_HINT if unchecked else "",
            "removed_note": "allowlisted requests are not recorded, so what taking these off the "
                            "allowlist would refuse cannot be replayed from the records" if removed else ""}
    return result
