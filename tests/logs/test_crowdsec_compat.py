"""Peer compatibility: CrowdSec's own hub tests, replayed through ScrapeGuard's DEFAULT detectors.

Each CrowdSec hub test is a folder with an input log and `scenario.assert`, which names the source
IPs CrowdSec's scenario alerts on. For the cases in ScrapeGuard's scope, the log is replayed with the
default policy (offline: crawler claims checked against published ranges, no DNS) and the set of
source IPs ScrapeGuard REFUSES (at least one request throttled, challenged or blocked: a decision in
the decisions file) must equal the set CrowdSec names, and no others. Nothing is tuned per case.

The only policy a case may add is a route map describing the SITE the log comes from (which of its
URLs show a member), never a detector option: the default route map is the demo site's. One case
uses one: http-wordpress_user-enum reads `wordpress-site.toml` (WordPress's author URLs).

Each case also names the detector whose default rules refuse its IPs: every refusal must cite it.
Data: tests/data/crowdsec-hub-tests/ (SOURCE.txt, MIT LICENSE).
"""

from __future__ import annotations

import json
import random
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scrapeguard.decisions import DecisionWriter
from scrapeguard.engine import Engine
from scrapeguard.logs.formats import make_format
from scrapeguard.logs.replay import offline_policy, replay
from scrapeguard.policy import default_policy, load_policy_text

HUB = Path(__file__).parents[1] / "data" / "crowdsec-hub-tests"

#: AWS Application Load Balancer access log entry, as AWS documents its fields, in ScrapeGuard's
#: nginx-style format language (no adapter needed: unknown $names are read and ignored).
ALB_FORMAT = (
    '$scheme $time_iso8601 $elb $remote_addr:$remote_port $target_addr $request_processing_time '
    '$target_processing_time $response_processing_time $status $target_status_code $received_bytes '
    '$body_bytes_sent "$request" "$http_user_agent" $ssl_cipher $ssl_protocol $target_group_arn '
    '"$trace_id" "$domain_name" "$chosen_cert_arn" $matched_rule_priority $request_creation_time '
    '"$actions_executed" "$redirect_url" "$error_reason" "$target_port_list" "$target_status_code_list" '
    '"$classification" "$classification_reason"')
#: Envoy's JSON access log inside containerd's CRI lines (the `json` format skips the CRI prefix).
ENVOY_FIELDS = {"time": "start_time", "ip": "downstream_remote_address", "path": "x-envoy-origin-path",
                "status": "response_code", "user_agent": "user-agent"}


@dataclass(frozen=True)
class Case:
    folder: str
    scenario: str
    #: None: in scope. Otherwise why the case is not ScrapeGuard's business.
    out_of_scope: str | None = None
    log_format: str = "combined"
    json_fields: dict[str, str] | None = None
    #: A route map of the site the log comes from (tests/data/crowdsec-hub-tests/NAME), or None.
    site: str | None = None
    #: The detector whose default rules refuse the IPs (named in every refusal's reasons).
    by: str | None = None


CASES = (
    Case("nginx-bad-user-agent", "http-bad-user-agent", by="bot_agents"),
    Case("aws-alb-http-bad-user-agent", "http-bad-user-agent", log_format=ALB_FORMAT, by="bot_agents"),
    # 41 plain pages (/page-01 … /page-41) in half a second: the flood detector's page rule
    Case("envoy-http-crawl-non_statics", "http-crawl-non_statics", log_format="json",
         json_fields=ENVOY_FIELDS, by="flood"),
    # 66 requests for random six-letter paths in one second, a new Firefox user agent on most
    Case("http-dos-random-uri", "http-dos-random-uri", by="flood"),
    # 12 user agents, each on one request for /, in 20 s from one address (the flood detector's
    # user-agent rule); 127.0.0.1's two requests are rightly not flagged by either
    Case("http-dos-switching-ua", "http-dos-switching-ua", by="flood"),
    # 1.2.3.4 asks for 6 distinct authors in one second, 4 of them missing: probing in a burst.
    # 1.2.3.5, asking for author 1 six times, is rightly not flagged by either.
    Case("http-wordpress_user-enum", "http-wordpress_user-enum", site="wordpress-site.toml",
         by="enumeration"),
    Case("apache-http-probing", "http-probing",
         out_of_scope="vulnerability probing (remote file inclusion URLs, 404s on /src/scripture.php …): "
                      "a WAF's concern; no member data is asked for"),
    Case("http-dos-bypass-cache", "http-dos-bypass-cache",
         out_of_scope="a DoS tool defeating the cache with random query strings: a load/caching concern, "
                      "not scraping"),
)

