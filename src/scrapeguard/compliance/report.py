"""The regulator response report: how this deployment meets each measure regulators expect, with figures.

Each measure comes from the regulators' joint statement on data scraping (2023, follow-up 2024) and is
described from the live Policy, never from what ScrapeGuard could do: a switched-off detector, a missing
action or observe mode is stated as such. What each control does is said by the control itself
(`Detector.describe`, `scrapeguard.controls`): this module only arranges it under the measures.
Rendered as HTML (Jinja2, overridable) and PDF (fpdf2: pure
Python, no system libraries, typed, actively maintained; the PDF is built from the same report model, so
the two cannot say different things).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from scrapeguard.compliance.assessment import DRAFT_NOTE
from scrapeguard.compliance.categories import packaged_taxonomy
from scrapeguard.compliance.facts import ReportFigures
from scrapeguard.compliance.rules import packaged_rules
from scrapeguard.compliance.templating import render, when
from scrapeguard.controls import describe_controls
from scrapeguard.detectors.description import ControlDescription, Expectation
from scrapeguard.policy import Policy, default_policy
from scrapeguard.policy.model import AUDIENCE_WORDS, AUDIENCES, RouteRule

Status = Literal["in place", "partly in place", "not in place", "organisational"]


@dataclass(frozen=True, slots=True)
class Measure:
    expectation: str  # as the joint statement puts it
    status: Status
    how: tuple[str, ...]  # how this deployment implements it, from the live policy


@dataclass(frozen=True, slots=True)
class FigureRow:
    label: str
    value: str


@dataclass(frozen=True, slots=True)
class RegulatorReport:
    title: str
    organisation: str | None
    generated_at: datetime
    period: str
    mode_note: str | None  # set when the guard is not enforcing
    measures: tuple[Measure, ...]
    figures: tuple[tuple[str, tuple[FigureRow, ...]], ...]  # (section, rows)
    policy_source: str
    note: str = DRAFT_NOTE


#: The technical measures of the joint statement, each with the expectation its controls serve
#: (`ControlDescription.serves`): what each control does is the control's own description.
TECHNICAL: tuple[tuple[Expectation, str], ...] = (
    ("profile_limits", "Rate-limit how many other profiles one account views per hour or day; limit access "
                       "when activity is unusual."),
    ("new_accounts", "Monitor how quickly and aggressively new accounts look for other users."),
    ("bot_patterns", "Detect bot patterns."),
    ("suspicious_ips", "Spot suspicious IP activity."),
    ("challenges", "CAPTCHAs (not enough on their own: bots solve them)."),
    ("blocking", "Block IP addresses where scraping is found."),
)


def _status(policy: Policy, expectation: Expectation, serving: list[ControlDescription],
            by_default: dict[str, bool]) -> Status:
    """Not in place when no control of the measure is on; partly when the guard only observes, when a
    control the default policy has on is off, a part of one that the measure needs is off, or what one
    finds is only logged."""
    on = [d for d in serving if d.enabled]
    if not on:
        return "not in place"
    if not policy.enforcing or any(expectation in d.weakens or not d.refuses for d in on) \
            or any(by_default.get(d.name) and not d.enabled for d in serving):
        return "partly in place"
    return "in place"


def hours_text(hours: float | None) -> str:
    """A duration for people: "under a minute", "25 min", "2.2 h", "3.5 days"; None: no contained incident."""
    if hours is None:
        return "no contained incident"
    minutes = hours * 60
    if minutes < 1:
        return "under a minute"
    if minutes < 60:
        return f"{minutes:.0f} min"
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} days"


def _audience_line(rule: RouteRule) -> str:
    """"/u/{username} (profile): anonymous visitors: name, ...; members: name, email address, ..."."""
    label = packaged_taxonomy().label
    if rule.audiences is None:
        return f"{rule.pattern} ({rule.kind}): {', '.join(label(c) for c in rule.categories)}"
    parts = [f"{AUDIENCE_WORDS[a]}: {', '.join(label(c) for c in rule.categories_for(a)) or 'nothing'}"
             for a in AUDIENCES]
    return f"{rule.pattern} ({rule.kind}): " + "; ".join(parts)


def build_report(policy: Policy, figures: ReportFigures, organisation: str | None = None,
                 generated_at: datetime | None = None) -> RegulatorReport:
    """The report's content: every statement about a control is that control's own description
    (`scrapeguard.controls`) under `policy`; the figures are `figures`."""
    observe = None if policy.enforcing else (
        "The guard runs in OBSERVE mode: every decision below is taken and logged, but nothing is refused. "
        "The technical measures are therefore not enforced.")
    enforce_note = () if policy.enforcing else ("Observe mode: decided and logged, not enforced.",)
    controls = describe_controls(policy)
    by_default = {d.name: d.enabled for d in describe_controls(default_policy())}
    measures: list[Measure] = []

    measures.append(Measure(
        "A designated team or roles own scraping risk.", "organisational",
        ("The team works in ScrapeGuard's web console (`scrapeguard console`) and its command line "
         "(`scrapeguard incidents`, `notices`, `cases`, `report`). Every user signs in and has a role "
         "(admin, analyst, privacy officer, legal, viewer, and support for people's appeals) that decides "
         "what they may do, checked by the server on every page and every command; notices, letters and "
         "policy changes need a second person's approval; changes to incidents, notices, cases, users, "
         "the policy and actions on actors are recorded in a hash-chained audit log.",
         "Who holds each role is for the organisation to name.")))

    for expectation, words in TECHNICAL:
        serving = [d for d in controls if expectation in d.serves]
        how = [line for d in serving for line in d.sentences()]
        status = _status(policy, expectation, serving, by_default)
        measures.append(Measure(words, status, (*how, *enforce_note)))

    cases = sum(figures.cases_by_status.values())
    measures.append(Measure(
        "Legal action: cease-and-desist letters, deletion of scraped data, confirmation of deletion, "
        "enforcement of terms that prohibit scraping.", "organisational",
        ("ScrapeGuard drafts cease-and-desist letters and deletion demands from the incident's evidence and "
         "tracks each case until deletion is confirmed in writing.",
         f"Cases in the period: {cases}"
         + (" (" + ", ".join(f"{k}: {v}" for k, v in sorted(figures.cases_by_status.items())) + ")."
            if cases else "."))))

    regimes = packaged_rules().regimes
    measures.append(Measure(
        "Notify affected individuals and regulators where breach law requires.", "organisational",
        ("Incidents open when an actor's exposure crosses the policy threshold; each is assessed (ENISA "
         f"severity) against rule data for {len(regimes)} regimes, with deadlines and draft notices for "
         "counsel.",
         f"Incidents in the period: {figures.incidents_total}.")))

    measures.append(Measure(
        "Collect metrics on scraping incidents; review controls regularly.", "in place",
        ("This report's figures; every decision is logged with its reasons; past logs can be replayed "
         "against a changed policy before it goes live.",
         f"Drill (scraping strategies run against the policy, `scrapeguard drill`): {figures.latest_drill}."
         if figures.latest_drill else "No drill recorded (`scrapeguard drill --db`).")))

    allow = policy.allowlist
    measures.append(Measure(
        "Contracts that permit scraping do not make it lawful by themselves (2024).", "organisational",
        (f"Allowlisted and never counted: {len(allow.cidrs)} network(s) and {len(allow.accounts)} "
         "account(s). Each needs its own lawful basis: review them.",)))

    showing = [r for r in policy.routes if r.categories]
    measures.append(Measure(
        "Minimise what is publicly accessible (2024); tell users what is done and help them manage their "
        "privacy settings.", "organisational",
        (f"The route map declares {len(showing)} route(s) that show members' personal data, to whom:",
         *(_audience_line(r) for r in showing),
         "What is visible, and the privacy settings members get, are decided by the site, not by "
         "ScrapeGuard.")))

    refusals = sum(figures.refusals_by_action.values())
    by_action = (FigureRow(k, str(v)) for k, v in sorted(figures.refusals_by_action.items()))
    figure_sections = (
        ("Refusals by action", (*by_action, FigureRow("total", str(refusals)))),
        ("Incidents", (FigureRow("total", str(figures.incidents_total)),
                       *(FigureRow(k, str(v)) for k, v in sorted(figures.incidents_by_state.items())),
                       FigureRow("median time to containment",
                                 hours_text(figures.median_hours_to_containment)))),
        ("Legal cases", (FigureRow("total", str(cases)),
                         *(FigureRow(k, str(v)) for k, v in sorted(figures.cases_by_status.items())))),
    )
    return RegulatorReport(
        "Response to the regulators' joint statement on data scraping", organisation,
        generated_at or datetime.now(UTC),
        f"{when(figures.period_start)} to {when(figures.period_end)}", observe, tuple(measures),
        figure_sections, policy.source)


def render_regulator_report(policy: Policy, figures: ReportFigures, *, organisation: str | None = None,
                            generated_at: datetime | None = None, template_dir: Path | None = None) -> str:
    """The report as a standalone HTML page (template `regulator_report.html.j2`)."""
    report = build_report(policy, figures, organisation, generated_at)
    return render(["regulator_report.html.j2"], {"report": report}, template_dir)


_LATIN1 = str.maketrans({"—": "-", "–": "-", "×": "x", "≥": ">=", "≤": "<=", "→": "->", "’": "'", "‘": "'",
                         "“": '"', "”": '"', "…": "...", "•": "-"})


def _pdf_text(text: str) -> str:
    """The PDF's built-in fonts are Latin-1: map common typography, replace anything else with '?'."""
    return text.translate(_LATIN1).encode("latin-1", "replace").decode("latin-1")


