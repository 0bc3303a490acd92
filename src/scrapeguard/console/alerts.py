"""Alerts: the team hears when an incident opens, a deadline is 24 h away, or a legal case is
overdue, by a webhook (JSON POST) and/or e-mail (SMTP)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AlertSettings:
    """Where alerts go: a webhook URL, and/or e-mail addresses through an SMTP server."""

    webhook: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 25
    recipients: tuple[str, ...] = ()
    sender: str = "scrapeguard@localhost"


def alert_settings(webhook: str | None, smtp: str | None, recipients: tuple[str, ...],
                   sender: str) -> AlertSettings | None:
    """Settings from the command line's options; None when no alert goes anywhere."""
    if not webhook and not (smtp and recipients):
        return None
    host, port = None, 25
    if smtp:
        host, _, port_text = smtp.rpartition(":")
        if not host or not port_text.isdigit():
            raise ValueError(f"--smtp {smtp!r} is not HOST:PORT")
        port = int(port_text)
    return AlertSettings(webhook or None, host, port, tuple(recipients), sender)
