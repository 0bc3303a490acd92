"""The web console: the scraping-risk team's workplace on the records database.

`scrapeguard console --db URL` serves it (Starlette, server-rendered Jinja2 pages, plain HTML forms;
nothing fetched at run time). Each area of the team's work is one module (`appeals`, `live`, `actors`,
`incidents`, `cases`, `policy`, `team`, `dashboard`) that declares its pages with the permission
each needs (`web.Routes`); `app.build_console` assembles them behind the sign-in (`auth`). The
workflow rules are the records layer's (`scrapeguard.records`): the console calls it, never
re-implements it, and every change goes through a records function that checks the user's role
and writes the audit log.
"""
