"""Attack your own policy: scraping strategies and people personas run against a guarded site.

`harness` starts the demo site and the guard on loopback (with a fake clock if
asked); `strategies` are scrapers as small plug-ins; `personas` are people who
must not be refused. `bench/bench_scrapers.py` runs them all.
"""
