"""The complaint file as people use it (issue 12, part A): phone intake in one step and the
tracking code, the case summary, the conversation and internal notes, duplicates linked by hand,
the customer's page, attachments with their previews. Through the HTML pages."""

from __future__ import annotations

import re

import pytest

from processes.complaints.registration import register
from tests.test_workspace_pages import PASSWORD, PHONE_COMPLAINT, app, login, open_task, text

__all__ = ["app"]


@pytest.fixture
def people(make_user):
    for username, department, role in [("agent", "customer_service", "agent"),
                                       ("senior", "customer_service", "senior_agent"),
                                       ("lead", "customer_service", "supervisor"),
                                       ("product", "product", "department_staff"),
                                       ("boss", "management", "manager")]:
        make_user(username, department, role, PASSWORD)


def test_phone_intake_is_the_registration_and_gives_a_tracking_code(app, client, people):
    login(client, "agent")
    form = {"channel": "phone", "customer_name": "赵敏", "customer_phone": "13600136000",
            "subject": "洗衣机漏水", "description": "新洗衣机第一次用就漏水。", "remedy_sought": "换新",
            "duplicates_checked": "on"}
    response = client.post("/complaints/new", data=form)
    assert response.status_code == 302
    reference = re.search(r"TS-\d{8}-\w{5}", response.headers["Location"]).group(0)
    page = text(client.get(response.headers["Location"]))
    code = re.search(r"[2-9A-HJKMNP-Z]{5}-[2-9A-HJKMNP-Z]{5}", page).group(0)
    assert reference in page and "/portal/find" in page
    # No "Register complaint" task repeats the form: the complaint goes on to classification.
    assert open_task(app, reference, "Task_Register") is None
    assert open_task(app, reference, "Task_Classify") is not None

    client.post("/logout")
    finder = app.test_client()
    assert "跟踪码" in text(finder.get("/portal/find"))
    wrong = finder.post("/portal/find", data={"reference": reference, "code": "22222-22222"})
    assert wrong.status_code == 404 and "不匹配" in text(wrong) and reference in text(wrong)
    bad = finder.post("/portal/find", data={"reference": reference, "code": "abc"})
    assert bad.status_code == 422 and 'id="e-code"' in text(bad)
    # Typed in lower case and with a space, as people do on the phone.
    found = finder.post("/portal/find", data={"reference": reference.lower(),
                                              "code": code.lower().replace("-", " ")})
    assert found.status_code == 302 and f"/portal/track/{reference}/{code}" in found.headers["Location"]
    track = text(finder.get(found.headers["Location"]))
    assert reference in track and "洗衣机漏水" in track


def test_the_tracking_code_page_is_rate_limited(app, people):
    app.config["PORTAL_RATE_LIMITS"] = {"find": (2, __import__("datetime").timedelta(hours=1))}
    reference = register(app.extensions["redress.runtime"], PHONE_COMPLAINT)
    client = app.test_client()
    for _ in range(2):
        assert client.post("/portal/find", data={"reference": reference, "code": "22222-22222"}).status_code == 404
    assert client.post("/portal/find", data={"reference": reference, "code": "22222-22222"}).status_code == 429


# -- helpers: work a task through its page --------------------------------------------------


def work(app, client, reference, bpmn_id, data):
    """Open the task page, fill its rendered controls with `data`, post it as the browser would."""
    from tests.test_complaint_pages import fill, task_form

    row = open_task(app, reference, bpmn_id)
    assert row is not None, f"{bpmn_id} is not open for {reference}"
    page = client.get(f"/tasks/{row.id}")
    assert page.status_code == 200
    response = client.post(f"/tasks/{row.id}", data=fill(task_form(text(page), bpmn_id), bpmn_id, data))
    assert response.status_code == 302, text(response)[:3000]
    return row


CLASSIFY = {"category": "product_quality", "severity": "medium", "safety_issue": False, "legitimacy": "justified"}


