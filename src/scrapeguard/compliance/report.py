"""The regulator response report: how this deployment meets each measure regulators expect, with figures.

Each measure comes from the regulators' joint statement on data scraping (2023, follow-up 2024) and is
described from the live Policy, never from what ScrapeGuard could do: a switched-off detector, a missing
action or observe mode is stated as such. Rendered as HTML (Jinja2, overridable) and PDF (fpdf2: pure
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
from scrapeguard.compliance.facts import ReportFigures
from scrapeguard.compliance.rules import packaged_rules
from scrapeguard.compliance.templating import render, when
from scrapeguard.policy import Policy
from scrapeguard.policy.model import Quota

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


def _quota(q: Quota, what: str) -> str:
    """ "150 distinct profiles an hour and 1000 a day"."""
    return f"{q.per_hour} {what} an hour and {q.per_day} a day"


def _action_for(policy: Policy, score: float) -> str:
    if score >= policy.risk.block:
        return "blocked"
    if score >= policy.risk.throttle:
        return "throttled"
    return f"only logged (below the throttle threshold of {policy.risk.throttle:g})"


def _technical(policy: Policy, enabled: bool, partial: bool = False) -> Status:
    if not enabled:
        return "not in place"
    if not policy.enforcing or partial:
        return "partly in place"
    return "in place"


def build_report(policy: Policy, figures: ReportFigures, organisation: str | None = None,
                 generated_at: datetime | None = None) -> RegulatorReport:
    """The report's content, derived from `policy` and `figures`."""
    observe = None if policy.enforcing else (
        "The guard runs in OBSERVE mode: every decision below is taken and logged, but nothing is refused. "
        "The technical measures are therefore not enforced.")
    enforce_note = () if policy.enforcing else ("Observe mode: decided and logged, not enforced.",)
    pq, en, bots = policy.profile_quota, policy.enumeration, policy.bot_agents
    measures: list[Measure] = []

    measures.append(Measure(
        "A designated team or roles own scraping risk.", "organisational",
        ("ScrapeGuard's console has roles (admin, analyst, privacy officer, legal, viewer); every change to "
         "incidents, cases, allowlists and policy is recorded in a hash-chained audit log.",
         "Who holds each role is for the organisation to name.")))

    if pq.enabled:
        how = [f"One account may view at most {_quota(pq.account, 'other members’ profiles')}; "
               f"anonymous visitors at most {_quota(pq.anonymous, 'profiles')} per IP address.",
               f"A request over a quota scores {pq.score:g} and is {_action_for(policy, pq.score)}."]
        if pq.network_enabled:
            how.append("All visitors of one network (IPv4 /24, IPv6 /64) together: "
                       f"{_quota(pq.network, 'profiles')}.")
    else:
        how = ["The profile quota detector is switched off: profile views are not limited."]
    measures.append(Measure("Rate-limit how many other profiles one account views per hour or day; limit "
                            "access when activity is unusual.",
                            _technical(policy, pq.enabled, pq.score < policy.risk.throttle),
                            (*how, *enforce_note)))

    if pq.enabled:
        how = [f"Accounts younger than {pq.new_account_max_age_days:g} days may view at most "
               f"{_quota(pq.new_account, 'other members’ profiles')}."]
    else:
        how = ["Not monitored: the profile quota detector (which holds the new-account quota) is off."]
    if en.enabled:
        how.append(f"Look-ups of members by contact detail: accounts at most "
                   f"{_quota(en.lookups_account, 'look-ups')}.")
    measures.append(Measure("Monitor how quickly and aggressively new accounts look for other users.",
                            _technical(policy, pq.enabled), (*how, *enforce_note)))

    how = []
    if bots.enabled:
        how.append(f"User agents of scraping tools score {bots.tool_score:g}: on their own they are "
                   f"{_action_for(policy, bots.tool_score)}.")
        how.append(f"User agents of other crawlers score {bots.crawler_score:g}: on their own they are "
                   f"{_action_for(policy, bots.crawler_score)}.")
        how.append(f"Clients claiming to be search-engine crawlers from outside the crawlers' published "
                   f"ranges score {bots.fake_crawler_score:g}"
                   + ("; claims are also checked by reverse DNS." if bots.verify_dns else "."))
        how.append("AI-training crawlers are refused." if bots.refuse_ai_training
                   else "AI-training crawlers are not refused.")
    else:
        how.append("Bot user-agent detection is switched off.")
    if en.enabled:
        how.append("Enumeration of members by contact detail (the vector of the largest scraping incidents): "
                   f"anonymous visitors at most {_quota(en.lookups_anonymous, 'look-ups')} per IP address.")
    else:
        how.append("Contact look-up enumeration detection is switched off.")
    measures.append(Measure("Detect bot patterns.", _technical(policy, bots.enabled or en.enabled,
                                                                not (bots.enabled and en.enabled)),
                            (*how, *enforce_note)))

    how = [f"Anonymous profile views are counted per IP address ({_quota(pq.anonymous, 'profiles')})."
           if pq.enabled else "Per-IP profile quotas are off."]
    how.append(f"Per-network quota: {_quota(pq.network, 'profiles')}." if pq.enabled and pq.network_enabled
               else "Whole networks (/24, /64) are not counted together (per-network quota off).")
    measures.append(Measure("Spot suspicious IP activity.",
                            _technical(policy, pq.enabled, not pq.network_enabled), (*how, *enforce_note)))

    measures.append(Measure(
        "CAPTCHAs (not enough on their own: bots solve them).", "not in place",
        ("This deployment's policy has no challenge (CAPTCHA) action: refusals are throttling "
         f"(HTTP {policy.actions.throttle_status}) and blocking (HTTP {policy.actions.block_status}).",)))

    a = policy.actions
    measures.append(Measure(
        "Block IP addresses where scraping is found.", _technical(policy, True),
        (f"A client whose risk reaches {policy.risk.block:g} is blocked for {a.block_seconds / 3600:g} h, "
         f"{a.block_growth:g}× longer for each repeat within {a.offender_memory_seconds / 86400:g} days, "
         f"up to {a.block_max_seconds / 86400:g} days.",
         f"A throttled client that keeps going ({a.escalate_after} refusals within "
         f"{a.strike_window_seconds / 60:g} minutes) is blocked.",
         f"Refusal pages give a decision id and where to appeal: {a.appeal_contact}.", *enforce_note)))

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
         "against a changed policy before it goes live.",)))

    allow = policy.allowlist
    measures.append(Measure(
        "Contracts that permit scraping do not make it lawful by themselves (2024).", "organisational",
        (f"Allowlisted and never counted: {len(allow.cidrs)} network(s) and {len(allow.accounts)} "
         "account(s). Each needs its own lawful basis: review them.",)))

    showing = [r for r in policy.routes if r.categories]
    measures.append(Measure(
        "Minimise what is publicly accessible (2024); tell users what is done and help them manage their "
        "privacy settings.", "organisational",
        (f"The route map declares {len(showing)} route(s) that show members' personal data:",
         *(f"{r.pattern} ({r.kind}): {', '.join(r.categories)}" for r in showing),
         "What is visible, and the privacy settings members get, are decided by the site, not by "
         "ScrapeGuard.")))

    refusals = sum(figures.refusals_by_action.values())
    by_action = (FigureRow(k, str(v)) for k, v in sorted(figures.refusals_by_action.items()))
    figure_sections = (
        ("Refusals by action", (*by_action, FigureRow("total", str(refusals)))),
        ("Incidents", (FigureRow("total", str(figures.incidents_total)),
                       *(FigureRow(k, str(v)) for k, v in sorted(figures.incidents_by_state.items())),
                       FigureRow("median time to containment",
                                 "no contained incident" if figures.median_hours_to_containment is None
                                 else f"{figures.median_hours_to_containment:.1f} h"))),
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
