"""Debian's nginx in front of a site, asking a decide server (auth_request): the config the docs
give (docs/integrations.md), written to a temporary directory and run as the current user.

Used by the auth_request tests, the same-verdict test and bench/bench_integrations.py (as the
harness is: the lines the docs give, run for real).
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from scrapeguard.integrations.auth_request import LOG_FORMAT

#: What is served without a subrequest (the site's assets).
ASSET_LOCATION = "/static/"


def nginx_binary() -> str | None:
    """The nginx executable (Debian installs it in /usr/sbin), or None."""
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def nginx_conf(workdir: Path, port: int, site: str, decide: str | None, log_assets: bool = True) -> str:
    """nginx.conf serving `site` (host:port) on 127.0.0.1:`port`; with `decide` (host:port) every
    request but the assets is asked about first (auth_request), and each request's after-response
    line goes to the decide server over syslog (the assets' too, unless not `log_assets`).
    Without `decide`: plain nginx (benchmarks)."""
    user = f"user {getpass.getuser()};" if os.geteuid() == 0 else ""
    head = f"""
{user}
worker_processes 1;
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {workdir}/tmp/body;
    proxy_temp_path {workdir}/tmp/proxy;
    fastcgi_temp_path {workdir}/tmp/fastcgi;
    uwsgi_temp_path {workdir}/tmp/uwsgi;
    scgi_temp_path {workdir}/tmp/scgi;
    upstream site {{ server {site}; keepalive 64; }}
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
"""
    if decide is None:
        return head + f"""
    server {{
        listen 127.0.0.1:{port};
        location / {{ proxy_pass http://site; }}
    }}
}}
"""
    log = f"access_log syslog:server={decide},tag=scrapeguard,nohostname scrapeguard;"
    asset_log = "" if log_assets else "access_log off;"
    return head + f"""
    upstream scrapeguard {{ server {decide}; keepalive 64; }}
    {LOG_FORMAT}
    server {{
        listen 127.0.0.1:{port};
        {log}
        location / {{
            auth_request /_scrapeguard/auth;
            auth_request_set $scrapeguard_action $upstream_http_x_scrapeguard_action;
            auth_request_set $scrapeguard_reference $upstream_http_x_scrapeguard_reference;
            auth_request_set $scrapeguard_cookie $upstream_http_set_cookie;
            add_header Set-Cookie $scrapeguard_cookie always;
            error_page 403 = @scrapeguard_refused;
            proxy_hide_header X-Account-Id;
            proxy_hide_header X-Account-Created;
            proxy_hide_header X-Login-Failed;
            proxy_hide_header X-Viewer-Audience;
            proxy_pass http://site;
        }}
        location {ASSET_LOCATION} {{
            auth_request off;
            {asset_log}
            proxy_pass http://site;
        }}
        location /.well-known/scrapeguard/ {{
            access_log off;
            proxy_pass http://scrapeguard;
        }}
        location = /_scrapeguard/auth {{
            internal;
            access_log off;
            proxy_pass http://scrapeguard/auth;
            proxy_pass_request_body off;
            # (a location with proxy_set_header of its own inherits none: all of them again)
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-Method $request_method;
            proxy_set_header X-Original-URI $request_uri;
            proxy_set_header X-Original-Proto $scheme;
            proxy_set_header X-Request-Id $request_id;
        }}
        location @scrapeguard_refused {{
            rewrite ^ /refusal/$scrapeguard_reference break;
            proxy_pass http://scrapeguard;
        }}
    }}
}}
"""


class Nginx:
    """nginx running `nginx -p DIR -c DIR/nginx.conf` until `stop`."""

    def __init__(self, binary: str, workdir: Path, conf: str, port: int) -> None:
        self.workdir = workdir
        self.port = port
        for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (workdir / "tmp" / name).mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(workdir, getpass.getuser())
        (workdir / "nginx.conf").write_text(conf)
        check = subprocess.run([binary, "-t", "-p", str(workdir), "-c", str(workdir / "nginx.conf")],
                               capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"nginx rejects its config: {check.stderr}")
        self.proc = subprocess.Popen([binary, "-p", str(workdir), "-c", str(workdir / "nginx.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._wait_listening()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _wait_listening(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                error = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise RuntimeError(f"nginx exited: {error}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)  # waiting for a process to start, not for timing
        self.stop()
        raise RuntimeError(f"nginx did not listen on {self.port}")

    def error_log(self) -> str:
        path = self.workdir / "error.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