def test_a_confirmed_duplicate_is_linked_both_ways_and_the_customer_gets_the_original(app, client, people):
    runtime = app.extensions["redress.runtime"]
    original = register(runtime, PHONE_COMPLAINT, in_form=True)
    duplicate = register(runtime, {**PHONE_COMPLAINT, "subject": "电水壶底座又漏电"}, in_form=True)
    login(client, "senior")
    work(app, client, duplicate, "Task_Classify", CLASSIFY)
    work(app, client, duplicate, "Task_Review_Duplicate", {"is_duplicate": True, "duplicate_note": "同一订单"})

    page = text(client.get(f"/complaints/{duplicate}"))
    assert re.search(rf'class="duplicate-of">重复于 <a href="/complaints/{original}">', page)
    assert "由 senior 确认" in page and "已结案(重复投诉)" in page
    assert f'<a href="/complaints/{duplicate}">{duplicate}</a>' in text(client.get(f"/complaints/{original}"))
    # The customer reads, in their tracking page, under which reference the matter goes on.
    from tests.test_case_file_pages import tracking_page

    told = tracking_page(app, duplicate)
    assert f"我们已将其并入 {original} 一并处理" in told and "并入您此前的投诉处理" in told


def tracking_page(app, reference) -> str:
    from processes.channels.portal_models import add_token

    with app.extensions["redress.db"].write_session.begin() as s:
        add_token(s, reference, "t" * 43)
    return text(app.test_client().get(f"/portal/track/{reference}/{'t' * 43}"))


def test_a_supervisor_links_and_unlinks_by_hand_with_clear_errors(app, client, people):
    runtime = app.extensions["redress.runtime"]
    first = register(runtime, PHONE_COMPLAINT)
    second = register(runtime, {**PHONE_COMPLAINT, "customer": {"name": "钱七", "phone": "13500135000"},
                                "subject": "另一个问题"})
    login(client, "agent")
    assert "duplicate-link-form" not in text(client.get(f"/complaints/{second}"))
    assert client.post(f"/complaints/{second}/duplicate", data={"original": first}).status_code == 403

    login(client, "lead")
    for typed, message in [("", "请输入原投诉的编号"), (second, "不能是自身的重复"), ("TS-20000101-NOPE2", "没有此编号的投诉")]:
        response = client.post(f"/complaints/{second}/duplicate", data={"original": typed, "action": "link"})
        page = text(response)
        assert response.status_code == 422 and message in page, page[-3000:]
        assert f'value="{typed}"' in page  # what was typed stays
    response = client.post(f"/complaints/{second}/duplicate", data={"original": first.lower(), "action": "link"})
    assert response.status_code == 302
    assert "由 lead 确认" in text(client.get(f"/complaints/{second}"))
    assert f'href="/complaints/{second}"' in text(client.get(f"/complaints/{first}"))
    response = client.post(f"/complaints/{second}/duplicate", data={"action": "unlink"})
    assert response.status_code == 302
    assert f'href="/complaints/{second}"' not in text(client.get(f"/complaints/{first}"))
    assert "duplicate-of" not in text(client.get(f"/complaints/{second}"))


def to_senior_rehandle(app, client) -> str:
    """A complaint walked through the pages until the customer rejected the answer with a comment."""
    runtime = app.extensions["redress.runtime"]
    reference = register(runtime, {**PHONE_COMPLAINT, "customer": {"name": "孙八", "phone": "13300133000",
                                                                   "email": "sun@example.com"}}, in_form=True)
    login(client, "agent")
    work(app, client, reference, "Task_Classify", CLASSIFY)
    login(client, "product")
    work(app, client, reference, "Task_Investigate_Product",
         {"findings": "外壳完好,底座进水", "root_cause": "用户浸水清洗", "is_defect": False,
          "responsibility": "customer", "warranty_status": "in_warranty"})
    login(client, "lead")
    work(app, client, reference, "Task_Review_Strategy", {"override_strategy": False})
    login(client, "agent")
    work(app, client, reference, "Task_Draft_Rule_Answer", {"remedy": "repair", "answer": "免费维修底座"})
    runtime.correlate(reference, "customer_response", {"customer_decision": "reject", "comment": "希望换新"})
    return reference