SOURCE = re.compile(r'Sources\["([^"]+)"\]')
ALERTS = re.compile(r"^len\(results\) == (\d+)$", re.M)


def expected_ips(folder: Path) -> set[str]:
    """The source IPs CrowdSec's scenario.assert names (each alert names its source)."""
    text = (folder / "scenario.assert").read_text()
    ips = set(SOURCE.findall(text))
    alerts = ALERTS.search(text)
    assert alerts is not None and int(alerts.group(1)) == len(ips), "one alert per source IP expected"
    return ips


def refused(case: Case, tmp_path: Path) -> tuple[set[str], list[dict[str, object]]]:
    """Replay the case's log with the default policy (plus the site's route map, if any): the IPs
    refused at least once, and the decisions."""
    folder = HUB / case.folder
    policy = load_policy_text((HUB / case.site).read_text(), case.site) if case.site else default_policy()
    [log] = folder.glob("*.log")
    out = tmp_path / "decisions.jsonl"
    writer = DecisionWriter(out)
    summary = replay([str(log)], make_format(case.log_format, json_fields=case.json_fields),
                     Engine(offline_policy(policy), live=False), writer)
    writer.close()
    assert summary.stats.skipped == 0, summary.text()  # every line of the case was read
    decisions = [json.loads(line) for line in out.read_text().splitlines()]
    return {str(d["keys"]["ip"]) for d in decisions}, decisions


def _param(case: Case) -> object:
    marks = [pytest.mark.skip(reason=f"out of scope: {case.out_of_scope}")] if case.out_of_scope else []
    return pytest.param(case, id=case.folder, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_scrapeguard_refuses_the_ips_crowdsec_names(case: Case, tmp_path: Path) -> None:
    expected = expected_ips(HUB / case.folder)
    ips, decisions = refused(case, tmp_path)
    assert ips == expected
    assert all(d["reasons"] for d in decisions)  # every refusal says why
    assert all(case.by in {r["detector"] for r in d["reasons"]} for d in decisions)


def test_every_case_in_the_data_folder_is_in_the_table() -> None:
    copied = {p.name for p in HUB.iterdir() if (p / "scenario.assert").exists()}
    in_scope = {c.folder for c in CASES if c.out_of_scope is None}
    assert copied == in_scope
    for case in CASES:
        assert (case.out_of_scope is None) == (case.by is not None)
        assert case.out_of_scope is None or case.site is None


def test_the_scenario_assert_parser_reads_crowdsec_expressions(tmp_path: Path) -> None:
    (tmp_path / "scenario.assert").write_text(
        'len(results) == 2\nresults[0].Overflow.Sources["192.0.2.1"].IP == "192.0.2.1"\n'
        'results[1].Overflow.Sources["2001:db8::1"].GetScope() == "Ip"\n'
        'results[1].Overflow.Alert.Events[0].GetMeta("source_ip") == "2001:db8::1"\n')
    assert expected_ips(tmp_path) == {"192.0.2.1", "2001:db8::1"}
    (tmp_path / "scenario.assert").write_text('len(results) == 3\nresults[0].Overflow.Sources["192.0.2.1"]\n')
    with pytest.raises(AssertionError, match="one alert per source IP"):
        expected_ips(tmp_path)


@given(st.sets(st.ip_addresses().map(str), min_size=1, max_size=6), st.randoms(use_true_random=False))
def test_the_assert_parser_finds_every_source_in_any_order(ips: set[str], rnd: random.Random) -> None:
    lines = [f"len(results) == {len(ips)}"]
    for i, ip in enumerate(sorted(ips)):
        lines += [f'results[{i}].Overflow.Sources["{ip}"].IP == "{ip}"',
                  f'results[{i}].Overflow.Alert.Events[0].GetMeta("http_path") == "/a?b=\\"c\\""']
    rnd.shuffle(lines)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "scenario.assert").write_text("\n".join(lines) + "\n")
        assert expected_ips(Path(tmp)) == ips
