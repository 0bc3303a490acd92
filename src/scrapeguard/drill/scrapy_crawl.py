"""A real Scrapy crawl (not an imitation of its headers): a strategy plug-in that runs only where
Scrapy is installed (`pip install scrapy`); elsewhere it is skipped with a note, like the headless
Chromium. Scrapy runs in its own process (its Twisted reactor cannot be restarted in this one) with
the settings of `scrapy runspider`: its own user agent, robots.txt not asked for, one request at a
time, 50 ms apart (at most 20 a second, the drill's default rate bound), and at most `count` pages.
Every response comes back as a JSON line, which the drill tallies like any other client's."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from scrapeguard.drill.browser import Unavailable
from scrapeguard.drill.client import Tally
from scrapeguard.drill.strategies import Result, Target, strategy

#: The spider Scrapy runs: the directory, then every profile it links, each response written out.
SPIDER = '''
import json
import re

import scrapy


class MemberSpider(scrapy.Spider):
    name = "members"
    custom_settings = {"HTTPERROR_ALLOW_ALL": True, "LOG_LEVEL": "ERROR", "TELNETCONSOLE_ENABLED": False,
                       "CONCURRENT_REQUESTS": 1, "DOWNLOAD_DELAY": 0.05, "RANDOMIZE_DOWNLOAD_DELAY": False,
                       "DOWNLOAD_TIMEOUT": 30, "RETRY_ENABLED": False}

    def __init__(self, start, out, count, **kwargs):
        super().__init__(**kwargs)
        self.start_urls = [start]
        self.out = open(out, "w", encoding="utf-8")
        self.budget = int(count)

    def parse(self, response):
        self.out.write(json.dumps({"url": response.url, "status": response.status,
                                   "headers": {k.decode("latin-1"): v[0].decode("latin-1")
                                               for k, v in response.headers.items() if v},
                                   "body": response.text if response.status == 200 else ""}) + "\\n")
        self.out.flush()
        for name in dict.fromkeys(re.findall(r'href="/u/([^"/?#]+)"', response.text)):
            if self.budget <= 0:
                return
            self.budget -= 1
            yield response.follow(f"/u/{name}", callback=self.parse)

    def closed(self, reason):
        self.out.close()
'''


def scrapy_missing() -> str | None:
    """Why the Scrapy strategy cannot run here, or None if it can."""
    if importlib.util.find_spec("scrapy") is None:
        return "Scrapy is not installed (pip install scrapy)"
    return None


def scrapy_crawl(target: Target, count: int = 150, timeout: float = 300.0) -> Result:
    """Run the spider against `target` and tally every response it got."""
    reason = scrapy_missing()
    if reason is not None:
        raise Unavailable(reason)
    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="sg-scrapy-") as folder:
        spider, out = Path(folder) / "spider.py", Path(folder) / "responses.jsonl"
        spider.write_text(SPIDER, encoding="utf-8")
        command = [sys.executable, "-m", "scrapy", "runspider", str(spider), "-a",
                   f"start={target.url}/directory?page=1", "-a", f"out={out}", "-a", f"count={count}"]
        finished = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=folder,
                                  check=False)
        if finished.returncode != 0 or not out.exists():
            raise RuntimeError(f"scrapy runspider failed ({finished.returncode}): "
                               f"{finished.stderr.strip()[-500:]}")
        for line in out.read_text(encoding="utf-8").splitlines():
            seen = json.loads(line)
            tally.see(httpx.Response(seen["status"], headers=seen["headers"], text=seen["body"]),
                      target.clock.time())
    return Result("", tally)


@strategy("scrapy", "a real Scrapy crawl (scrapy runspider, its own settings and user agent): the directory, "
          "then up to 150 profiles it links (skipped where Scrapy is not installed)")
def _scrapy(target: Target) -> Result:
    return scrapy_crawl(target)
