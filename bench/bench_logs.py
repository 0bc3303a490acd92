"""Log benchmark: `analyze` and `replay` on a generated 1,000,000-line combined log, next to CrowdSec.

    python bench/bench_logs.py [--lines 1000000] [--crowdsec-lines 20000] [--replay-lines N] [--keep DIR]

The log is deterministic (same seed, same bytes) and mixes what a member site
sees: people browsing pages, profiles and the assets their browsers load;
crawlers (a real Googlebot range, a fake one); a scraper sweeping the API; a
campaign of IPs each under the quota; contact look-ups; a few bad lines.
Each tool runs as its own process, one after the other, in the same run;
lines per second are lines over wall-clock seconds of that process, CPU
seconds are its user + system time (steadier on a shared machine), peak
memory is its maximum resident set size (of the process and its children).
CrowdSec 1.4.6 (`../shared/tools/crowdsec-replay`, stock HTTP scenarios)
reads about 1,000 lines a second, so it runs on a prefix of the same log.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

START = 1769904000  # 2026-02-01T00:00:00Z
MONTH = "Feb"
BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
PAGES = ("/", "/jobs", "/events", "/blog", "/blog/welcome", "/search?q=anna", "/directory?page=3", "/login")
ASSETS = ("/static/site.css", "/static/site.js", "/static/avatar/{n}.png", "/favicon.ico")
REPO = Path(__file__).resolve().parents[1]


def _line(ts: int, ip: str, target: str, status: int, size: int, ua: str, referer: str = "-") -> str:
    t = time.gmtime(ts)
    return (
        f"{ip} - - [{t.tm_mday:02d}/{MONTH}/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000] "
        f'"GET {target} HTTP/1.1" {status} {size} "{referer}" "{ua}"\n'
    )


def generate(path: Path, lines: int, seed: int = 7) -> None:
    """About `lines` lines over one day, in time order, deterministic."""
    rng = random.Random(seed)
    events: list[tuple[int, str]] = []
    budget = lines
    # a scraper walking the API, 4 per second for ~7 hours: 100,000 lines
    scraper = min(100_000, budget // 10)
    for i in range(scraper):
        events.append(
            (
                START + 3600 + i // 4,
                _line(
                    START + 3600 + i // 4,
                    "198.51.100.9",
                    f"/api/v1/members/{i + 1}",
                    200,
                    900,
                    "python-requests/2.32.3",
                ),
            )
        )
    # a campaign: 40 IPs in 40 networks, 25 profiles an hour each (under 60/hour, 250/day under 300/day),
    # disjoint slices, for 10 hours
    campaign = min(40 * 25 * 10, budget // 20)
    for i in range(campaign):
        ip_n, k = i % 40, i // 40
        ts = START + 7200 + k * 144 + ip_n
        events.append(
            (
                ts,
                _line(ts, f"203.0.{ip_n}.{10 + ip_n}", f"/u/member{ip_n * 1000 + k}", 200, 5100, BROWSERS[2]),
            )
        )
    # the real Googlebot and a fake one, and contact look-ups
    for i in range(min(20_000, budget // 50)):
        ts = START + i * 4
        events.append((ts, _line(ts, "34.22.85.1", f"/u/member{i}", 200, 5100, GOOGLEBOT)))
        if i % 10 == 0:
            events.append((ts + 1, _line(ts + 1, "203.0.113.66", f"/u/member{i}", 200, 5100, GOOGLEBOT)))
        if i % 20 == 0:
            events.append(
                (
                    ts + 2,
                    _line(
                        ts + 2, "192.0.2.77", f"/lookup?email=user{i}%40example.org", 200, 700, BROWSERS[0]
                    ),
                )
            )
    # people: sessions of a page, a few profiles, and the assets a browser loads, all day long
    remaining = lines - len(events)
    while remaining > 0:
        ip = f"{rng.randrange(11, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        ua = rng.choice(BROWSERS)
        ts = START + rng.randrange(86_000)
        for _ in range(rng.randrange(3, 12)):
            r = rng.random()
            if r < 0.35:
                target, status, size = f"/u/member{rng.randrange(200_000)}", 200, 5100
            elif r < 0.75:
                target = rng.choice(ASSETS).format(n=rng.randrange(5000))
                status, size = (304, 0) if rng.random() < 0.3 else (200, 2400)
            else:
                target, status, size = rng.choice(PAGES), 200, 8000
            if rng.random() < 0.01:
                status, size = 404, 150
            events.append((ts, _line(ts, ip, target, status, size, ua, "https://members.example/")))
            ts += rng.randrange(1, 30)
            remaining -= 1
    events.sort(key=lambda e: e[0])
    with path.open("w", encoding="utf-8") as f:
        for n, (_, text) in enumerate(events[:lines]):
            if n % 20_000 == 7:
                f.write("this line is not a log line\n")  # bad lines are counted, not fatal
            else:
                f.write(text)


@dataclass
class Run:
    name: str
    lines: int
    seconds: float
    peak_mb: float
    #: CPU seconds (user + system) of the process and its children: fairer than wall time on a busy machine.
    cpu_seconds: float = 0.0
    note: str = ""

    @property
    def lines_per_second(self) -> float:
        return self.lines / self.seconds if self.seconds else 0.0


def measure(name: str, command: list[str], lines: int, note: str = "", stdout: Path | None = None) -> Run:
    """Run one command to its end; wall-clock seconds and peak RSS of it and its children."""
    out = stdout.open("wb") if stdout else subprocess.DEVNULL
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=out, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if stdout:
        out.close()  # type: ignore[union-attr]
    if proc.returncode != 0:
        error = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        raise SystemExit(f"{name} failed ({proc.returncode}): {' '.join(command)}\n{error[-2000:]}")
    return Run(name, lines, seconds, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime, note)


def _crowdsec_replay() -> Path:
    """shared/tools/crowdsec-replay beside the checkout (or beside a folder of worktrees)."""
    for parent in REPO.parents:
        candidate = parent / "shared" / "tools" / "crowdsec-replay"
        if candidate.exists():
            return candidate
    return REPO.parent / "shared" / "tools" / "crowdsec-replay"


def prefix(path: Path, lines: int, target: Path) -> Path:
    with path.open("rb") as src, target.open("wb") as dst:
        for n, line in enumerate(src):
            if n >= lines:
                break
            dst.write(line)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--replay-lines", type=int, default=0, help="replay a prefix only (0: the whole log)")
    parser.add_argument("--crowdsec-lines", type=int, default=20_000, help="CrowdSec's prefix (0: skip it)")
    parser.add_argument("--crowdsec", default=str(_crowdsec_replay()), help="the crowdsec-replay script")
    parser.add_argument("--keep", metavar="DIR", help="keep the log and the outputs in DIR")
    parser.add_argument("--generate-only", metavar="FILE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate_only:
        generate(Path(args.generate_only), args.lines)
        return

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-logs-"))
    work.mkdir(parents=True, exist_ok=True)
    log = work / "access.log"
    started = time.perf_counter()
    # in a child process: a forked child's peak memory starts at its parent's, so this process stays small
    generator = [sys.executable, __file__, "--generate-only", str(log), "--lines", str(args.lines)]
    subprocess.run(generator, check=True)
    print(
        f"generated {args.lines:,} lines ({log.stat().st_size / 1e6:.0f} MB) in "
        f"{time.perf_counter() - started:.1f} s: {log}",
        flush=True,
    )
    cli = [sys.executable, "-m", "scrapeguard"]
    runs = [
        measure(
            "scrapeguard analyze",
            [*cli, "analyze", str(log), "--format", "combined", "-q", "--out", str(work / "report")],
            args.lines,
        )
    ]
    print(f"  analyze done: {runs[-1].seconds:.1f} s", flush=True)
    replay_log, replay_lines = log, args.lines
    if args.replay_lines and args.replay_lines < args.lines:
        replay_lines = args.replay_lines
        replay_log = prefix(log, replay_lines, work / "replay-prefix.log")
    runs.append(
        measure(
            "scrapeguard replay",
            [
                *cli,
                "replay",
                str(replay_log),
                "--format",
                "combined",
                "--decisions-out",
                str(work / "decisions.jsonl"),
            ],
            replay_lines,
            "" if replay_lines == args.lines else f"first {replay_lines:,} lines",
        )
    )
    print(f"  replay done: {runs[-1].seconds:.1f} s", flush=True)
    if args.crowdsec_lines and Path(args.crowdsec).exists() and shutil.which("bash"):
        n = min(args.crowdsec_lines, args.lines)
        short = prefix(log, n, work / "crowdsec-prefix.log")
        runs.append(
            measure(
                "crowdsec 1.4.6 (crowdsec-replay)",
                ["bash", args.crowdsec, str(short), "apache2"],
                n,
                f"first {n:,} lines",
                stdout=work / "crowdsec-alerts.tsv",
            )
        )
    elif args.crowdsec_lines:
        print(f"  (CrowdSec skipped: {args.crowdsec} not found)")

    print(f"\n{'tool':36} {'lines':>10} {'seconds':>9} {'lines/s':>10} {'CPU s':>7} {'peak MB':>8}  note")
    for r in runs:
        figures = f"{r.lines:>10,} {r.seconds:>9.2f} {r.lines_per_second:>10,.0f} {r.cpu_seconds:>7.1f}"
        print(f"{r.name:36} {figures} {r.peak_mb:>8.0f}  {r.note}")
    base = runs[-1] if runs[-1].name.startswith("crowdsec") else None
    if base is not None:
        for r in runs[:-1]:
            ratio = r.lines_per_second / base.lines_per_second
            print(f"{r.name} reads {ratio:,.0f}x as many lines/s as CrowdSec")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
