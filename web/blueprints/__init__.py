"""One blueprint per area of the product; each module defines `bp` and may set `url_prefix`."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from web.blueprints import (
        account,
        admin,
        answer_templates,
        api,
        api_admin,
        api_analytics,
        api_config,
        audit_log,
        budgets,
        complaints,
        config_admin,
        dashboard,
        definitions,
        designer,
        insight,
        intake,
        operations,
        portal,
        tasks,
        workdesk,
    )

    for module in (tasks, complaints, portal, intake, designer, definitions, dashboard, insight, admin, account,
                   operations, audit_log, config_admin, budgets, answer_templates, api, api_analytics, api_admin,
                   api_config, workdesk):
        app.register_blueprint(module.bp, url_prefix=getattr(module, "url_prefix", None))