def test_the_case_summary_on_the_task_page_and_the_file(app, client, people):
    reference = to_senior_rehandle(app, client)
    login(client, "senior")
    row = open_task(app, reference, "Task_Senior_Rehandle")
    page = text(client.get(f"/tasks/{row.id}"))
    summary = page.split('id="summary-heading"', 1)[1].split("</section>", 1)[0]
    assert re.search(r'责任方</dt><dd class="col-7">客户', summary)  # the department's responsibility finding
    for shown in ("产品部", "外壳完好,底座进水", "用户浸水清洗", "保修期内",  # the department's findings
                  "定性调解", "由 lead 确认",  # the strategy and who confirmed it
                  "免费维修底座", "不接受方案", "“希望换新”",  # the answer sent and the customer's reply
                  "第 2 级", "客户不接受答复",  # the escalation ladder
                  "资深专员重新处理"):  # the open task's clock
        assert shown in summary, shown
    # The same partial on the complaint file; a department outside customer service sees it too.
    login(client, "product")
    file_page = text(client.get(f"/complaints/{reference}"))
    assert "“希望换新”" in file_page and "用户浸水清洗" in file_page and "孙八" not in file_page


def test_the_case_summary_names_people_by_their_display_names(app, client, people):
    from sqlalchemy import update

    from processes.engine.models import User

    with app.extensions["redress.db"].write_session.begin() as s:
        for username, display_name in (("lead", "王组长"), ("product", "李工程师"), ("agent", "赵客服")):
            s.execute(update(User).where(User.username == username).values(display_name=display_name))
    reference = to_senior_rehandle(app, client)
    login(client, "senior")
    page = text(client.get(f"/tasks/{open_task(app, reference, 'Task_Senior_Rehandle').id}"))
    summary = page.split('id="summary-heading"', 1)[1].split("</section>", 1)[0]
    assert "由 王组长 确认" in summary and "由 lead 确认" not in summary  # who confirmed the strategy
    assert "李工程师" in summary and "赵客服" in summary  # who investigated, who classified and answered
    assert not re.search(r"\b(lead|product|agent)\b", re.sub(r"<[^>]+>", " ", summary))  # no user name shown


def test_the_conversation_thread_and_writing_to_the_customer(app, client, people):
    from sqlalchemy import func, select

    from processes.channels.portal_models import OutboundMessage
    from processes.complaints.records import Notification
    from processes.engine.models import AuditEntry

    reference = to_senior_rehandle(app, client)
    login(client, "agent")
    page = text(client.get(f"/complaints/{reference}"))
    thread = page.split('id="conversation-heading"', 1)[1].split("</ol>", 1)[0]
    order = [thread.index(piece) for piece in ("电水壶底座漏电", "受理回执", "免费维修底座", "“希望换新”")]
    assert order == sorted(order), "the thread is in time order"
    assert "来自客户" in thread and "发给客户" in thread and "电话" in thread

    def staff_messages():
        with app.extensions["redress.db"].session() as s:
            return s.scalar(select(func.count()).select_from(Notification)
                            .where(Notification.template == "staff_message"))

    empty = client.post(f"/complaints/{reference}/messages", data={"subject": "关于换新", "body": "  "})
    assert empty.status_code == 422 and 'id="msg-body-error">请先填写消息内容' in text(empty)
    assert 'value="关于换新"' in text(empty) and staff_messages() == 0  # kept, and nothing sent
    too_long = client.post(f"/complaints/{reference}/messages", data={"subject": "", "body": "长" * 5001})
    assert too_long.status_code == 422 and "当前为 5001 个" in text(too_long) and staff_messages() == 0

    sent = client.post(f"/complaints/{reference}/messages",
                       data={"subject": "关于换新", "body": "孙先生,换新需要主管批准,我们明天回复您。"})
    assert sent.status_code == 302 and staff_messages() == 1
    assert "换新需要主管批准" in text(client.get(f"/complaints/{reference}")).split('id="notes-heading"')[0]
    with app.extensions["redress.db"].session() as s:
        mail = s.scalars(select(OutboundMessage).where(OutboundMessage.template == "staff_message")).one()
        assert mail.to_address == "sun@example.com" and "换新需要主管批准" in mail.body
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.business_key == reference, AuditEntry.action == "customer_message_sent")) == 1
    assert "换新需要主管批准" in tracking_page(app, reference)

    login(client, "product")  # outside customer service: reads the thread, does not write to the customer
    page = text(client.get(f"/complaints/{reference}"))
    assert "换新需要主管批准" in page and "message-form" not in page
    assert client.post(f"/complaints/{reference}/messages", data={"body": "hi"}).status_code == 403


