"""Who a user agent says it is: a search engine's crawler, an AI crawler, a scraping tool, a bot.

A claim is only a claim: `CrawlerVerifier` checks search-engine claims against
the operator's published IP ranges and by forward-confirmed reverse DNS, so a
fake "Googlebot" can be told from the real one.
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

import crawleruseragents

from scrapeguard.intel.networks import NetworkSet

SEARCH = "search"
AI_TRAINING = "ai_training"
AI_OTHER = "ai_other"
TOOL = "tool"
CRAWLER = "crawler"
EMPTY = "empty"
BROWSER = "browser"


@dataclass(frozen=True)
class SearchCrawler:
    name: str
    operator: str
    token: re.Pattern[str]
    #: Folder of published ranges under intel/data/ipranges, if the operator publishes them.
    ranges: str | None
    #: Host name suffixes a genuine crawler's reverse DNS ends with.
    rdns: tuple[str, ...]


SEARCH_CRAWLERS = (
    SearchCrawler("Googlebot", "Google",
                  re.compile(r"Googlebot|Google-InspectionTool|Storebot-Google|GoogleOther"),
                  # not .googleusercontent.com: anyone's Google Cloud machine has such a name
                  "googlebot", (".googlebot.com", ".google.com")),
    SearchCrawler("Bingbot", "Microsoft", re.compile(r"bingbot|BingPreview|msnbot|adidxbot", re.I),
                  "bing", (".search.msn.com",)),
    SearchCrawler("DuckDuckBot", "DuckDuckGo", re.compile(r"DuckDuckBot"), "duckduckbot",
                  (".duckduckgo.com",)),
    SearchCrawler("Applebot", "Apple", re.compile(r"Applebot"), None, (".applebot.apple.com",)),
    SearchCrawler("YandexBot", "Yandex", re.compile(r"YandexBot|YandexImages|YandexMobileBot"), None,
                  (".yandex.ru", ".yandex.net", ".yandex.com")),
    SearchCrawler("Baiduspider", "Baidu", re.compile(r"Baiduspider"), None,
                  (".crawl.baidu.com", ".crawl.baidu.jp")),
)

#: Vulnerability and content-discovery scanners, as they name themselves. They probe a site for
#: ways in (admin pages, user listings, injectable parameters); no browser a person uses names one.
_SCANNER_NAMES = r"nikto|sqlmap|masscan|zgrab|nuclei|dirbuster|gobuster|wpscan"
SCANNERS = re.compile(_SCANNER_NAMES, re.I)
#: HTTP libraries and automation tools that scrapers use, as they name themselves (scanners included).
TOOLS = re.compile(
    r"python-requests|python-urllib|python-httpx|aiohttp|\bcurl/|\bwget/|scrapy|go-http-client|okhttp|"
    r"apache-httpclient|\bjava/|libwww-perl|node-fetch|\baxios/|\bgot \(|undici|headlesschrome|phantomjs|"
    r"puppeteer|playwright|selenium|\bcolly\b|guzzlehttp|restsharp|postmanruntime|insomnia|httpie|"
    + _SCANNER_NAMES,
    re.I)

#: Apps and embedded browsers that people use, whose user agents crawler lists match by mistake:
#: in-app browsers (Facebook, Instagram, Android WebView), desktop apps built on Electron or Qt
#: (Slack, VS Code), messengers. Checked after search crawlers and scraping tools.
PEOPLES_APPS = re.compile(
    r"; wv\)|\bFBAN/|\bFBAV/|\bInstagram \d|MetaIAB|\bElectron/\d|QtWebEngine/|\bFluid/|MozacFetch/|"
    r"\bViber/|\bWhatsApp/|\bLine/\d|KAKAOTALK|\bSnapchat/|\bPinterest/|\bGSA/\d")

_TRAINING = re.compile(r"train|scrap|data provider|dataset", re.I)


@dataclass(frozen=True)
class Agent:
    kind: str
    name: str = ""
    operator: str = ""
    crawler: SearchCrawler | None = None


@cache
def _ai_crawlers() -> list[tuple[re.Pattern[str], str, str, bool]]:
    source = resources.files("scrapeguard.intel").joinpath("data/ai-crawlers.json")
    data = json.loads(source.read_text("utf-8"))
    out = []
    for token, info in data.items():
        function = str(info.get("function", ""))
        description = str(info.get("description", ""))
        training = bool(_TRAINING.search(function) or (_TRAINING.search(description[:200]) and
                        "search" not in function.lower()))
        operator = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", str(info.get("operator", "")))  # markdown links
        out.append((re.compile(r"(?<![\w-])" + re.escape(token) + r"(?![\w-])", re.I), token,
                    operator, training))
    return out


@lru_cache(maxsize=65536)
def scanner_name(user_agent: str) -> str | None:
    """The vulnerability scanner a user agent declares (e.g. "Nikto"), or None."""
    found = SCANNERS.search(user_agent)
    return found.group(0) if found else None


@lru_cache(maxsize=65536)
def classify(user_agent: str) -> Agent:
    """What a user agent declares itself to be (cached: user agents repeat)."""
    ua = user_agent.strip()
    if not ua or ua == "-":
        return Agent(EMPTY)
    for crawler in SEARCH_CRAWLERS:
        if crawler.token.search(ua):
            return Agent(SEARCH, crawler.name, crawler.operator, crawler)
    tool = TOOLS.search(ua)  # before the AI list, which also names some general tools (Scrapy)
    if tool:
        return Agent(TOOL, tool.group(0).strip("/ ("))
    if PEOPLES_APPS.search(ua):
        return Agent(BROWSER)
    for pattern, token, operator, training in _ai_crawlers():
        if pattern.search(ua):
            return Agent(AI_TRAINING if training else AI_OTHER, token, operator)
    if crawleruseragents.is_crawler(ua):
        return Agent(CRAWLER, ua[:60])
    return Agent(BROWSER)


@cache
def published_ranges(name: str) -> NetworkSet:
    """The shipped ranges of one operator, without special-purpose networks (documentation,
    private, loopback...), which some published lists carry by mistake."""
    folder = resources.files("scrapeguard.intel").joinpath(f"data/ipranges/{name}")
    lines: list[str] = []
    for file in ("ipv4_merged.txt", "ipv6_merged.txt"):
        path = folder.joinpath(file)
        if path.is_file():
            lines += [line for line in path.read_text("utf-8").splitlines() if _public(line)]
    return NetworkSet(lines)


def _public(line: str) -> bool:
    text = line.strip()
    if not text or text.startswith("#"):
        return False
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return network.is_global


# -- verification ------------------------------------------------------------------------

VERIFIED = "verified"
UNVERIFIED = "unverified"
PENDING = "pending"
#: Background look-ups queued at most; beyond, new claims are judged unverified at once.
MAX_PENDING = 1000
#: A look-up not answered within this many seconds counts as unverified.
PENDING_SECONDS = 30.0
MAX_VERDICTS = 100_000


class Resolver:
    """DNS look-ups for forward-confirmed reverse DNS; replace it in tests."""

    def reverse(self, ip: str) -> str | None:
        try:
            return socket.gethostbyaddr(ip)[0]
        except (OSError, UnicodeError):
            return None

    def forward(self, host: str) -> list[str]:
        try:
            return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, None)})
        except (OSError, UnicodeError):
            return []


class CrawlerVerifier:
    """Is this IP really the search engine's crawler? Published ranges first, then FCrDNS.

    With `background=True` (live traffic) DNS runs in a worker thread and the
    first requests get PENDING (judged neither way) until the answer is
    cached; replays and tests resolve inline.
    """

    def __init__(self, resolver: Resolver | None = None, background: bool = False,
                 range_source: Callable[[str], NetworkSet] = published_ranges) -> None:
        self.resolver = resolver
        self.background = background
        self.range_source = range_source
        self._verdicts: dict[tuple[str, str], str] = {}
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="fcrdns") if background else None
        #: Look-ups queued or running (background only), and when each was asked for.
        self._pending: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def verify(self, ip: str, crawler: SearchCrawler) -> str:
        if crawler.ranges and ip in self.range_source(crawler.ranges):
            return VERIFIED
        if self.resolver is None:
            return UNVERIFIED
        key = (ip, crawler.name)
        verdict = self._verdicts.get(key)
        if verdict is not None:
            return verdict
        if self._pool is None:
            return self._resolve(ip, crawler)
        with self._lock:
            asked = self._pending.get(key)
            if asked is not None:
                # an answer that takes this long is not coming: judged unverified meanwhile
                return PENDING if time.monotonic() - asked < PENDING_SECONDS else UNVERIFIED
            if len(self._pending) >= MAX_PENDING:
                return UNVERIFIED  # a flood of claims from new addresses: no queue without bound
            self._pending[key] = time.monotonic()
        self._pool.submit(self._resolve_in_background, ip, crawler)
        return PENDING

    def _resolve_in_background(self, ip: str, crawler: SearchCrawler) -> None:
        try:
            self._resolve(ip, crawler)
        finally:
            with self._lock:
                self._pending.pop((ip, crawler.name), None)

    def _resolve(self, ip: str, crawler: SearchCrawler) -> str:
        assert self.resolver is not None
        host = self.resolver.reverse(ip)
        ok = host is not None and host.lower().rstrip(".").endswith(crawler.rdns) and \
            ip in self.resolver.forward(host)
        verdict = VERIFIED if ok else UNVERIFIED
        if len(self._verdicts) > MAX_VERDICTS:
            self._verdicts.clear()  # bounded: a flood of fake crawlers must not grow it without limit
        self._verdicts[(ip, crawler.name)] = verdict
        return verdict
