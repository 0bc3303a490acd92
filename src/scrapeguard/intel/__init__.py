"""What ScrapeGuard knows about the outside world: crawler user agents and published IP ranges.

Data is shipped as a snapshot in `data/` (see data/SOURCE.txt for sources and
licences) and refreshed with `scrapeguard intel refresh --from DIR`.
"""
