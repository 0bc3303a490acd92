"""User-agent classification and the shipped published ranges."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scrapeguard.intel.crawlers import (
    AI_OTHER,
    AI_TRAINING,
    BROWSER,
    CRAWLER,
    EMPTY,
    SEARCH,
    TOOL,
    classify,
    published_ranges,
    scanner_name,
)
from scrapeguard.intel.networks import NetworkSet


@pytest.mark.parametrize("ua,kind,name", [
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", SEARCH, "Googlebot"),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", SEARCH, "Bingbot"),
    ("DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)", SEARCH, "DuckDuckBot"),
    ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
     AI_TRAINING, "GPTBot"),
    ("Mozilla/5.0 (compatible; ClaudeBot/1.0; +claudebot@anthropic.com)", AI_TRAINING, "ClaudeBot"),
    ("CCBot/2.0 (https://commoncrawl.org/faq/)", AI_TRAINING, "CCBot"),
    ("Mozilla/5.0 (compatible; PerplexityBot/1.0; +https://perplexity.ai/perplexitybot)", AI_OTHER,
     "PerplexityBot"),
    ("python-requests/2.32.3", TOOL, "python-requests"),
    ("curl/8.5.0", TOOL, "curl"),
    ("Scrapy/2.11.0 (+https://scrapy.org)", TOOL, "Scrapy"),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 "
     "Safari/537.36", TOOL, "HeadlessChrome"),
    ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", CRAWLER, None),
    ("", EMPTY, ""),
    ("-", EMPTY, ""),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", BROWSER, ""),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/18.1 Mobile/15E148 Safari/604.1", BROWSER, ""),
])
def test_classify(ua: str, kind: str, name: str | None) -> None:
    agent = classify(ua)
    assert agent.kind == kind
    if name is not None:
        assert agent.name == name


@pytest.mark.parametrize("ua,name", [
    ("Mozilla/5.00 (Nikto/2.1.5) (Evasions:None) (Test:Port Check)", "Nikto"),
    ("sqlmap/1.1.8.2#dev (http://sqlmap.org)", "sqlmap"),
    ("WPScan v3.8.25 (https://wpscan.com/wordpress-security-scanner)", "WPScan"),
    ("Nuclei - Open-source project (github.com/projectdiscovery/nuclei)", "Nuclei"),
    ("curl/8.5.0", None),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", None),
    ("", None),
])
def test_scanner_name(ua: str, name: str | None) -> None:
    assert scanner_name(ua) == name
    if name is not None:
        assert classify(ua).kind == TOOL  # still a tool for the survey and the member-data signal


def test_operators_are_plain_names() -> None:
    assert classify("GPTBot/1.2").operator == "OpenAI"


def test_shipped_ranges() -> None:
    google = published_ranges("googlebot")
    assert "66.249.66.1" in google and "2001:4860:4801:10::1" in google
    assert "203.0.113.1" not in google and "not an ip" not in google
    assert "157.55.39.1" in published_ranges("bing")


def test_network_set_merges_and_bisects() -> None:
    nets = NetworkSet(["10.0.0.0/24", "10.0.1.0/24", "# comment", "", "2001:db8::/32", "192.0.2.7"])
    assert len(nets) == 3  # the two /24s merge
    assert "10.0.1.255" in nets and "10.0.2.0" not in nets
    assert "2001:db8:ffff::1" in nets and "192.0.2.7" in nets and "192.0.2.8" not in nets


@given(st.text(max_size=300))
def test_any_user_agent_is_classified(ua: str) -> None:
    assert classify(ua).kind in (SEARCH, AI_TRAINING, AI_OTHER, TOOL, CRAWLER, EMPTY, BROWSER)
