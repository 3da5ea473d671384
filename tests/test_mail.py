"""E-mail in and out: a real local SMTP server receives what the process sends; raw messages
and mboxes become complaints; replies land on the complaint they answer."""

from __future__ import annotations

import re
from datetime import timedelta
from email.message import EmailMessage

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from processes.app import build_runtime
from processes.channels.mail_intake import ingest, parse_message, split_mbox
from processes.channels.portal_models import (
    Attachment,
    InboundMessage,
    IntakeExtras,
    OutboundMessage,
    intake_extras,
)
from processes.complaints.records import Complaint, Notification
from processes.complaints.registration import register
from processes.engine.models import AuditEntry, utcnow
from tests.portal_support import (
    fire_follow_up,
    free_port,
    make_app,
    smtp_server,  # noqa: F401 - fixture
    staff_to_mediation,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
COMPLAINT = {"channel": "api", "customer": {"name": "张三", "email": "zhang@example.com", "phone": "13800138000"},
             "subject": "耳机左声道没声音", "description": "收到就坏", "remedy_sought": "退货"}


@pytest.fixture
def mail_app(shipped_url, tmp_path, smtp_server):  # noqa: F811
    url, inbox = smtp_server
    app = make_app(shipped_url, tmp_path, SMTP_URL=url, MAIL_FROM="客服 <service@shop.example>")
    app.inbox = inbox
    yield app
    app.extensions["redress.db"].dispose()


def _messages(app, **where):
    with app.extensions["redress.db"].session() as s:
        query = select(OutboundMessage).order_by(OutboundMessage.id)
        for key, value in where.items():
            query = query.where(getattr(OutboundMessage, key) == value)
        return list(s.scalars(query))


def _raw(sender="李四 <li.si@example.com>", subject="快递丢件", body="我的包裹显示签收但没收到。", files=()):
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "complaints@shop.example"
    message["Subject"] = subject
    message["Message-ID"] = "<abc@example.com>"
    message.set_content(body)
    for name, data, maintype, subtype in files:
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes()


def test_the_acknowledgement_reaches_the_customer_after_the_commit(mail_app):
    runtime = mail_app.extensions["redress.runtime"]
    with intake_extras(IntakeExtras(channel="api", language="zh-CN")):
        reference = register(runtime, COMPLAINT)
    received = mail_app.inbox.wait_for(1)
    assert len(received) == 1
    mail = received[0]
    assert mail["to"] == ["zhang@example.com"]
    assert reference in mail["subject"] and "投诉已受理" in mail["subject"]
    assert "张三您好" in mail["body"]
    assert "service@shop.example" in mail["from"]
    link = re.search(r"http://portal\.test(/portal/track/\S+)", mail["body"]).group(1)
    assert mail_app.test_client().get(link).status_code == 200

    [row] = _messages(mail_app)
    assert row.status == "sent" and row.sent_at is not None
    assert link.rsplit("/", 1)[1] not in row.body  # once sent, the stored copy loses the token


def test_english_customers_get_english_mail_and_a_mediation_proposal(mail_app):
    runtime = mail_app.extensions["redress.runtime"]
    with intake_extras(IntakeExtras(channel="api", language="en")):
        reference = register(runtime, COMPLAINT)
    staff_to_mediation(runtime, reference, proposal="We refund half the price.", amount=80)
    received = mail_app.inbox.wait_for(2)
    assert [m["subject"] for m in received] == [f"Complaint received: {reference}",
                                                f"Mediation proposal for {reference}"]
    assert "We refund half the price." in received[1]["body"] and "CNY 80" in received[1]["body"]
    # The proposal mail carries its own working link.
    link = re.search(r"http://portal\.test(/portal/track/\S+)", received[1]["body"]).group(1)
    page = mail_app.test_client().get(link, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "We refund half the price." in page


def test_the_survey_mail_goes_out_when_the_follow_up_timer_fires(mail_app):
    runtime = mail_app.extensions["redress.runtime"]
    reference = register(runtime, COMPLAINT)
    staff_to_mediation(runtime, reference)
    runtime.correlate(reference, "customer_response", {"customer_decision": "accept"})
    fire_follow_up(runtime, reference)
    subjects = [m["subject"] for m in mail_app.inbox.wait_for(3)]
    assert subjects == [f"投诉已受理:{reference}", f"调解方案:{reference}", f"满意度调查:{reference}"]


def test_a_failed_send_never_undoes_the_step_and_is_retried(shipped_url, tmp_path, smtp_server):  # noqa: F811
    url, inbox = smtp_server
    dead = f"smtp://127.0.0.1:{free_port()}"  # nothing listens here
    app = make_app(shipped_url, tmp_path, SMTP_URL=dead)
    runtime = app.extensions["redress.runtime"]
    try:
        reference = register(runtime, COMPLAINT)
        with app.extensions["redress.db"].session() as s:
            assert s.scalar(select(Complaint.status).where(Complaint.reference == reference)) == "acknowledged"
        [row] = _messages(app)
        assert row.status == "pending" and row.attempts == 1 and row.last_error
        assert row.next_attempt_at > utcnow()

        # The server is back; once the back-off has passed the retry delivers it.
        from processes.channels.outbound_mail import SmtpSettings

        runtime.mailer.smtp = SmtpSettings(url)
        assert runtime.mailer.deliver_due() == 0  # not due yet
        with app.extensions["redress.db"].session() as s, s.begin():
            s.execute(update(OutboundMessage).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        assert runtime.mailer.deliver_due() == 1
        assert inbox.wait_for(1)[0]["to"] == ["zhang@example.com"]
        [row] = _messages(app)
        assert row.status == "sent" and row.attempts == 2
    finally:
        app.extensions["redress.db"].dispose()


def test_a_message_that_keeps_failing_is_given_up_after_the_last_attempt(shipped_url, tmp_path):
    from processes.channels.outbound_mail import MAX_ATTEMPTS

    app = make_app(shipped_url, tmp_path, SMTP_URL=f"smtp://127.0.0.1:{free_port()}")
    runtime = app.extensions["redress.runtime"]
    try:
        register(runtime, COMPLAINT)
        for _ in range(MAX_ATTEMPTS):
            with app.extensions["redress.db"].session() as s, s.begin():
                s.execute(update(OutboundMessage).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
            runtime.mailer.deliver_due()
        [row] = _messages(app)
        assert row.status == "failed" and row.attempts == MAX_ATTEMPTS
    finally:
        app.extensions["redress.db"].dispose()


def test_a_customer_without_email_gets_no_mail_but_nothing_breaks(mail_app):
    runtime = mail_app.extensions["redress.runtime"]
    reference = register(runtime, {**COMPLAINT, "customer": {"name": "赵六", "phone": "13900139000"}})
    [row] = _messages(mail_app)
    assert row.status == "skipped" and row.reference == reference
    assert mail_app.inbox.messages == []


# -- inbound -------------------------------------------------------------------------------


def test_an_email_becomes_a_complaint_with_its_attachment_and_is_acknowledged(mail_app):
    runtime = mail_app.extensions["redress.runtime"]
    raw = _raw(files=[("签收单.png", PNG, "image", "png"), ("virus.exe", b"MZ\x90", "application", "octet-stream")])
    result = ingest(runtime, raw)
    assert result.outcome == "registered" and result.skipped_files
    with mail_app.extensions["redress.db"].session() as s:
        complaint = s.scalar(select(Complaint).where(Complaint.reference == result.reference))
        assert complaint.channel == "email" and complaint.customer_name == "李四"
        assert complaint.customer_email == "li.si@example.com" and complaint.subject == "快递丢件"
        assert "签收但没收到" in complaint.description
        names = s.scalars(select(Attachment.filename).where(Attachment.reference == result.reference)).all()
        assert names == ["签收单.png"]
    # No remedy was stated, so the customer is asked for it by mail.
    received = mail_app.inbox.wait_for(1)
    assert received[0]["to"] == ["li.si@example.com"] and "请补充投诉信息" in received[0]["subject"]
    assert "您的诉求" in received[0]["body"]


def test_a_reply_with_the_reference_is_attached_to_the_existing_complaint(mail_app):
    runtime = mail_app.extensions["redress.runtime"]
    reference = register(runtime, COMPLAINT)
    raw = _raw(sender="zhang@example.com", subject=f"Re: 投诉已受理:{reference}",
               body="补充一下:订单号是 SO-778。\n\n> 我们已收到您的投诉")
    result = ingest(runtime, raw)
    assert result.outcome == "attached" and result.reference == reference
    with mail_app.extensions["redress.db"].session() as s:
        assert s.scalar(select(func.count()).select_from(Complaint)) == 1
        message = s.scalar(select(InboundMessage))
        assert message.body == "补充一下:订单号是 SO-778。"  # the quoted original is left out
        note = s.scalar(select(Notification).where(Notification.template == "customer_email"))
        assert note.recipient_type == "department" and note.payload["sender_matches"] is True
        assert s.scalar(select(AuditEntry).where(AuditEntry.action == "customer_email_received")) is not None


def test_an_unknown_reference_in_the_subject_opens_a_new_complaint(mail_app):
    result = ingest(mail_app.extensions["redress.runtime"], _raw(subject="Re: TS-20200101-ABCDE 还没处理"))
    assert result.outcome == "registered" and result.reference != "TS-20200101-ABCDE"


def test_a_message_without_a_sender_is_refused(mail_app):
    result = ingest(mail_app.extensions["redress.runtime"], b"Subject: hi\n\nno sender\n")
    assert result.outcome == "rejected" and "from" in result.errors


def test_html_only_and_encoded_messages_are_read():
    message = EmailMessage()
    message["From"] = "=?utf-8?b?546L5LqU?= <wang@example.com>"
    message["Subject"] = "=?utf-8?b?5ZSu5ZCO5oCB5bqm5beu?="
    message.set_content("<p>客服<b>态度</b>很差</p><script>x()</script>", subtype="html", cte="base64")
    mail = parse_message(message.as_bytes())
    assert mail.sender_name == "王五" and mail.subject == "售后态度差"
    assert "客服态度很差" in mail.body.replace("\n", "") and "x()" not in mail.body


def test_an_mbox_is_split_into_its_messages():
    first, second = _raw(subject="第一封", body="From the start\n"), _raw(subject="第二封")
    mbox = b"From a@b Sat Mar  1 10:00:00 2025\n" + first.replace(b"\nFrom the", b"\n>From the") + \
        b"\nFrom c@d Sat Mar  1 11:00:00 2025\n" + second
    messages = [parse_message(m) for m in split_mbox(mbox)]
    assert [m.subject for m in messages] == ["第一封", "第二封"]
    assert messages[0].body.startswith("From the start")


def test_the_cli_ingests_an_mbox_from_standard_input(database_url, shipped_url, tmp_path, monkeypatch):
    app = make_app(shipped_url, tmp_path)
    app.extensions["redress.db"].dispose()
    monkeypatch.setenv("REDRESS_DATABASE_URL", database_url)
    monkeypatch.delenv("REDRESS_SMTP_URL", raising=False)
    from web.cli import main

    mbox = b"From a@b Sat Mar  1 10:00:00 2025\n" + _raw() + b"\nFrom c@d Sat Mar  1 11:00:00 2025\n" + \
        _raw(sender="", subject="无发件人")
    result = CliRunner().invoke(main, ["ingest-mail", "-"], input=mbox)
    assert result.exit_code == 1  # the second message has no sender
    assert re.search(r"message 1: registered TS-\d{8}-\w{5}", result.output)
    assert "message 2: not registered" in result.output

    outbox = CliRunner().invoke(main, ["mail", "outbox"])
    assert outbox.exit_code == 0 and "request_details -> li.si@example.com" in outbox.output


def test_mail_send_picks_up_notifications_written_without_a_mailer(database_url, shipped_url, tmp_path, monkeypatch,
                                                                   smtp_server):  # noqa: F811
    from processes.engine.database import Database
    from web.cli import main

    url, inbox = smtp_server
    app = make_app(shipped_url, tmp_path)
    app.extensions["redress.db"].dispose()
    bare = build_runtime(db=Database(database_url), mail=False)  # e.g. a worker started before mail was configured
    reference = register(bare, COMPLAINT)
    bare.db.dispose()
    monkeypatch.setenv("REDRESS_DATABASE_URL", database_url)
    monkeypatch.setenv("REDRESS_SMTP_URL", url)
    monkeypatch.setenv("REDRESS_PUBLIC_URL", "https://complaints.example/")
    result = CliRunner().invoke(main, ["mail", "send"])
    assert result.exit_code == 0, result.output
    assert "queued 1 message(s)" in result.output and "sent 1 message(s)" in result.output
    [mail] = inbox.wait_for(1)
    assert reference in mail["subject"] and f"https://complaints.example/portal/track/{reference}/" in mail["body"]


def test_senders_in_parallel_never_send_a_message_twice(mail_app):
    import threading

    runtime = mail_app.extensions["redress.runtime"]
    mailer = runtime.mailer
    with mail_app.extensions["redress.db"].write_session() as s, s.begin():
        for n in range(12):
            s.add(OutboundMessage(reference=None, template="notice", to_address=f"c{n}@example.com",
                                  subject=f"#{n}", body="hello", status="pending"))
    threads = [threading.Thread(target=mailer.deliver_due) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    received = mail_app.inbox.wait_for(12)
    assert sorted(m["subject"] for m in received) == sorted(f"#{n}" for n in range(12))
    assert all(m.status == "sent" and m.attempts == 1 for m in _messages(mail_app))


def test_admin_sees_the_outbox_and_others_do_not(app, client):
    from processes.channels.portal_models import OutboundMessage
    from processes.engine.users import add_user

    db = app.extensions["redress.db"]
    with db.write_session.begin() as s:
        s.add(OutboundMessage(reference="TS-1", template="acknowledgement", to_address="c@example.com",
                              subject="已受理 TS-1", body="...", status="outbox"))
        s.add(OutboundMessage(reference="TS-2", template="acknowledgement", to_address="d@example.com",
                              subject="已受理 TS-2", body="...", status="sent"))
        add_user(s, "root", "management", "admin", "pw-12345678")
        add_user(s, "cs1", "customer_service", "agent", "pw-12345678")
    client.post("/login", data={"username": "cs1", "password": "pw-12345678"})
    assert client.get("/admin/outbox").status_code == 403
    client.post("/logout")
    client.post("/login", data={"username": "root", "password": "pw-12345678"})
    page = client.get("/admin/outbox").get_data(as_text=True)
    assert "已受理 TS-1" in page and "c@example.com" in page
    waiting = client.get("/admin/outbox?status=outbox").get_data(as_text=True)
    assert "已受理 TS-1" in waiting and "已受理 TS-2" not in waiting
