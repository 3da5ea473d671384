"""Several web processes on one PostgreSQL: gunicorn, preforked, threads per process.

Each process builds its own app (and so its own connection pool) after the fork: a pool must
never be shared across processes. The instance cache of each process is only a shortcut: a unit
of work checks the instance's version column, and a stale copy is reloaded (docs/deploy.md).
"""

from __future__ import annotations

from gunicorn.app.base import BaseApplication


class RedressServer(BaseApplication):
    def __init__(self, options: dict):
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from web import create_app

        return create_app()


def serve_preforked(host: str, port: int, workers: int, threads: int) -> None:
    RedressServer({
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "preload_app": False,  # each process opens its own database pool
        "keepalive": 5,  # clients and the proxy reuse connections
        "timeout": 60,
        "graceful_timeout": 30,
        "accesslog": None,
    }).run()