def test_internal_notes_mention_colleagues_and_never_reach_the_customer(app, client, people):
    from sqlalchemy import select

    from processes.complaints.records import Notification

    reference = register(app.extensions["redress.runtime"], PHONE_COMPLAINT, in_form=True)
    login(client, "agent")
    long_note = "查" * 2001
    refused = client.post(f"/complaints/{reference}/notes", data={"body": long_note})
    assert refused.status_code == 422 and "备注最多 2000 个字符,当前为 2001 个" in text(refused)
    assert long_note in text(refused)  # what was typed is kept
    unknown = client.post(f"/complaints/{reference}/notes", data={"body": "@nobody 请看"})
    assert unknown.status_code == 422 and "没有名为 @nobody 的在职同事" in text(unknown)
    assert client.post(f"/complaints/{reference}/notes", data={"body": ""}).status_code == 422

    saved = client.post(f"/complaints/{reference}/notes", data={"body": "@product 请看一下底座照片,疑似进水。"})
    assert saved.status_code == 302
    notes = text(client.get(f"/complaints/{reference}")).split('id="notes-heading"', 1)[1]
    assert "疑似进水" in notes and "agent" in notes
    with app.extensions["redress.db"].session() as s:
        [mention] = s.scalars(select(Notification).where(Notification.template == "mention")).all()
        assert (mention.recipient_type, mention.recipient, mention.business_key) == ("user", "product", reference)
    login(client, "product")
    assert "有人在备注中提到了您" in text(client.get("/notifications"))
    assert "疑似进水" not in tracking_page(app, reference)


def test_the_customers_page_and_a_repeat_complainant_goes_to_a_senior_agent(app, client, people):
    runtime = app.extensions["redress.runtime"]
    first = register(runtime, PHONE_COMPLAINT, in_form=True)
    # The same customer by e-mail, another phone number: still the same customer.
    again = {**PHONE_COMPLAINT, "customer": {"name": "张伟", "phone": "13900000001", "email": "zhangwei@example.com"},
             "subject": "烧水壶开关失灵"}
    second = register(runtime, again, in_form=True)
    classify = open_task(app, second, "Task_Classify")
    assert classify.candidate_group == "senior"  # routed to a senior agent
    assert open_task(app, first, "Task_Classify").candidate_group is None

    login(client, "agent")
    page = text(client.get(f"/tasks/{classify.id}"))
    assert "重复投诉客户" in page and "先处理情绪,后处理问题" in page
    assert f'href="/complaints/{second}/customer"' in page
    assert client.post(f"/tasks/{classify.id}/claim").status_code == 403  # an agent cannot take it
    login(client, "senior")
    assert client.post(f"/tasks/{classify.id}/claim").status_code == 302

    listing = text(client.get(f"/complaints/{second}/customer"))
    assert first in listing and second in listing and "电水壶底座漏电" in listing and "烧水壶开关失灵" in listing
    assert "13800138001" in listing or "13900000001" in listing  # customer service sees the customer in clear
    assert "该客户的全部投诉(2)" in text(client.get(f"/complaints/{second}"))
    login(client, "product")
    masked = text(client.get(f"/complaints/{second}/customer"))
    assert first in masked and "张*" in masked and "zhangwei@" not in masked and "13900000001" not in masked


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n%%EOF"


