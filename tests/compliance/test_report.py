"""The regulator response report follows the live policy, says what is missing, renders as HTML and PDF."""

import io
from datetime import UTC, datetime
from pathlib import Path

import pypdf
import pytest

from scrapeguard.compliance import ReportFigures, render_regulator_report, report_pdf
from scrapeguard.compliance.report import TECHNICAL, Measure, RegulatorReport, build_report
from scrapeguard.controls import describe_controls
from scrapeguard.detectors import ALL
from scrapeguard.policy import default_policy, load_policy_text

FIGURES = ReportFigures(
    period_start=datetime(2026, 3, 1, tzinfo=UTC), period_end=datetime(2026, 4, 1, tzinfo=UTC),
    refusals_by_action={"throttle": 1204, "block": 37}, incidents_total=3,
    incidents_by_state={"closed": 2, "notified": 1}, median_hours_to_containment=2.25,
    cases_by_status={"awaiting_reply": 1, "deletion_confirmed": 1},
)
GENERATED = datetime(2026, 4, 2, 8, 0, tzinfo=UTC)


def _measure(policy_text: str, starts: str) -> Measure:
    report = build_report(load_policy_text(policy_text), FIGURES, generated_at=GENERATED)
    return next(m for m in report.measures if m.expectation.startswith(starts))


def _status(report: RegulatorReport, starts: str) -> str:
    return next(m.status for m in report.measures if m.expectation.startswith(starts))


def _all_text(report: RegulatorReport) -> str:
    return "\n".join(line for m in report.measures for line in m.how)


def test_default_policy_measures() -> None:
    report = build_report(default_policy(), FIGURES, generated_at=GENERATED)
    assert _status(report, "Rate-limit") == "in place"
    assert _status(report, "CAPTCHAs") == "in place"  # proof-of-work challenges are on by default
    assert _status(report, "Spot suspicious IP activity") == "partly in place"  # per-network quota off
    assert report.mode_note is None
    text = _all_text(report)
    assert "proof-of-work" in text and "no challenge" not in text
    assert "web console (`scrapeguard console`)" in text and "command line" in text
    assert "checked by the server on every page and every command" in text and "no web console" not in text


def test_quota_changes_show_in_the_report() -> None:
    measure = _measure("[detectors.profile_quota.account]\nper_hour = 42\nper_day = 420\n", "Rate-limit")
    assert "An account: at most 42 profiles an hour, 420 a day and 3000 a week." in measure.how


def test_switched_off_detector_is_not_in_place() -> None:
    measure = _measure("[detectors.profile_quota]\nenabled = false\n", "Rate-limit")
    assert measure.status == "not in place"
    assert any("Profile quotas: switched off" in line for line in measure.how)
    assert not any("at most" in line for line in measure.how)
    bots = _measure("[detectors.bot_agents]\nenabled = false\n", "Detect bot patterns")
    assert bots.status == "partly in place" and any("Bot user agents: switched off" in x for x in bots.how)


@pytest.mark.parametrize("challenges", [True, False])
def test_captchas_follow_the_challenge_action(challenges: bool) -> None:
    policy = load_policy_text(f"[challenge]\nenabled = {str(challenges).lower()}\n")
    report = build_report(policy, FIGURES, generated_at=GENERATED)
    captchas = next(m for m in report.measures if m.expectation.startswith("CAPTCHAs"))
    if challenges:
        assert captchas.status == "in place"
        assert any("proof-of-work" in line for line in captchas.how)
    else:
        assert captchas.status == "not in place"
        assert any("Challenges (CAPTCHA): switched off" in line for line in captchas.how)
        # and no bot evidence is said to be challenged when nothing challenges
        assert "challenged" not in _all_text(report)


def test_observe_mode_is_stated() -> None:
    report = build_report(load_policy_text('mode = "observe"\n'), FIGURES, generated_at=GENERATED)
    assert report.mode_note is not None and "OBSERVE" in report.mode_note
    technical = [m for m in report.measures if m.expectation in dict(TECHNICAL).values()]
    assert technical and all(m.status == "partly in place" for m in technical)
    assert all("Observe mode: decided and logged, not enforced." in m.how for m in technical)


def test_a_quota_score_below_the_throttle_threshold_is_only_logged() -> None:
    measure = _measure("[detectors.profile_quota]\nscore = 0.3\n", "Rate-limit")
    assert measure.status == "partly in place"
    assert "A view over a quota is only logged on its own (risk 0.3 is below the throttle threshold 0.5); " \
           "it adds to other evidence." in measure.how


def _off(name: str) -> str:
    return f"[detectors.{name}]\nenabled = false\n"


@pytest.mark.parametrize("detector", [cls.name for cls in ALL])
def test_each_detector_switched_off_is_reported_so(detector: str) -> None:
    policy = load_policy_text(_off(detector))
    report = build_report(policy, FIGURES, generated_at=GENERATED)
    described = next(d for d in describe_controls(policy) if d.name == detector)
    assert not described.enabled
    for expectation in described.serves:
        words = dict(TECHNICAL)[expectation]
        measure = next(m for m in report.measures if m.expectation == words)
        assert f"{described.title}: switched off. ({described.limits})" in measure.how
        assert measure.status != "in place" or not next(
            d for d in describe_controls(default_policy()) if d.name == detector).enabled


