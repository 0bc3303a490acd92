"""The Flask echo app (served by Werkzeug's WSGI server; ProxyFix trusts the one proxy in front)."""

from __future__ import annotations

from flask import Flask, Response, jsonify, request
from werkzeug.middleware.proxy_fix import ProxyFix


def _seen(route: str, subject: str | None, status: int = 200) -> tuple[Response, int]:
    return jsonify(route=route, subject=subject, session=request.cookies.get("session"),
                   client=request.remote_addr, path=request.path), status


def create_app() -> Flask:
    app = Flask(__name__)
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1)  # type: ignore[method-assign]

    @app.route("/u/<username>")
    def profile(username: str) -> tuple[Response, int]:
        return _seen("profile", f"username:{username}")

    @app.route("/api/v1/members/<id>")
    def member(id: str) -> tuple[Response, int]:
        return _seen("profile", f"id:{id}")

    @app.route("/lookup")
    def lookup() -> tuple[Response, int]:
        email = request.args.get("email", "").strip().lower()
        return _seen("contact_lookup", f"email:{email}" if email else None)

    @app.errorhandler(404)
    def not_found(exc: Exception) -> tuple[Response, int]:
        return _seen("page", None, 404)

    return app
