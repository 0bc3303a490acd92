"""risk: one client, one risk; bot evidence apart from behaviour; the penalty on the key that deserves it."""

from __future__ import annotations

import pytest

from scrapeguard.detectors.base import BY_CHALLENGE, BY_LOGIN, Signal
from scrapeguard.risk import assess, combine, penalty_key

SESSION, IP, ACCOUNT = "session:s-1", "ip:192.0.2.7", "account:42"


def signal(detector: str, key: str, score: float, answered_by: str = "") -> Signal:
    return Signal(detector, key, score, f"{detector} on {key}", answered_by=answered_by)


def test_independent_evidence_combines() -> None:
    assert combine([]) == 0.0
    assert combine([0.4, 0.7]) == pytest.approx(0.82)
    assert combine([1.5, -2]) == 1.0  # clamped


def test_signals_on_different_keys_of_one_client_add_up() -> None:
    # curl keeping the site's cookie: its user agent on the session, its sweep on the address
    risk = assess([signal("bot_agents", SESSION, 0.4), signal("enumeration", IP, 0.7)], [IP, SESSION])
    assert risk.total == pytest.approx(0.82)
    assert risk.bot == pytest.approx(0.4) and risk.behaviour == pytest.approx(0.7)
    assert risk.behaviour_key == IP  # the sweep is the address's evidence


def test_a_detector_saying_the_same_about_two_keys_counts_once() -> None:
    # the same missing stylesheets, seen on the browser session and on its address
    risk = assess([signal("automation", SESSION, 0.35), signal("automation", IP, 0.35)], [IP, SESSION])
    assert risk.total == pytest.approx(0.35) and risk.bot == pytest.approx(0.35)
    # two pieces of evidence of one detector on one key do combine
    both = assess([signal("automation", SESSION, 0.35), signal("automation", SESSION, 0.5)])
    assert both.total == pytest.approx(combine([0.35, 0.5]))


def test_the_penalty_goes_to_the_most_specific_key_among_equals() -> None:
    equal = [signal("profile_quota", IP, 0.6), signal("profile_quota", SESSION, 0.6)]
    assert penalty_key(equal, [IP, SESSION]) == SESSION  # not the office's address
    assert penalty_key([*equal, signal("new_account", ACCOUNT, 0.6)], [ACCOUNT, SESSION]) == ACCOUNT
    # a campaign's group key only when nothing about the client itself is as strong
    campaign = [signal("campaign", "campaign:ids-1", 0.95), signal("campaign", IP, 0.95)]
    assert penalty_key(campaign, [IP]) == IP
    # the strongest evidence wins over specificity
    assert penalty_key([signal("enumeration", IP, 0.7), signal("profile_quota", SESSION, 0.6)],
                       [IP, SESSION]) == IP


def test_a_detector_may_say_a_signal_is_of_the_other_kind() -> None:
    suspect = assess([signal("campaign", IP, 0.5, answered_by=BY_CHALLENGE)])
    assert suspect.bot == pytest.approx(0.5) and suspect.behaviour == 0.0 and suspect.behaviour_key == ""


def test_the_login_wall_is_no_evidence_of_anything() -> None:
    risk = assess([signal("login_wall", IP, 1.0, answered_by=BY_LOGIN), signal("automation", IP, 0.3)])
    assert risk.total == pytest.approx(0.3)
    assert [r.detector for r in risk.login] == ["login_wall"]
    assert [r.detector for r in risk.reasons] == ["automation"]