@pytest.mark.parametrize("policy_text", ["", 'mode = "observe"\n', "[challenge]\nenabled = false\n",
                                         "[detectors.login_wall]\nenabled = true\n",
                                         "[detectors.anonymous_challenge]\nenabled = true\n",
                                         "[detectors.profile_quota.network]\nenabled = true\n"])
def test_the_report_says_what_each_control_says_of_itself(policy_text: str) -> None:
    """One source: every sentence of every control's own description is in the report, under each
    measure it serves, and nothing about controls is said beside them."""
    policy = load_policy_text(policy_text)
    report = build_report(policy, FIGURES, generated_at=GENERATED)
    controls = describe_controls(policy)
    for expectation, words in TECHNICAL:
        measure = next(m for m in report.measures if m.expectation == words)
        expected = [line for d in controls if expectation in d.serves for line in d.sentences()]
        observe = [] if policy.enforcing else ["Observe mode: decided and logged, not enforced."]
        assert list(measure.how) == expected + observe


@pytest.mark.parametrize(("hours", "shown"), [(None, "no contained incident"), (0.004, "under a minute"),
                                              (0.4, "24 min"), (2.25, "2.2 h"), (100.0, "4.2 days")])
def test_median_time_to_containment_in_a_readable_unit(hours: float | None, shown: str) -> None:
    figures = ReportFigures(FIGURES.period_start, FIGURES.period_end, median_hours_to_containment=hours)
    report = build_report(default_policy(), figures, generated_at=GENERATED)
    rows = dict((r.label, r.value) for _, section in report.figures for r in section)
    assert rows["median time to containment"] == shown


def test_allowlists_are_counted_for_review() -> None:
    measure = _measure('[allowlist]\ncidrs = ["192.0.2.0/24"]\naccounts = ["partner"]\n', "Contracts")
    assert "1 network(s) and 1 account(s)" in measure.how[0]


def test_html_report() -> None:
    html = render_regulator_report(default_policy(), FIGURES, organisation="Example <Community> & Co",
                                   generated_at=GENERATED)
    assert html.startswith("<!doctype html>")
    assert "DRAFT for counsel" in html
    assert "Example &lt;Community&gt; &amp; Co" in html  # escaped
    assert "<th>throttle</th><td>1204</td>" in html and "<th>total</th><td>1241</td>" in html
    assert "<th>median time to containment</th><td>2.2 h</td>" in html
    assert "<th>deletion_confirmed</th><td>1</td>" in html
    assert "status-not-in-place" in html
    assert "2026-03-01 00:00 UTC to 2026-04-01 00:00 UTC" in html


def _pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def test_pdf_report_is_valid_and_says_the_same() -> None:
    data = report_pdf(load_policy_text('mode = "observe"\n'), FIGURES, organisation="Exämple Cömmunity Ltd",
                      generated_at=GENERATED)
    assert data.startswith(b"%PDF-")
    text = _pdf_text(data)
    assert "DRAFT for counsel" in text
    assert "Exämple Cömmunity Ltd" in text
    assert "OBSERVE mode" in text
    assert "[PARTLY IN PLACE]" in text
    assert "throttle: 1204" in text and "median time to containment: 2.2 h" in text


@pytest.mark.parametrize("organisation", ["Ω 株式会社 — “quoted”", None])
def test_pdf_survives_text_outside_latin1(organisation: str | None) -> None:
    text = _pdf_text(report_pdf(default_policy(), FIGURES, organisation=organisation, generated_at=GENERATED))
    assert "Response to the regulators' joint statement" in text


def test_no_contained_incident() -> None:
    figures = ReportFigures(FIGURES.period_start, FIGURES.period_end)
    html = render_regulator_report(default_policy(), figures, generated_at=GENERATED)
    assert "no contained incident" in html and "Cases in the period: 0." in html


DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


@pytest.mark.skipif(not DEJAVU.exists(), reason="needs the DejaVu Sans font (Debian fonts-dejavu-core)")
def test_pdf_with_a_unicode_font_keeps_every_character() -> None:
    text = _pdf_text(report_pdf(default_policy(), FIGURES, organisation="Ωmega — “Społeczność”",
                                generated_at=GENERATED, unicode_font=DEJAVU))
    assert "Ωmega — “Społeczność”" in text


def test_pdf_font_that_cannot_be_read(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ttf"
    bad.write_bytes(b"not a font")
    with pytest.raises(ValueError, match="cannot use font"):
        report_pdf(default_policy(), FIGURES, unicode_font=bad)


def test_report_template_can_be_replaced(tmp_path: Path) -> None:
    (tmp_path / "regulator_report.html.j2").write_text(
        "{% for m in report.measures %}{{ m.status }};{% endfor %}")
    html = render_regulator_report(load_policy_text('mode = "observe"\n'), FIGURES, generated_at=GENERATED,
                                   template_dir=tmp_path)
    assert html.split(";")[:2] == ["organisational", "partly in place"]


def test_what_each_audience_sees_is_listed_per_route() -> None:
    report = build_report(default_policy(), FIGURES, generated_at=GENERATED)
    minimise = next(m for m in report.measures if m.expectation.startswith("Minimise"))
    (api,) = [line for line in minimise.how if line.startswith("/api/v1/members/{id} (profile)")]
    anonymous, members = api.split("; members: ")
    assert anonymous.startswith("/api/v1/members/{id} (profile): anonymous visitors: member id, name")
    assert "email address" not in anonymous and "phone number" not in anonymous
    assert "email address" in members and "phone number" in members
    assert "user." not in api  # categories in words