def report_pdf(policy: Policy, figures: ReportFigures, *, organisation: str | None = None,
               generated_at: datetime | None = None, unicode_font: Path | None = None) -> bytes:
    """The same report as a PDF.

    The built-in PDF fonts cover Latin-1 only: other characters print as "?" unless `unicode_font` names a
    TrueType font file that has them (e.g. DejaVuSans.ttf), which is then embedded (subset) for all text.
    """
    report = build_report(policy, figures, organisation, generated_at)
    pdf = FPDF(format="A4")
    family = "Helvetica"
    if unicode_font is not None:
        try:
            pdf.add_font("report", "", str(unicode_font))
        except Exception as exc:  # fontTools raises its own error types for files that are not fonts
            raise ValueError(f"cannot use font {unicode_font}: {exc}") from exc
        family = "report"

    def clean(text: str) -> str:
        return text if unicode_font is not None else _pdf_text(text)

    pdf.set_title(report.title)
    pdf.set_creation_date(report.generated_at)
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()

    def para(text: str, size: float = 10, style: str = "", gap: float = 1.5) -> None:
        pdf.set_font(family, style if unicode_font is None else "", size)
        pdf.multi_cell(0, size * 0.5, clean(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(gap)

    para("DRAFT for counsel", 12, "B", 0)
    para(report.note, 9)
    para(report.title, 16, "B")
    if report.organisation:
        para(report.organisation, 12, "B")
    para(f"Period: {report.period}. Generated {when(report.generated_at)}. "
         f"Policy: {report.policy_source}.", 9)
    if report.mode_note:
        para(report.mode_note, 10, "B")
    para("Measures expected and how this deployment implements them", 13, "B")
    for measure in report.measures:
        para(f"{measure.expectation} [{measure.status.upper()}]", 10, "B", 0.5)
        for line in measure.how:
            para(f"- {line}", 9, "", 0.5)
        pdf.ln(1.5)
    para("Figures", 13, "B")
    for section, rows in report.figures:
        para(section, 11, "B", 0.5)
        for row in rows:
            para(f"{row.label}: {row.value}", 9, "", 0.5)
        pdf.ln(1.5)
    para("DRAFT for counsel. Not legal advice.", 9, "I")
    return bytes(pdf.output())
