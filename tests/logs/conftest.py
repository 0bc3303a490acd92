"""A generated access log with known actors: a scraper, a campaign, people, crawlers, a look-up sweep."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

START = 1769940000  # 2026-02-01T10:00:00Z

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
SCRAPER_IP = "198.51.100.9"
CAMPAIGN_IPS = ("203.0.113.10", "198.18.0.20", "192.0.2.30", "100.64.1.40", "198.18.5.50")
GOOGLE_IP = "34.22.85.1"  # in Google's published ranges (intel/data/ipranges/googlebot)
FAKE_GOOGLE_IP = "203.0.113.66"
LOOKUP_IP = "192.0.2.77"


@dataclass
class Scenario:
    path: Path
    lines: list[str] = field(default_factory=list)
    #: (actor, member) pairs whose data a flagged actor received.
    exposed: set[tuple[str, str]] = field(default_factory=set)

    def add(
        self, ts: int, ip: str, target: str, status: int = 200, ua: str = CHROME, user: str = "-"
    ) -> None:
        minute, second = divmod(ts - START, 60)
        hour, minute = divmod(minute, 60)
        self.lines.append(
            f"{ip} - {user} [01/Feb/2026:{10 + hour:02d}:{minute:02d}:{second:02d} +0000] "
            f'"GET {target} HTTP/1.1" {status} 1234 "-" "{ua}"'
        )


def make_scenario(path: Path) -> Scenario:
    s = Scenario(path)
    # a scraper walking the API: 150 members in 25 minutes (quota 60/hour), a few misses and redirects
    for i in range(1, 151):
        s.add(START + i * 10, SCRAPER_IP, f"/api/v1/members/{i}", ua="python-requests/2.32.3")
        s.exposed.add((f"ip:{SCRAPER_IP}", f"id:{i}"))
    for i in range(9001, 9011):
        s.add(START + 1600 + i - 9001, SCRAPER_IP, f"/api/v1/members/{i}", 404, ua="python-requests/2.32.3")
    for i in range(5):
        s.add(START + 1700 + i, SCRAPER_IP, f"/u/old{i}", 301, ua="python-requests/2.32.3")
    # a campaign: five IPs in five networks (the policy's min_networks), one user agent, 40 members each
    # (under 60/hour), disjoint slices
    for j, ip in enumerate(CAMPAIGN_IPS):
        for k in range(40):
            member = f"member{1000 + 40 * j + k}"
            s.add(START + k * 85 + j, ip, f"/u/{member}", ua=FIREFOX)
            s.exposed.add((f"ip:{ip}", f"username:{member}"))
    # people: a few profiles each, with the pages and assets a browser loads
    for p in range(25):
        ip = f"192.0.2.{100 + p}"
        for k in range(3):
            t = START + 60 * p + 7 * k
            s.add(t, ip, f"/u/member{(p * 7 + k) % 300}", ua=CHROME)
            s.add(t + 1, ip, "/static/site.css", ua=CHROME)
        s.add(START + 60 * p + 30, ip, "/directory?page=2", ua=CHROME)
    # the real Googlebot (published range) reads 100 profiles in an hour: exempt, listed apart
    for i in range(100):
        s.add(START + 30 * i, GOOGLE_IP, f"/u/member{i}", ua=GOOGLEBOT)
    # a fake one
    for i in range(5):
        s.add(START + 30 * i + 5, FAKE_GOOGLE_IP, f"/u/member{i}", ua=GOOGLEBOT)
        s.exposed.add((f"ip:{FAKE_GOOGLE_IP}", f"username:member{i}"))
    # contact look-ups: 15 in an hour (quota 10/hour)
    for i in range(15):
        s.add(START + 200 * i, LOOKUP_IP, f"/lookup?email=user{i}%40example.org", ua=CHROME)
        s.exposed.add((f"ip:{LOOKUP_IP}", f"email:user{i}@example.org"))
    s.lines.sort(key=lambda line: line.split("[", 1)[1][:26])
    s.lines.insert(10, "garbage")
    s.lines.insert(20, "")
    path.write_text("\n".join(s.lines) + "\n")
    return s


@pytest.fixture
def scenario(tmp_path: Path) -> Scenario:
    return make_scenario(tmp_path / "access.log")
