"""CSRF protection and security headers for every response."""

from __future__ import annotations

from flask import Flask, request
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()


HSTS = "max-age=31536000; includeSubDomains"


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    secure = app.extensions["redress.settings"].secure_cookies

    @app.after_request
    def headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self'; frame-ancestors 'none'",
        )
        # Staff pages and API answers carry customers' personal data: never kept by a browser or
        # proxy cache (the back button after logout, a shared office computer). Only the static
        # assets may be cached.
        if request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"
        if secure:  # served over HTTPS only (REDRESS_SECURE_COOKIES=1): browsers stay on HTTPS
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response
