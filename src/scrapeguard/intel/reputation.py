"""Where an address belongs: hosting and cloud networks, VPN exits, relays that carry people.

From the shipped ranges (intel/data/ipranges, refreshed by `scrapeguard intel
refresh`) and, optionally, the operator's name (ASN) from the offline
database the geoip2fast package ships (MaxMind GeoLite2 data). An operator
whose name says hosting, cloud or servers counts as hosting too: the shipped
ranges cover the largest clouds only.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import threading
from dataclasses import dataclass
from functools import cache
from typing import Any

from scrapeguard.intel.crawlers import published_ranges

log = logging.getLogger(__name__)

#: Shipped range folders, by what the networks are.
DATACENTERS = {"amazon": "Amazon AWS", "digitalocean": "DigitalOcean", "google": "Google Cloud",
               "linode": "Linode (Akamai)", "microsoft": "Microsoft Azure", "oracle": "Oracle Cloud",
               "vultr": "Vultr"}
VPNS = {"protonvpn": "Proton VPN"}
#: Relays whose exits carry ordinary people's browsing: never held against anyone.
RELAYS = {"apple-proxy": "iCloud Private Relay"}

HOSTING = "hosting"
VPN = "vpn"
RELAY = "relay"

#: Operator names that say hosting (a heuristic over ASN names; see the module docstring).
HOSTING_NAME = re.compile(
    r"hosting|\bcloud\b|server|data ?cent(er|re)|\bcolo\b|colocation|\bvps\b|dedicated|hetzner|\bovh|"
    r"contabo|leaseweb|"
    r"choopa|scaleway|alibaba|tencent|hostinger|ionos|m247|datacamp|psychz|quadranet|"
    r"digitalocean|linode|akamai|amazon|google llc|microsoft|oracle|vultr|upcloud|serverius|"
    r"cogent|gcore|g-core|zenlayer|hivelocity|nforce|worldstream|servers\.com|kamatera|"
    r"ponynet|frantech|buyvm|racknerd|colocrossing|datapacket|cdn77", re.I)


@dataclass(frozen=True, slots=True)
class Origin:
    kind: str  # HOSTING, VPN or RELAY
    operator: str


@cache
def _sets() -> list[tuple[str, str, Any]]:
    out = []
    for kind, providers in ((RELAY, RELAYS), (VPN, VPNS), (HOSTING, DATACENTERS)):
        for folder, operator in providers.items():
            out.append((kind, operator, published_ranges(folder)))
    return out


def origin(ip: str) -> Origin | None:
    """The kind of network the address is in, from the shipped ranges (relays first)."""
    try:
        addr = ipaddress.ip_address(ip)  # parsed once for every set
    except ValueError:
        return None
    for kind, operator, networks in _sets():
        if networks.holds(addr):
            return Origin(kind, operator)
    return None


class AsnLookup:
    """The operator (ASN name) of an address, from geoip2fast's offline database.

    The database (about 40 MB in memory) loads on first use; if the package or
    its data is missing, look-ups answer None and say so once in the log."""

    def __init__(self) -> None:
        self._db: Any = None
        self._failed = False
        self._loading = threading.Lock()

    def _load(self) -> Any:
        if self._db is None and not self._failed:
            with self._loading:  # the first requests of a busy guard arrive together: load it once
                if self._db is None and not self._failed:
                    try:
                        from geoip2fast import GeoIP2Fast
                        self._db = GeoIP2Fast(geoip2fast_data_file="geoip2fast-asn-ipv6.dat.gz")
                    except Exception as exc:  # the guard works without it
                        self._failed = True
                        log.warning("ASN look-ups are off: could not load geoip2fast's database (%s)", exc)
        return self._db

    def load_in_background(self) -> None:
        """Start loading the database now, so that the first requests do not wait for it."""
        if self._db is None and not self._failed:
            threading.Thread(target=self._load, name="asn-database", daemon=True).start()

    def operator(self, ip: str) -> str | None:
        db = self._load()
        if db is None:
            return None
        try:
            name = db.lookup(ip).asn_name
        except Exception:
            return None
        return str(name) if name else None


@cache
def asn_lookup() -> AsnLookup:
    """One database per process, shared by every engine."""
    return AsnLookup()


def looks_like_hosting(operator: str) -> bool:
    return bool(HOSTING_NAME.search(operator))
