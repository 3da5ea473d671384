"""Every staff page names people as people read them, stored values in words, and times in the deployment's zone.

The pages are walked in both languages on the demo's complaints plus a reviewed process change, a
reviewed settings change, a budget, an answer template, a note and a KPI target, each made by staff with
dotted user names. The visible text (no scripts, no attributes) must not hold a user name or a machine
actor's id (the display name stands for it), a raw ISO timestamp, a time marked UTC, nor any of the
stored times written in UTC (Asia/Shanghai is eight hours ahead, so the local rendering differs)."""

from __future__ import annotations

import re

import lxml.html
import pytest
from sqlalchemy import select

from processes.complaints.answer_templates import ResponseTemplate
from processes.complaints.records import Complaint
from processes.engine.models import AuditEntry, HumanTask, ProcessDefinition, User
from processes.engine.users import add_user, create_token
from processes.governance.models import DefinitionDraft, DraftReview
from tests.test_process_settings import settings_form
from tests.test_review import bearer, deploy_first_version, fixture_files, lowered_threshold, upload
from web.blueprints.config_admin import TEMPLATE_LABELS
from web.workspace_i18n import VOCABULARY

PASSWORD = "pw-12345678"
STAFF = [  # username, department, role, display name
    ("sun.designer", "management", "process_designer", "孙设计 Sun"),
    ("zhao.compliance", "management", "compliance_reviewer", "赵合规 Zhao"),
    ("qian.admin", "management", "admin", "钱管理 Qian"),
    ("zhou.lead", "customer_service", "supervisor", "周主管 Zhou"),
    ("wu.boss", "management", "manager", "吴经理 Wu"),
]
# A user name or a machine actor's id on screen, as a word of its own.
RAW_ACTOR = re.compile(r"(?<![\w.-])(" + "|".join(
    [re.escape(u[0]) for u in STAFF] + [r"demo\.[a-z_.]+", "customer-portal", "mail-intake", "system"]) + r")(?![\w-])")
# A stored value of the vocabulary shown as its key: only keys no sentence would hold (two words joined).
RAW_KEY = re.compile(r"(?<![\w./@{:-])(" + "|".join(sorted(
    {re.escape(key) for words in VOCABULARY.values() for key in words if re.search(r"_|[a-z][A-Z]", key)}
    | {re.escape(key) for key in TEMPLATE_LABELS if "_" in key}, key=len, reverse=True)) + r")(?![\w-])")
RAW_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}|\d{2}:\d{2}(:\d{2})? ?UTC\b|\+00:00")

PAGES = [  # who looks, what
    ("qian.admin", "/admin/"), ("qian.admin", "/admin/audit/"), ("qian.admin", "/admin/operations/"),
    ("qian.admin", "/admin/outbox"), ("qian.admin", "/admin/settings"), ("qian.admin", "/admin/calendar"),
    ("qian.admin", "/admin/mail-templates"), ("qian.admin", "/admin/changes/{change}"),
    ("qian.admin", "/admin/budgets/"), ("qian.admin", "/admin/users"), ("qian.admin", "/admin/users/sun.designer"),
    ("qian.admin", "/answer-templates/{template}"), ("qian.admin", "/account/"),
    ("sun.designer", "/designer/"), ("sun.designer", "/designer/drafts/{waiting}"),
    ("zhao.compliance", "/definitions/"), ("zhao.compliance", "/definitions/review/{approved}"),
    ("zhao.compliance", "/definitions/review/{waiting}"), ("zhao.compliance", "/definitions/review/{approved}/record"),
    ("zhao.compliance", "/definitions/compensation_check/history"),
    ("zhou.lead", "/"), ("zhou.lead", "/escalations"), ("zhou.lead", "/notifications"),
    ("zhou.lead", "/complaints/"), ("zhou.lead", "/complaints/{reference}"), ("zhou.lead", "/answer-templates/"),
    ("zhou.lead", "/complaints/{reference}/customer"),
    ("zhou.lead", "/tasks/{task}"),
    ("wu.boss", "/dashboard/"), ("wu.boss", "/dashboard/complaints"), ("wu.boss", "/dashboard/heatmap"),
    ("wu.boss", "/dashboard/returns"), ("wu.boss", "/dashboard/review"), ("wu.boss", "/dashboard/targets"),
]
# The account list is where user names are administered: it shows each beside the display name.
USER_NAMES_SHOWN = {"/admin/users", "/admin/users/sun.designer"}


def visible_text(html: str) -> str:
    root = lxml.html.fromstring(html)
    for hidden in root.xpath("//script|//style|//template"):
        hidden.drop_tree()
    return " ".join(" ".join(root.itertext()).split())  # cells apart, not run together


def keys_text(html: str) -> str:
    """The visible text but identifiers (<code>, file listings) and the audit log's stored detail."""
    root = lxml.html.fromstring(html)
    for hidden in root.xpath("//script|//style|//template|//code|//pre|//textarea|//*[contains(@class, 'audit-detail')]"):
        hidden.drop_tree()
    return " ".join(" ".join(root.itertext()).split())


def login(client, username, locale):
    client.post("/logout")
    assert client.post("/login", data={"username": username, "password": PASSWORD}).status_code == 302
    client.post("/language", data={"locale": locale})


