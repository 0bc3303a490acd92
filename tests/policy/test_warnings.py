"""Warnings for policies that are valid but quietly weaken protection."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from scrapeguard.cli import main
from scrapeguard.policy import default_policy, load_policy_text
from scrapeguard.policy.warnings import policy_warnings


def test_the_defaults_warn_about_nothing() -> None:
    assert policy_warnings(default_policy()) == []


@pytest.mark.parametrize("text,warning", [
    ("[detectors.profile_quota]\nscore = 0.4\n", "will never be refused"),
    ("[detectors.profile_quota]\nenabled = false\n", "profile_quota is off"),
    ('[allowlist]\ncidrs = ["0.0.0.0/0"]\n', "0.0.0.0/0: that is a large part of the internet"),
    ("[actions]\nblock_seconds = 10\nthrottle_seconds = 600\n", "would shorten the penalty"),
    ('mode = "observe"\n', "nothing is refused"),
    ('[[routes]]\npattern = "/x"\nkind = "page"\n', "profile quotas have nothing to count"),
    ('[challenge]\nprovider = "recaptcha"\nsite_key = "k"\n', "a third party sees their address"),
    ("[challenge]\nclearance_requests = 1000\n", "solving challenges buys a large scrape"),
])
def test_weakening_settings_are_warned_about(text: str, warning: str) -> None:
    warnings = policy_warnings(load_policy_text(text, "p.toml"))
    assert any(warning in w for w in warnings), warnings


def test_policy_check_prints_warnings_and_still_passes(tmp_path: Path) -> None:
    policy = tmp_path / "p.toml"
    policy.write_text("[detectors.profile_quota]\nscore = 0.4\n")
    result = CliRunner().invoke(main, ["policy", "check", str(policy)])
    assert result.exit_code == 0
    assert f"{policy}: warning: detectors.profile_quota.score (0.4) is below risk.throttle" in result.stderr
