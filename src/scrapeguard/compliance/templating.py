"""Jinja2 templates for every generated document: packaged ones, overridable from a user's directory.

A file in `template_dir` with the same name as a packaged template replaces it, so counsel can edit the
wording without touching ScrapeGuard. Templates use StrictUndefined: a misspelt field is an error that
names the template, never a silently empty gap in a legal document.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2

from scrapeguard.compliance.categories import packaged_taxonomy


class TemplateProblem(ValueError):
    """A document template is missing or broken; the message names the template and the problem."""


def when(value: datetime | None, missing: str = "not recorded") -> str:
    """A time as counsel reads it: "2026-03-02 09:00 UTC"."""
    if value is None:
        return missing
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def category_label(key: str) -> str:
    return packaged_taxonomy().label(key)


def environment(template_dir: Path | None = None) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = []
    if template_dir is not None:
        if not Path(template_dir).is_dir():
            raise TemplateProblem(f"template directory {template_dir} does not exist")
        loaders.append(jinja2.FileSystemLoader(str(template_dir)))
    loaders.append(jinja2.PackageLoader("scrapeguard.compliance", "templates"))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["when"] = when
    env.filters["label"] = category_label
    return env


def render(names: list[str], context: dict[str, Any], template_dir: Path | None = None) -> str:
    """Render the first of `names` that exists (most specific first)."""
    env = environment(template_dir)
    try:
        template = env.select_template(names)
    except jinja2.TemplatesNotFound as exc:
        raise TemplateProblem(f"no template found among: {', '.join(names)}") from exc
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateProblem(f"{exc.filename or exc.name}:{exc.lineno}: template syntax error: "
                              f"{exc.message}") from exc
    try:
        return template.render(**context)
    except jinja2.UndefinedError as exc:
        raise TemplateProblem(f"{template.name}: {exc.message}") from exc
    except jinja2.TemplateError as exc:
        raise TemplateProblem(f"{template.name}: {exc}") from exc
