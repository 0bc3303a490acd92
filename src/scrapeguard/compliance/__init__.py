"""Breach assessment, notices, legal letters and the regulator report: pure logic, no database.

The records package hands over plain facts (`facts.py`) and gets back frozen, JSON-safe results.
Every generated document is a draft for counsel.
"""

from scrapeguard.compliance.assessment import (
    DRAFT_NOTE,
    Assessment,
    Deadline,
    NoticeVerdict,
    RegimeResult,
    assess,
    group_by_regime,
)
from scrapeguard.compliance.facts import AffectedMember, CaseFacts, Draft, IncidentFacts, ReportFigures
from scrapeguard.compliance.letters import render_letter
from scrapeguard.compliance.notices import draft_notice
from scrapeguard.compliance.report import render_regulator_report, report_pdf
from scrapeguard.compliance.rules import Regime, Rule, RulesError, RuleSet, load_rules, packaged_rules
from scrapeguard.compliance.severity import Adjustment, Severity, rate_severity

__all__ = [
    "DRAFT_NOTE",
    "Adjustment",
    "AffectedMember",
    "Assessment",
    "CaseFacts",
    "Deadline",
    "Draft",
    "IncidentFacts",
    "NoticeVerdict",
    "Regime",
    "RegimeResult",
    "ReportFigures",
    "Rule",
    "RuleSet",
    "RulesError",
    "Severity",
    "assess",
    "draft_notice",
    "group_by_regime",
    "load_rules",
    "packaged_rules",
    "rate_severity",
    "render_letter",
    "render_regulator_report",
    "report_pdf",
]
