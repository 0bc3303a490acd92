"""The regulator response report follows the live policy, says what is missing, renders as HTML and PDF."""

import io
from datetime import UTC, datetime
from pathlib import Path

import pypdf
import pytest

from scrapeguard.compliance import ReportFigures, render_regulator_report, report_pdf
from scrapeguard.compliance.report import Measure, build_report
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


def test_default_policy_measures() -> None:
    report = build_report(default_policy(), FIGURES, generated_at=GENERATED)
    status = {m.expectation.split(";")[0].split(".")[0]: m.status for m in report.measures}
    assert status["Rate-limit how many other profiles one account views per hour or day"] == "in place"
    assert status["CAPTCHAs (not enough on their own: bots solve them)"] == "not in place"
    assert status["Spot suspicious IP activity"] == "partly in place"  # the per-network quota is off
    assert report.mode_note is None


def test_quota_changes_show_in_the_report() -> None:
    measure = _measure("[detectors.profile_quota.account]\nper_hour = 42\nper_day = 420\n", "Rate-limit")
    assert "at most 42 other members’ profiles an hour and 420 a day" in measure.how[0]


def test_switched_off_detector_is_not_in_place() -> None:
    measure = _measure("[detectors.profile_quota]\nenabled = false\n", "Rate-limit")
    assert measure.status == "not in place"
    assert "switched off" in measure.how[0]
    bots = _measure("[detectors.bot_agents]\nenabled = false\n", "Detect bot patterns")
    assert bots.status == "partly in place" and "Bot user-agent detection is switched off." in bots.how


def test_observe_mode_is_stated() -> None:
    report = build_report(load_policy_text('mode = "observe"\n'), FIGURES, generated_at=GENERATED)
    assert report.mode_note is not None and "OBSERVE" in report.mode_note
    limits = next(m for m in report.measures if m.expectation.startswith("Rate-limit"))
    assert limits.status == "partly in place"
    assert "Observe mode: decided and logged, not enforced." in limits.how


def test_a_quota_score_below_the_throttle_threshold_is_only_logged() -> None:
    measure = _measure("[detectors.profile_quota]\nscore = 0.3\n", "Rate-limit")
    assert measure.status == "partly in place"
    assert "only logged (below the throttle threshold of 0.5)" in measure.how[1]


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
    assert "[NOT IN PLACE]" in text
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
