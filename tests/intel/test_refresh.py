"""Refreshing the intel snapshot from a directory: validated, then replaced."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from scrapeguard.cli import main
from scrapeguard.intel.refresh import RefreshError, refresh


def test_refresh_copies_valid_files(tmp_path: Path) -> None:
    source, target = tmp_path / "src", tmp_path / "data"
    (source / "ai-crawlers").mkdir(parents=True)
    robots = {"NewBot": {"function": "AI Data Scrapers"}}
    (source / "ai-crawlers" / "robots.json").write_text(json.dumps(robots))
    (source / "ipranges" / "bing").mkdir(parents=True)
    (source / "ipranges" / "bing" / "ipv4_merged.txt").write_text("157.55.39.0/24\n")
    assert refresh(source, target) == ["ai-crawlers.json", "ipranges/bing/ipv4_merged.txt"]
    assert "NewBot" in json.loads((target / "ai-crawlers.json").read_text())


def test_a_bad_file_replaces_nothing(tmp_path: Path) -> None:
    source, target = tmp_path / "src", tmp_path / "data"
    (source / "ai-crawlers").mkdir(parents=True)
    (source / "ai-crawlers" / "robots.json").write_text(json.dumps({"NewBot": {}}))
    (source / "ipranges" / "googlebot").mkdir(parents=True)
    (source / "ipranges" / "googlebot" / "ipv4_merged.txt").write_text("66.249.64.0/19\n<html>\n")
    with pytest.raises(RefreshError, match=r"ipv4_merged.txt:2: '<html>' is not a network"):
        refresh(source, target)
    assert not target.exists()


def test_refresh_command_explains_an_empty_directory(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["intel", "refresh", "--from", str(tmp_path)])
    assert result.exit_code == 1 and "found neither ai-crawlers/robots.json" in result.stderr