def test_attachments_show_who_and_when_and_preview_only_images_and_pdfs_sandboxed(app, client, people):
    import io

    reference = register(app.extensions["redress.runtime"], PHONE_COMPLAINT, in_form=True)
    login(client, "agent")
    work(app, client, reference, "Task_Classify", CLASSIFY)
    row = open_task(app, reference, "Task_Investigate_Product")
    login(client, "product")
    files = [(io.BytesIO(PNG), "photo.png"), (io.BytesIO(PDF), "report.pdf"),
             (io.BytesIO(b"<script>alert(1)</script>"), "evil.png"),
             (io.BytesIO(b"<html><script>alert(1)</script></html>"), "page.html")]
    response = client.post(f"/tasks/{row.id}", data={"action": "draft", "findings": "见照片", "evidence": files},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    page = text(client.get(f"/tasks/{row.id}"))
    listed = page.split('id="task-attachments-heading"', 1)[1].split("</section>", 1)[0]
    for name in ("photo.png", "report.pdf", "evil.png", "page.html"):
        assert name in listed
    assert listed.count("product 上传") == 4
    stored = {name: full for full, name in re.findall(r'/attachments/([0-9a-f]{12}-([\w.]+))/preview', listed)}
    assert set(stored) == {"photo.png", "report.pdf"}  # only these offer a preview
    assert 'class="attachment-preview' in listed  # the image is shown inline

    image = client.get(f"/complaints/{reference}/attachments/{stored['photo.png']}/preview")
    assert image.status_code == 200 and image.mimetype == "image/png" and image.data == PNG
    assert image.headers["Content-Security-Policy"].startswith("sandbox")
    assert image.headers["X-Content-Type-Options"] == "nosniff"
    assert image.headers["Content-Disposition"].startswith("inline")
    pdf = client.get(f"/complaints/{reference}/attachments/{stored['report.pdf']}/preview")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.headers["Content-Security-Policy"].startswith("sandbox")
    for name in re.findall(r'/attachments/([0-9a-f]{12}-(?:evil\.png|page\.html))"', listed):
        refused = client.get(f"/complaints/{reference}/attachments/{name}/preview")
        assert refused.status_code == 415 and b"<script>" not in refused.data  # never served as a page


def test_customer_files_preview_for_customer_service_only(app, client, people):
    from processes.channels.portal_models import Attachment

    reference = register(app.extensions["redress.runtime"], PHONE_COMPLAINT, in_form=True)
    with app.extensions["redress.db"].write_session.begin() as s:
        s.add(Attachment(reference=reference, filename="发票.png", content_type="image/png", size=len(PNG),
                         sha256="0" * 64, data=PNG, channel="web"))
        s.flush()
        file_id = s.query(Attachment).filter_by(reference=reference).one().id
    login(client, "agent")
    page = text(client.get(f"/complaints/{reference}"))
    assert "客户发送(网页表单)" in page and f"/customer-files/{file_id}/preview" in page
    preview = client.get(f"/complaints/{reference}/customer-files/{file_id}/preview")
    assert preview.status_code == 200 and preview.headers["Content-Security-Policy"].startswith("sandbox")
    login(client, "product")
    assert f"/customer-files/{file_id}/preview" not in text(client.get(f"/complaints/{reference}"))
    assert client.get(f"/complaints/{reference}/customer-files/{file_id}/preview").status_code == 403


def test_an_email_reply_with_its_attachment_joins_the_thread(app, client, people):
    from email.message import EmailMessage

    from processes.channels.mail_intake import ingest

    runtime = app.extensions["redress.runtime"]
    reference = register(runtime, {**PHONE_COMPLAINT, "customer": {"name": "周九", "email": "zhou@example.com",
                                                                   "phone": "13200132000"}}, in_form=True)
    message = EmailMessage()
    message["From"], message["To"] = "周九 <zhou@example.com>", "complaints@shop.example"
    message["Subject"], message["Message-ID"] = f"Re: {reference}", "<reply-1@example.com>"
    message.set_content("底座的照片在附件里。")
    message.add_attachment(PNG, maintype="image", subtype="png", filename="底座.png")
    assert ingest(runtime, message.as_bytes()).outcome == "attached"
    login(client, "agent")
    thread = text(client.get(f"/complaints/{reference}")).split('id="conversation-heading"', 1)[1]
    thread = thread.split("</ol>", 1)[0]
    reply = thread[thread.index("底座的照片在附件里"):]
    assert "底座.png" in reply.split("</li>", 1)[0]  # the file goes with the e-mail it came in
    assert "zhou@example.com" in thread and "电子邮件" in thread
    login(client, "product")
    masked = text(client.get(f"/complaints/{reference}")).split('id="conversation-heading"', 1)[1]
    assert "z***@example.com" in masked and "zhou@example.com" not in masked
