"""One blueprint per area of the product.

Each module in AREAS that exists defines `bp` (and may set `url_prefix`); an
area is registered when its module is present, so areas can land one by one.
"""

from __future__ import annotations

import importlib

from flask import Flask

AREAS = ("tasks", "complaints", "portal", "intake", "designer", "definitions", "dashboard", "admin", "api")


def register_blueprints(app: Flask) -> None:
    for area in AREAS:
        name = f"web.blueprints.{area}"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        app.register_blueprint(module.bp, url_prefix=getattr(module, "url_prefix", None))
