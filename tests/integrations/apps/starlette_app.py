"""The Starlette echo app (served by uvicorn, like the demo site; uvicorn reads X-Forwarded-For
from the guard, a trusted 127.0.0.1 proxy, by default)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def _seen(request: Request, route: str, subject: str | None) -> JSONResponse:
    client = request.client.host if request.client else None
    return JSONResponse({"route": route, "subject": subject, "session": request.cookies.get("session"),
                         "client": client, "path": request.url.path})


async def profile(request: Request) -> JSONResponse:
    return _seen(request, "profile", f"username:{request.path_params['username']}")


async def member(request: Request) -> JSONResponse:
    return _seen(request, "profile", f"id:{request.path_params['id']}")


async def lookup(request: Request) -> JSONResponse:
    email = request.query_params.get("email", "").strip().lower()  # as the demo site reads it
    return _seen(request, "contact_lookup", f"email:{email}" if email else None)


async def not_found(request: Request, exc: Exception) -> JSONResponse:
    response = _seen(request, "page", None)
    response.status_code = 404
    return response


def create_app() -> Starlette:
    return Starlette(routes=[Route("/u/{username}", profile), Route("/api/v1/members/{id}", member),
                             Route("/lookup", lookup)], exception_handlers={404: not_found})
