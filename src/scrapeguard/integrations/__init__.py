"""Ways to put the guard in front of a site: the reverse proxy (more to come: ASGI, WSGI)."""
