"""The Flask application factory."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from flask import Flask, has_request_context, request

from processes.app import build_runtime
from processes.config import Settings


def create_app(test_config: dict | None = None, settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_environ()
    app = Flask(__name__, instance_path=str(settings.instance_dir.resolve()))
    app.config.from_mapping(
        DATABASE_URL=settings.database_url,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=8),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session, which expires
        BABEL_DEFAULT_LOCALE="zh_CN",
        LANGUAGES=["zh_CN", "en"],
        PROCESS_SETTINGS=None,
        MAX_CONTENT_LENGTH=20 * 1024 * 1024,
        # Links in e-mails are built from the request's host, so only known hosts are answered.
        TRUSTED_HOSTS=list(settings.trusted_hosts) if settings.trusted_hosts is not None else None,
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        SMTP_URL=settings.smtp_url,
        PUBLIC_URL=settings.public_url,
        MAIL_FROM=settings.mail_from,
        TIMEZONE=settings.timezone,
        HOTLINE=settings.hotline,
    )
    app.config.from_pyfile("redress.cfg", silent=True)
    if test_config:
        app.config.update(test_config)
    app.config.setdefault("SECRET_KEY", None)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = settings.secret_key or _instance_secret(app)

    settings = replace(settings, database_url=app.config["DATABASE_URL"], smtp_url=app.config["SMTP_URL"],
                       public_url=app.config["PUBLIC_URL"], mail_from=app.config["MAIL_FROM"] or settings.mail_from,
                       timezone=app.config["TIMEZONE"])
    app.extensions["redress.settings"] = settings

    def link_base() -> str:
        """Links in e-mails: the configured public URL, else the host the request came to."""
        if settings.public_url:
            return settings.public_url
        return request.host_url if has_request_context() else "http://127.0.0.1:5000/"

    runtime = build_runtime(settings, process_settings=app.config["PROCESS_SETTINGS"], link_base=link_base)
    app.extensions["redress.db"] = runtime.db
    app.extensions["redress.runtime"] = runtime

    from web import auth, errors, i18n, input_guard, security

    security.init_app(app)
    input_guard.init_app(app)
    i18n.init_app(app)
    auth.init_app(app)
    errors.init_app(app)

    from web.blueprints import register_blueprints

    register_blueprints(app)
    return app


def _instance_secret(app: Flask) -> str:
    """A per-installation secret kept in the instance folder, made on first start."""
    path = Path(app.instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
