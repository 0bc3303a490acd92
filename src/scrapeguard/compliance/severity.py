"""ENISA 2013 severity of a personal data breach: SE = DPC × EI + CB, with the scraping adjustments shown.

DPC (data processing context) starts from the most serious data type exposed (simple 1, behavioural 2,
financial 3, sensitive 4). Scraping is "data that was public, aggregated", so two adjustments apply and
are recorded with their reasons: public availability before the breach lowers DPC by one, aggregation
into profiles or a dataset (which enables profiling) raises it by one; DPC stays within 1-4.
EI (ease of identification) is the highest EI of the exposed categories, one step higher when two or
more identifying categories (EI >= 0.5) are exposed together. CB (circumstances): loss of
confidentiality to unknown recipients 0.5, integrity 0, availability 0 (a scraper reads, it neither
alters nor removes), malicious intent 0.5 when established.
Bands: low < 2 <= medium < 3 <= high < 4 <= very high.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from scrapeguard.compliance.categories import EI_VALUES, Taxonomy, packaged_taxonomy
from scrapeguard.compliance.rules import SEVERITY_LEVELS, SeverityLevel

Factor = Literal["dpc", "ei", "cb"]
PUBLIC_DPC_CHANGE = -1.0
AGGREGATED_DPC_CHANGE = 1.0
CONFIDENTIALITY_CB = 0.5
MALICIOUS_CB = 0.5


@dataclass(frozen=True, slots=True)
class Adjustment:
    """One recorded step of the rating: which factor, by how much, and why."""

    factor: Factor
    change: float
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"factor": self.factor, "change": self.change, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Adjustment:
        return cls(data["factor"], float(data["change"]), data["reason"])


@dataclass(frozen=True, slots=True)
class Severity:
    dpc_base: int
    dpc: float
    ei: float
    cb: float
    score: float
    level: SeverityLevel
    adjustments: tuple[Adjustment, ...]
    unrated_categories: tuple[str, ...]  # keys the taxonomy does not know: rate them by hand

    def to_dict(self) -> dict[str, Any]:
        return {"dpc_base": self.dpc_base, "dpc": self.dpc, "ei": self.ei, "cb": self.cb, "score": self.score,
                "level": self.level, "adjustments": [a.to_dict() for a in self.adjustments],
                "unrated_categories": list(self.unrated_categories)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Severity:
        return cls(int(data["dpc_base"]), float(data["dpc"]), float(data["ei"]), float(data["cb"]),
                   float(data["score"]), data["level"],
                   tuple(Adjustment.from_dict(a) for a in data["adjustments"]),
                   tuple(data["unrated_categories"]))


def level_of(score: float) -> SeverityLevel:
    if score < 2:
        return "low"
    if score < 3:
        return "medium"
    if score < 4:
        return "high"
    return "very high"


def level_at_least(level: SeverityLevel, threshold: SeverityLevel) -> bool:
    return SEVERITY_LEVELS.index(level) >= SEVERITY_LEVELS.index(threshold)


def rate_severity(categories: Iterable[str], *, data_was_public: bool | None, aggregated: bool,
                  malicious: bool | None, taxonomy: Taxonomy | None = None) -> Severity:
    """Rate the exposure of `categories` (fideslang keys) by the ENISA 2013 method.

    `data_was_public` None (not stated by the assessor) gets no reduction, and the rating says so."""
    tax = taxonomy or packaged_taxonomy()
    keys = sorted(set(categories))
    rated = {key: cat for key in keys if (cat := tax.lookup(key)) is not None}
    unrated = tuple(key for key in keys if key not in rated)
    steps: list[Adjustment] = []

    if rated:
        worst_key = max(rated, key=lambda k: (rated[k].dpc_base, k))
        base = rated[worst_key].dpc_base
    else:
        worst_key, base = "", 1
    dpc = float(base)
    if data_was_public:
        dpc += PUBLIC_DPC_CHANGE
        steps.append(Adjustment("dpc", PUBLIC_DPC_CHANGE,
                                "the data was visible to the public or to members before it was scraped "
                                "(ENISA: public availability before the breach lowers DPC)"))
    elif data_was_public is None:
        steps.append(Adjustment("dpc", 0.0, "whether the data was public before it was scraped has not been "
                                            "stated: no reduction for public availability"))
    if aggregated:
        dpc += AGGREGATED_DPC_CHANGE
        steps.append(Adjustment("dpc", AGGREGATED_DPC_CHANGE,
                                "the scraped data was compiled into profiles or a dataset, which enables "
                                "profiling of the members (ENISA: volume and profiling raise DPC)"))
    dpc = min(4.0, max(1.0, dpc))

    ei = max((cat.ei for cat in rated.values()), default=EI_VALUES[0])
    identifying = sorted({cat.key for cat in rated.values() if cat.ei >= 0.5})
    if len(identifying) >= 2 and ei < 1.0:
        raised = EI_VALUES[EI_VALUES.index(ei) + 1]
        steps.append(Adjustment("ei", raised - ei, "identifying data exposed together ("
                                + ", ".join(identifying) + ") makes identification easier"))
        ei = raised

    cb = CONFIDENTIALITY_CB
    steps.append(Adjustment("cb", CONFIDENTIALITY_CB,
                            "loss of confidentiality: the data went to unknown recipients (the scraper)"))
    steps.append(Adjustment("cb", 0.0, "no loss of integrity or availability: scraping copies data, "
                                       "it does not alter or remove it"))
    if malicious:
        cb += MALICIOUS_CB
        steps.append(Adjustment("cb", MALICIOUS_CB, "malicious intent established"))
    score = round(dpc * ei + cb, 4)
    if worst_key:
        worst = f"{worst_key} ({rated[worst_key].data_type})"
        steps.insert(0, Adjustment("dpc", float(base), f"base from the most serious data exposed: {worst}"))
    else:
        steps.insert(0, Adjustment("dpc", 1.0, "no rated category exposed: base of simple data, to be "
                                               "reviewed by hand"))
    return Severity(base, dpc, ei, cb, score, level_of(score), tuple(steps), unrated)
