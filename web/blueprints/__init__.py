"""One blueprint per area of the product."""

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from web.blueprints import api, tasks

    app.register_blueprint(tasks.bp)
    app.register_blueprint(api.bp, url_prefix="/api/v1")
