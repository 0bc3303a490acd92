"""Every console page and action, as every role: refused (403) exactly when the role lacks the
page's permission, whatever the browser shows or hides. The pages are read from the console
itself, so a new page is walked without a row here; which role may do what is
`users.PERMISSIONS`."""

from __future__ import annotations

import re

import pytest
from starlette.routing import Mount, Route

from scrapeguard.console.web import SIGNED_IN, PageRoute
from scrapeguard.records.users import PERMISSIONS, ROLES

from .accessibility import accessibility_problems  # type: ignore[import-not-found]
from .helpers import BY_ROLE, ConsoleHarness  # type: ignore[import-not-found]

PARAM = re.compile(r"\{([a-z_]+)(:[a-z]+)?\}")


def concrete(path: str) -> str:
    """A path with each parameter filled with a value no record has (the page answers 404 or 400
    to a role that may use it)."""
    return PARAM.sub(lambda m: "1" if m.group(1).endswith("id") else "missing-1", path)


def test_every_route_of_the_app_is_a_declared_page(harness: ConsoleHarness) -> None:
    inner = harness.console
    declared = {(p.path, p.method) for p in inner.pages}
    app = harness.app
    while not hasattr(app, "routes"):
        app = app.app
    for route in app.routes:
        if isinstance(route, Mount) or route.path in ("/login", "/logout"):
            continue
        assert isinstance(route, Route)
        for method in route.methods or ():
            if method != "HEAD":
                assert (route.path, method) in declared, f"{method} {route.path} is not a declared page"


@pytest.mark.parametrize("role", ROLES)
def test_each_role_is_refused_exactly_the_pages_it_may_not_use(harness: ConsoleHarness, role: str) -> None:
    client = harness.client(BY_ROLE[role])
    allowed = PERMISSIONS[role]
    problems: list[str] = []
    page: PageRoute
    for page in harness.console.pages:
        path = concrete(page.path)
        response = client.get(path) if page.method == "GET" else client.post(path, {})
        may = page.permission == SIGNED_IN or page.permission in allowed
        if may and response.status_code == 403:
            problems.append(f"{role} refused {page.method} {page.path} ({page.permission}): "
                            f"{response.text[:200]}")
        if not may and response.status_code != 403:
            problems.append(f"{role} got {response.status_code} for {page.method} {page.path} "
                            f"({page.permission})")
        if response.status_code == 200 and page.method == "GET" \
                and response.headers.get("content-type", "").startswith("text/html"):
            problems += [f"{page.path}: {p}" for p in accessibility_problems(response.text)]
        assert response.status_code < 500, f"{page.method} {path}: {response.status_code} " \
                                           f"{response.text[:300]}"
    assert not problems, "\n".join(problems)


def test_the_navigation_shows_only_what_the_role_may_open(harness: ConsoleHarness) -> None:
    support = harness.client("sue").get("/").text  # support may not read the records: a 403 page
    assert "Incidents" not in support
    viewer = harness.client("vic").get("/").text
    assert 'href="/incidents"' in viewer and 'href="/appeals"' not in viewer
