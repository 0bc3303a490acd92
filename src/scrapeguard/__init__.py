"""ScrapeGuard: protect members' personal data from mass scraping."""

__version__ = "0.1.0"
