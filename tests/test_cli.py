"""The `scrapeguard` command as a user runs it: help texts, errors, and the demo end to end."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from click.testing import CliRunner

from scrapeguard.cli import main


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_every_command_has_help() -> None:
    code, out, _ = run("--help")
    assert code == 0
    for command in ("demo", "site", "proxy", "policy"):
        assert command in out
    for command in (["demo"], ["site"], ["proxy"], ["policy", "check"], ["policy", "defaults"]):
        code, out, _ = run(*command, "--help")
        assert code == 0 and "Usage:" in out and len(out.splitlines()) > 3


def test_proxy_refuses_a_bad_policy_with_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('mode = "loud"\n[risk]\nthrottle = 3\n')
    code, _, err = run("proxy", "--upstream", "http://127.0.0.1:9", "--policy", str(bad))
    assert code == 2
    assert f"{bad}:1: mode" in err and f"{bad}:3: risk.throttle" in err


def test_proxy_explains_bad_arguments() -> None:
    code, _, err = run("proxy", "--upstream", "ftp://example.org")
    assert code == 2 and "must be an http:// or https:// URL" in err
    code, _, err = run("proxy", "--upstream", "http://127.0.0.1:9", "--listen", "nonsense")
    assert code == 2 and "is not HOST:PORT" in err
    code, _, err = run("proxy", "--upstream", "http://127.0.0.1:9", "--trusted-proxies", "10.0.0.0/33")
    assert code == 2 and "is not an IP network" in err
    code, _, err = run("proxy", "--upstream", "http://127.0.0.1:9", "--store", "carrier-pigeon://x")
    assert code == 2 and "unsupported scheme" in err


def _free_ports(count: int = 3) -> int:
    """A port p such that p .. p + count - 1 are all free (the demo uses three: guard, site, console)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port + count - 1 > 65535:
            continue
        free = True
        for other in range(port + 1, port + count):
            with socket.socket() as s2:
                try:
                    s2.bind(("127.0.0.1", other))
                except OSError:
                    free = False
                    break
        if free:
            return port
    raise RuntimeError(f"no {count} adjacent free ports")


def _sign_in_to_console(url: str, name: str, password: str) -> None:
    """Sign in to a console over plain HTTP on loopback (the session cookie is Secure, which
    browsers accept from a loopback address; httpx would not send it back, so it is read here)."""
    with httpx.Client(base_url=url) as client:
        form = client.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf, form.text
        login_cookie = re.search(r"sg_console_login=([^;]+)", form.headers["set-cookie"])
        assert login_cookie
        signed_in = client.post("/login", data={"username": name, "password": password,
                                                "csrf": csrf.group(1)},
                                headers={"Cookie": f"sg_console_login={login_cookie.group(1)}"})
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/", signed_in.text
        session = re.search(r"sg_console=([^;]+)", signed_in.headers["set-cookie"])
        assert session
        dashboard = client.get("/", headers={"Cookie": f"sg_console={session.group(1)}"})
        assert dashboard.status_code == 200 and "Dashboard" in dashboard.text


def test_demo_runs_prints_its_urls_guards_the_site_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = _free_ports()
    decisions = tmp_path / "d.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "scrapeguard", "demo", "--listen", f"127.0.0.1:{port}",
         "--members", "100", "--decisions-out", str(decisions)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        printed = ""
        deadline = time.time() + 60
        while "Ctrl-C" not in printed and time.time() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            printed += line
        assert f"http://127.0.0.1:{port}/" in printed, printed
        assert f"http://127.0.0.1:{port + 1}/" in printed
        assert "curl" in printed  # the one-line scraper hint
        # the team's console, with the demo admin's password printed once
        console = re.search(rf"team console: +(http://127.0.0.1:{port + 2}/) +<- sign in as 'admin', "
                            r"password (\S+) +\(shown only now\)", printed)
        assert console, printed
        _sign_in_to_console(console.group(1), "admin", console.group(2))
        codes = [httpx.get(f"http://127.0.0.1:{port}/api/v1/members/{i}").status_code for i in range(1, 71)]
        # httpx's user agent (a scripting tool) asking for member data: challenged at once, which it
        # cannot pass; from the 8th id in sequence the sweep (what it does) throttles, then blocks
        assert codes[:7] == [403] * 7 and codes[7] == 429 and set(codes[7:]) <= {429, 403}
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(20)
    assert proc.returncode == 0
    lines = decisions.read_text().splitlines()
    assert len(lines) == 70 and re.search(r'"action":"challenge"', lines[0])
    assert '"detector":"bot_agents"' in lines[0] and "scraping tool (python-httpx)" in lines[0]
    assert re.search(r'"action":"throttle"', lines[7]) and "member ids in sequence" in lines[7]
