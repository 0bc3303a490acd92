"""The team page: who has access, with which role; admins add users, disable or enable them and
change their role (records/users.py checks the rules and audits each change). Disabling a user or
changing their role ends their console sessions at once."""

from __future__ import annotations

from starlette.responses import Response

from scrapeguard.console.web import Page, PageError, Routes
from scrapeguard.records.users import MIN_PASSWORD, ROLES, add_user, list_users, set_active, set_role

routes = Routes()


@routes.get("/team", "read")
async def team(page: Page) -> Response:
    with page.records() as session:
        users = list_users(session, page.actor)
    return page.render("team.html", users=users, roles=ROLES, min_password=MIN_PASSWORD,
                       can_manage=page.can("user.manage"))


@routes.post("/team/add", "user.manage")
async def add(page: Page) -> Response:
    name, role = await page.field("name"), await page.field("role")
    form = await page.form()
    password, again = str(form.get("password") or ""), str(form.get("password_again") or "")
    if not password:
        raise PageError(400, "the form lacks password")
    if password != again:
        raise PageError(400, "the two passwords differ: type the same password twice")
    with page.records() as session:
        add_user(session, page.actor, name, role, password)
    return page.redirect("/team", f"User {name} added as {role.replace('_', ' ')}.")


async def _set_active(page: Page, active: bool) -> Response:
    name = page.param("name")
    with page.records() as session:
        # (disabling ends the user's sessions on every console: records/users.py does it)
        set_active(session, page.actor, name, active, await page.field("note", required=False))
    return page.redirect("/team", f"User {name} {'enabled' if active else 'disabled'}"
                                  f"{'' if active else ': their sessions are ended'}.")


@routes.post("/team/{name}/disable", "user.manage")
async def disable(page: Page) -> Response:
    return await _set_active(page, False)


@routes.post("/team/{name}/enable", "user.manage")
async def enable(page: Page) -> Response:
    return await _set_active(page, True)


@routes.post("/team/{name}/role", "user.manage")
async def change_role(page: Page) -> Response:
    name, role = page.param("name"), await page.field("role")
    with page.records() as session:
        set_role(session, page.actor, name, role, await page.field("note", required=False))
    return page.redirect("/team", f"{name} is now {role.replace('_', ' ')}: their sessions are ended.")
