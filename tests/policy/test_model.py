"""The policy's model: detector options by class, and one detector's options replaced."""

from __future__ import annotations

import dataclasses

import pytest

from scrapeguard.detectors import REGISTRY
from scrapeguard.detectors.bot_agents import BotAgentsOptions
from scrapeguard.detectors.flood import FloodOptions
from scrapeguard.policy import default_policy, load_policy_text
from scrapeguard.policy.model import Quota


def test_detector_options_are_found_by_their_class_in_registry_order() -> None:
    policy = load_policy_text("[detectors.flood]\npages = 77\n")
    assert policy.options(FloodOptions).pages == 77
    assert policy.options(FloodOptions) is policy.flood
    assert list(policy.detectors) == list(REGISTRY)


def test_options_of_a_class_no_detector_has_are_a_key_error() -> None:
    with pytest.raises(KeyError, match="Quota"):
        default_policy().options(Quota)


def test_with_options_replaces_one_detectors_options_only() -> None:
    policy = default_policy()
    offline = policy.with_options(dataclasses.replace(policy.bot_agents, verify_dns=False))
    assert offline.options(BotAgentsOptions).verify_dns is False and policy.bot_agents.verify_dns is True
    assert {n: o for n, o in offline.detectors.items() if n != "bot_agents"} == \
        {n: o for n, o in policy.detectors.items() if n != "bot_agents"}
    assert dataclasses.replace(offline, detectors=policy.detectors) == policy


def test_the_moved_options_classes_are_still_importable_from_the_model() -> None:
    from scrapeguard.policy import model

    for name, module in model.MOVED.items():
        moved = getattr(__import__(f"scrapeguard.detectors.{module}", fromlist=[name]), name)
        assert getattr(model, name) is moved
    with pytest.raises(AttributeError):
        model.NoSuchOptions  # noqa: B018
