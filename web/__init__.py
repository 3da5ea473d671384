"""The Flask application factory."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask import Flask

from processes.db import Database
from processes.runtime import Runtime


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(Path(os.environ.get("REDRESS_INSTANCE", "instance")).resolve()))
    app.config.from_mapping(
        DATABASE_URL=os.environ.get("REDRESS_DATABASE_URL"),
        PERMANENT_SESSION_LIFETIME=timedelta(hours=8),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session, which expires
        BABEL_DEFAULT_LOCALE="zh_CN",
        LANGUAGES=["zh_CN", "en"],
        PROCESS_SETTINGS=None,
        MAX_CONTENT_LENGTH=20 * 1024 * 1024,
        # Links in e-mails are built from the request's host, so only known hosts are answered.
        TRUSTED_HOSTS=_trusted_hosts(),
        SESSION_COOKIE_SECURE=os.environ.get("REDRESS_SECURE_COOKIES") == "1",
    )
    app.config.from_pyfile("redress.cfg", silent=True)
    if test_config:
        app.config.update(test_config)
    app.config.setdefault("SECRET_KEY", None)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = os.environ.get("REDRESS_SECRET_KEY") or _instance_secret(app)

    db = Database(app.config["DATABASE_URL"])
    runtime = Runtime(db, settings=app.config["PROCESS_SETTINGS"])
    from processes.complaints import install as install_complaints

    install_complaints(runtime)
    app.extensions["redress.db"] = db
    app.extensions["redress.runtime"] = runtime

    from web import auth, errors, i18n, security

    security.init_app(app)
    i18n.init_app(app)
    auth.init_app(app)
    errors.init_app(app)

    from web.blueprints import register_blueprints

    register_blueprints(app)
    return app


def _trusted_hosts() -> list[str] | None:
    """REDRESS_TRUSTED_HOSTS (comma-separated, e.g. "complaints.example.com") or, by default, this machine."""
    configured = os.environ.get("REDRESS_TRUSTED_HOSTS", "").strip()
    if configured == "*":
        return None
    if configured:
        return [host.strip() for host in configured.split(",") if host.strip()]
    return ["127.0.0.1", "localhost", "::1"]


def _instance_secret(app: Flask) -> str:
    """A per-installation secret kept in the instance folder, made on first start."""
    path = Path(app.instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
