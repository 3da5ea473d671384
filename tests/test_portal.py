"""The customer portal: filing, tracking and answering, as a customer would use it."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from processes.channels.portal_models import (
    Attachment,
    OutboundMessage,
    RateLimitHit,
    TrackingToken,
    rate_limited,
)
from processes.complaints.records import Complaint
from processes.engine.models import utcnow
from tests.portal_support import fire_follow_up, make_app, staff_to_mediation, staff_to_response

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
FORM = {"name": "张三", "phone": "13800138000", "email": "zhang@example.com", "subject": "手机屏幕三天就坏了",
        "description": "新买的手机用了三天屏幕就出现条纹。", "remedy_sought": "换一台新手机",
        "product": "X1 手机", "order_number": "SO-1001", "occurred_at": "2025-03-01", "consent": "yes"}


@pytest.fixture
def portal_app(shipped_url, tmp_path):
    app = make_app(shipped_url, tmp_path)
    yield app
    app.extensions["redress.db"].dispose()


@pytest.fixture
def customer(portal_app):
    return portal_app.test_client()


def _count(app, model) -> int:
    with app.extensions["redress.db"].session() as s:
        return s.scalar(select(func.count()).select_from(model))


def _file(app, extra: dict | None = None, client=None, **kw):
    client = client or app.test_client()
    response = client.post("/portal/", data={**FORM, **(extra or {})}, content_type="multipart/form-data", **kw)
    assert response.status_code == 302, response.get_data(as_text=True)
    page = client.get("/portal/submitted").get_data(as_text=True)
    reference = re.search(r'id="reference">([^<]+)<', page).group(1)
    link = re.search(r'id="tracking-link"[^>]*href="([^"]+)"', page).group(1)
    assert link.startswith("http://portal.test/portal/track/")
    return reference, link.replace("http://portal.test", "")


def test_the_form_is_in_chinese_by_default_and_in_english_on_request(customer):
    chinese = customer.get("/portal/").get_data(as_text=True)
    assert "提交投诉" in chinese and "我同意" in chinese
    english = customer.get("/portal/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "File a complaint" in english and "I agree" in english
    # Customers never see the staff navigation.
    assert "Inbox" not in english and "收件箱" not in chinese


def test_filing_shows_the_reference_and_a_private_link_that_opens_the_complaint(portal_app, customer):
    reference, link = _file(portal_app, {"attachments": (io.BytesIO(PNG), "屏幕.png")}, client=customer)
    assert re.fullmatch(r"TS-\d{8}-[2-9A-Z]{5}", reference)
    token = link.rsplit("/", 1)[1]
    assert len(token) >= 40

    page = customer.get(link).get_data(as_text=True)
    assert reference in page and "手机屏幕三天就坏了" in page
    assert "您的投诉已受理" in page  # status in plain words
    assert "最终答复" in page  # the time limit
    assert "屏幕.png" in page
    with portal_app.extensions["redress.db"].session() as s:
        complaint = s.scalar(select(Complaint).where(Complaint.reference == reference))
        assert complaint.channel == "web" and complaint.customer_email == "zhang@example.com"
        row = s.scalar(select(TrackingToken).where(TrackingToken.reference == reference))
        assert token not in row.token_sha256 and len(row.token_sha256) == 64  # only the hash is kept
        attachment = s.scalar(select(Attachment).where(Attachment.reference == reference))
        assert attachment.content_type == "image/png" and attachment.data == PNG


def test_without_smtp_the_acknowledgement_with_the_link_waits_in_the_outbox(portal_app):
    reference, link = _file(portal_app)
    with portal_app.extensions["redress.db"].session() as s:
        message = s.scalar(select(OutboundMessage).where(OutboundMessage.reference == reference))
    assert message.status == "outbox" and message.template == "acknowledgement"
    assert message.to_address == "zhang@example.com"
    assert reference in message.subject and "http://portal.test" + link in message.body


def test_missing_fields_are_explained_and_what_was_typed_is_kept(portal_app, customer):
    data = {**FORM, "email": "", "phone": "", "remedy_sought": "", "consent": ""}
    response = customer.post("/portal/", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "请至少留下电话或电子邮箱" in page and "请同意" in page and "请告诉我们您希望如何解决" in page
    assert 'value="手机屏幕三天就坏了"' in page and "新买的手机用了三天屏幕就出现条纹。" in page
    assert _count(portal_app, Complaint) == 0


def test_a_wrong_file_type_is_refused_before_anything_is_stored(portal_app, customer):
    fake = (io.BytesIO(b"MZ\x90\x00 this is an exe"), "发票.pdf")
    response = customer.post("/portal/", data={**FORM, "attachments": fake}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "类型不支持" in response.get_data(as_text=True)
    assert _count(portal_app, Complaint) == 0 and _count(portal_app, Attachment) == 0


def test_an_oversized_file_is_refused(portal_app, customer):
    big = (io.BytesIO(b"%PDF-" + b"0" * (5 * 1024 * 1024)), "big.pdf")
    response = customer.post("/portal/", data={**FORM, "attachments": big}, content_type="multipart/form-data")
    assert response.status_code == 422 and "超过 5 MB" in response.get_data(as_text=True)
    assert _count(portal_app, Complaint) == 0


def test_the_honeypot_stops_robots(portal_app, customer):
    response = customer.post("/portal/", data={**FORM, "website": "http://spam.example"})
    assert response.status_code == 400
    assert _count(portal_app, Complaint) == 0


def test_too_many_submissions_from_one_address_are_refused(portal_app):
    portal_app.config["PORTAL_RATE_LIMITS"] = {"submit": (2, timedelta(hours=1))}
    portal_app.config["HOTLINE"] = "400-820-0000"
    client = portal_app.test_client()
    for _ in range(3):  # a refused form does not count: only complaints taken do
        assert client.post("/portal/", data={**FORM, "subject": ""}).status_code == 422
    for _ in range(2):
        _file(portal_app, client=client)
    response = client.post("/portal/", data=FORM)
    page = response.get_data(as_text=True)
    assert response.status_code == 429 and "400-820-0000" in page
    assert FORM["description"] in page and FORM["subject"] in page  # what the customer typed is kept
    assert _count(portal_app, Complaint) == 2
    # Another address is not affected.
    other = client.post("/portal/", data=FORM, environ_base={"REMOTE_ADDR": "198.51.100.9"})
    assert other.status_code == 302


def test_the_rate_limit_window_slides(portal_app):
    db = portal_app.extensions["redress.db"]
    start = utcnow()
    with db.session() as s, s.begin():
        assert not rate_limited(s, "b", 1, timedelta(minutes=1), now=start)
        assert rate_limited(s, "b", 1, timedelta(minutes=1), now=start + timedelta(seconds=30))
        assert not rate_limited(s, "b", 1, timedelta(minutes=1), now=start + timedelta(minutes=2))
    assert _count(portal_app, RateLimitHit) == 1  # old hits are pruned


def test_wrong_expired_and_unknown_look_the_same(portal_app, customer):
    reference, link = _file(portal_app)
    token = link.rsplit("/", 1)[1]
    wrong = customer.get(f"/portal/track/{reference}/{'x' * 43}")
    unknown = customer.get(f"/portal/track/TS-20200101-ABCDE/{token}")
    assert wrong.status_code == unknown.status_code == 404
    assert _without_csrf(wrong) == _without_csrf(unknown)
    assert reference not in wrong.get_data(as_text=True)
    with portal_app.extensions["redress.db"].session() as s, s.begin():
        s.execute(update(TrackingToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    expired = customer.get(link)
    assert expired.status_code == 404 and _without_csrf(expired) == _without_csrf(unknown)


def _without_csrf(response) -> str:
    """The page without its CSRF token, which carries the second it was made in."""
    return re.sub(r'name="csrf_token"[^>]*value="[^"]*"', 'name="csrf_token"', response.get_data(as_text=True))


def test_another_complaints_reference_with_my_token_shows_nothing(portal_app):
    _mine, my_link = _file(portal_app)
    theirs, _ = _file(portal_app, {"name": "李四", "subject": "别人的投诉"})
    token = my_link.rsplit("/", 1)[1]
    response = portal_app.test_client().get(f"/portal/track/{theirs}/{token}")
    assert response.status_code == 404 and "别人的投诉" not in response.get_data(as_text=True)


def test_the_customer_accepts_a_mediation_proposal_and_answers_the_survey(portal_app, customer):
    runtime = portal_app.extensions["redress.runtime"]
    reference, link = _file(portal_app)
    staff_to_mediation(runtime, reference)

    page = customer.get(link).get_data(as_text=True)
    assert "调解方案" in page and "退还一半货款" in page and "150" in page
    assert "请在" in page and "逾期未答复将由管理层决定" in page  # the answer is due by a date

    # Incomplete answer: a clear error, nothing delivered.
    response = customer.post(f"{link}/customer_response", data={"customer_decision": "counter", "comment": "再考虑"})
    assert response.status_code == 422 and "请写下您的方案" in response.get_data(as_text=True)
    assert "再考虑" in response.get_data(as_text=True)
    assert "customer_response" in runtime.instance_for(reference).awaiting

    response = customer.post(f"{link}/customer_response", data={"customer_decision": "accept", "comment": "可以"})
    assert response.status_code == 302
    assert "谢谢" in customer.get(link).get_data(as_text=True)

    # Answering again: a polite explanation, not an error page.
    again = customer.post(f"{link}/customer_response", data={"customer_decision": "reject"})
    assert again.status_code == 409 and "没有在等待这项答复" in again.get_data(as_text=True)

    fire_follow_up(runtime, reference)
    page = customer.get(link).get_data(as_text=True)
    assert "满意度调查" in page
    bad = customer.post(f"{link}/survey_answer", data={"satisfaction_score": "9"})
    assert bad.status_code == 422 and "1 到 5" in bad.get_data(as_text=True)
    customer.post(f"{link}/survey_answer", data={"satisfaction_score": "5", "resolved": "yes", "comment": "很好"})

    page = customer.get(link).get_data(as_text=True)
    assert "已处理完毕并结案" in page
    assert "评分 5/5" in page and "接受" in page  # the messages exchanged
    assert "zhao.supervisor" not in page  # no staff names


def test_missing_details_are_asked_for_and_supplied_on_the_tracking_page(portal_app):
    runtime = portal_app.extensions["redress.runtime"]
    from processes.channels.portal_models import IntakeExtras, intake_extras, new_token
    from processes.complaints.registration import register

    token = new_token()
    with intake_extras(IntakeExtras(channel="web", token=token)):
        reference = register(runtime, {"channel": "web", "customer": {"name": "王五", "email": "w@example.com"},
                                       "subject": "退款没到账", "description": "十天了还没收到退款"})
    link = f"/portal/track/{reference}/{token}"
    client = portal_app.test_client()
    page = client.get(link).get_data(as_text=True)
    assert "请补充以下信息" in page and "您希望我们如何解决" in page
    assert "逾期未补充" in page

    response = client.post(f"{link}/customer_details", data={"remedy_sought": "尽快退款"})
    assert response.status_code == 302
    with portal_app.extensions["redress.db"].session() as s:
        assert s.scalar(select(Complaint.status).where(Complaint.reference == reference)) == "acknowledged"
    assert "尽快退款" in client.get(link).get_data(as_text=True)


def test_the_customer_rejects_a_response_in_english(portal_app):
    runtime = portal_app.extensions["redress.runtime"]
    client = portal_app.test_client()
    client.post("/language", data={"locale": "en", "next": "/portal/"})
    reference, link = _file(portal_app, client=client)
    staff_to_response(runtime, reference)
    page = client.get(link).get_data(as_text=True)
    assert "Our answer" in page and "免费更换新机" in page and "I reject it" in page
    response = client.post(f"{link}/customer_response", data={"customer_decision": "reject", "comment": "Not enough"})
    assert response.status_code == 302
    assert "Thank you" in client.get(link).get_data(as_text=True)
    assert runtime.instance_for(reference).awaiting == []  # escalated to a senior specialist


def test_a_lost_link_is_sent_again_only_to_the_address_on_file(portal_app):
    reference, _ = _file(portal_app)
    client = portal_app.test_client()
    same = client.post("/portal/lost-link", data={"reference": reference, "email": "ZHANG@example.com"})
    other = client.post("/portal/lost-link", data={"reference": reference, "email": "eve@example.com"})
    assert _without_csrf(same) == _without_csrf(other)
    with portal_app.extensions["redress.db"].session() as s:
        links = s.scalars(select(OutboundMessage).where(OutboundMessage.template == "tracking_link")).all()
    assert [m.to_address for m in links] == ["zhang@example.com"]
    new_link = re.search(r"http://portal.test(/portal/track/\S+)", links[0].body).group(1)
    assert client.get(new_link).status_code == 200


def test_when_the_process_cannot_start_the_customer_keeps_the_form_and_nothing_is_saved(database_url, tmp_path):
    from web import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "t", "WTF_CSRF_ENABLED": False})
    try:  # no process deployed
        response = app.test_client().post("/portal/", data=FORM)
        page = response.get_data(as_text=True)
        assert response.status_code == 503 and "什么都没有保存" in page and 'value="手机屏幕三天就坏了"' in page
        assert _count(app, Complaint) == 0 and _count(app, TrackingToken) == 0
    finally:
        app.extensions["redress.db"].dispose()


def test_staff_see_and_download_what_the_customer_sent(app, client):
    """A file the customer attached on the portal appears in the staff complaint file."""
    from processes.channels.portal_models import Attachment
    from processes.engine.definitions import read_files
    from processes.engine.users import add_user
    from tests.conftest import ROOT

    runtime = app.extensions["redress.runtime"]
    runtime.deploy(read_files(ROOT, "bpmn", "forms"))
    from processes.complaints.registration import register

    reference = register(runtime, {"channel": "web", "customer": {"name": "王芳", "phone": "13800138000"},
                                   "subject": "漏水", "description": "底座漏水"})
    db = app.extensions["redress.db"]
    with db.write_session.begin() as s:
        s.add(Attachment(reference=reference, filename="photo.png", content_type="image/png", size=4,
                         sha256="0" * 64, data=b"\x89PNG", channel="web"))
        add_user(s, "cs1", "customer_service", "agent", "pw-12345678")
    client.post("/login", data={"username": "cs1", "password": "pw-12345678"})
    page = client.get(f"/complaints/{reference}").get_data(as_text=True)
    assert "photo.png" in page
    with db.session() as s:
        file_id = s.query(Attachment.id).scalar()
    download = client.get(f"/complaints/{reference}/customer-files/{file_id}")
    assert download.status_code == 200 and download.data == b"\x89PNG"
    assert client.get(f"/complaints/OTHER-REF/customer-files/{file_id}").status_code == 404


def test_unknown_host_names_are_refused(client):
    """Links in e-mails are built from the host; a forged Host header gets no page at all."""
    assert client.get("/portal/", headers={"Host": "evil.example"}).status_code == 400
    assert client.get("/portal/").status_code == 200