@pytest.fixture
def history(demo_app):
    """The demo, and a process change, a settings change and day-to-day records made by STAFF."""
    app = demo_app
    db = app.extensions["redress.db"]
    tokens = {}
    with db.write_session.begin() as s:
        for username, department, role, name in STAFF:
            add_user(s, username, department, role, PASSWORD, display_name=name)
            tokens[username] = create_token(s, username)
    client = app.test_client()
    deploy_first_version(client, {"designer": tokens["sun.designer"], "reviewer": tokens["zhao.compliance"]})
    with db.session() as s:
        first = s.scalar(select(DefinitionDraft.id).where(DefinitionDraft.status == "approved"))
    second = upload(client, tokens["sun.designer"], lowered_threshold(fixture_files())).get_json()["draft"]
    client.post(f"/api/v1/definitions/{second['id']}/submit", json={"change_note": "阈值降到300"},
                headers=bearer(tokens["sun.designer"]))

    login(client, "sun.designer", "zh_CN")
    proposed = client.post("/admin/settings", data=settings_form(
        client, compensation_approval_threshold="300", note="Lower the threshold"))
    assert proposed.status_code == 302, proposed.get_data(as_text=True)
    change = int(proposed.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    login(client, "zhao.compliance", "zh_CN")
    assert client.post(f"/admin/changes/{change}/approve", data={"comment": "ok"}).status_code == 302

    with db.session() as s:
        reference = s.scalar(select(Complaint.reference).order_by(Complaint.id).limit(1))
    login(client, "wu.boss", "zh_CN")
    client.post("/admin/budgets/", data={"department": "after_sales", "month": "2026-12", "amount": "8000",
                                        "note": "Fewer repairs expected"})
    client.post("/dashboard/targets", data={"kpi": "reopen_rate", "target": "50", "days": "30", "owner": "wu.boss"})
    login(client, "zhou.lead", "zh_CN")
    client.post(f"/complaints/{reference}/notes", data={"body": "请质量部跟进"})
    client.post("/answer-templates/new", data={"title": "退款到账", "language": "zh-CN", "strategy": "compensation",
                                               "body": "您好,退款已到账。", "active": "on", "action": "save"})
    with db.session() as s:
        template = s.scalar(select(ResponseTemplate.id).order_by(ResponseTemplate.id.desc()).limit(1))
        task = s.scalar(select(HumanTask.id).where(HumanTask.business_key == reference, HumanTask.status == "open"))
    return {"approved": first, "waiting": second["id"], "change": change, "reference": reference,
            "template": template, "task": task}


def utc_renderings(db) -> set[str]:
    """The times the walked pages show, as they would read if written in UTC."""
    with db.session() as s:
        stamps = [*s.scalars(select(ProcessDefinition.deployed_at)),
                  *s.scalars(select(DefinitionDraft.updated_at)), *s.scalars(select(DefinitionDraft.submitted_at)),
                  *s.scalars(select(DraftReview.decided_at)),
                  *s.scalars(select(AuditEntry.at).where(AuditEntry.actor.in_([u[0] for u in STAFF])))]
    return {stamp.strftime("%Y-%m-%d %H:%M") for stamp in stamps if stamp is not None}


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_pages_name_people_and_show_local_times(app, history, locale):
    client = app.test_client()
    utc = utc_renderings(app.extensions["redress.db"])
    assert utc, "the walk has times to look for"
    problems, who = [], None
    for username, url in PAGES:
        if username != who:
            login(client, username, locale)
            who = username
        url = url.format(**history)
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        text = visible_text(response.get_data(as_text=True))
        if url not in USER_NAMES_SHOWN:
            problems += [(url, "actor", m.group(0)) for m in RAW_ACTOR.finditer(text)]
        problems += [(url, "time", m.group(0)) for m in RAW_TIME.finditer(text)]
        problems += [(url, "key", m.group(0)) for m in RAW_KEY.finditer(keys_text(response.get_data(as_text=True)))]
        problems += [(url, "UTC time", stamp) for stamp in utc if stamp in text]
    assert problems == [], problems


def test_the_walk_sees_display_names_and_the_zone(app, history):
    """The guard above reads the right pages: the record names its people and its zone."""
    client = app.test_client()
    login(client, "zhao.compliance", "en")
    text = visible_text(client.get(f"/definitions/review/{history['approved']}/record").get_data(as_text=True))
    assert "孙设计 Sun" in text and "赵合规 Zhao" in text and "Asia/Shanghai (UTC+08:00)" in text
    with app.extensions["redress.db"].session() as s:
        assert s.scalar(select(User.display_name).where(User.username == "sun.designer")) == "孙设计 Sun"


def test_a_refusal_names_the_colleague_by_display_name(app, history):
    """"Already claimed by …" and its kind name the person, not the user name."""
    from processes.engine.errors import N_, Conflict
    from web.errors import problem_message

    with app.test_request_context("/"):
        message = problem_message(Conflict(N_("This task is already claimed by %(who)s."), who="zhou.lead"))
        machine = problem_message(Conflict(N_("This task is already claimed by %(who)s."), who="customer-portal"))
    assert "周主管 Zhou" in message and "zhou.lead" not in message
    assert "customer-portal" not in machine


def test_an_unknown_time_zone_shows_utc_and_says_so(app):
    from datetime import UTC, datetime

    from web.time_words import local_day, local_time, time_zone_label

    when = datetime(2026, 3, 1, 20, 30, tzinfo=UTC)
    with app.test_request_context("/"):
        assert (local_time(when), local_day(when)) == ("2026-03-02 04:30", "2026-03-02")  # Shanghai by default
        app.config["TIMEZONE"] = "Not/A_Zone"
        assert (local_time(when), time_zone_label()) == ("2026-03-01 20:30", "UTC (UTC+00:00)")
