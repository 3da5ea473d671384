"""A customer files a complaint on the portal in Chinese, gets the acknowledgement by e-mail,
follows the link, accepts a mediation proposal, answers the survey and sees the case closed.

Staff steps run through the runtime facade; e-mail goes to a real local SMTP server."""

from __future__ import annotations

import re

import pytest

from processes.channels.outbound_mail import SmtpSettings
from tests.browser.conftest import screenshot
from tests.portal_support import fire_follow_up, smtp_server, staff_to_mediation  # noqa: F401 - fixture

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def portal(live_server, smtp_server):  # noqa: F811
    url, inbox = smtp_server
    live_server.runtime.mailer.smtp = SmtpSettings(url)
    live_server.runtime.settings["follow_up_wait"] = "PT1S"  # the survey follows the agreement at once
    return live_server, inbox


@pytest.mark.browser
def test_a_customer_files_follows_and_closes_a_complaint_in_chinese(portal, browser_page):
    base, inbox = portal
    runtime = base.runtime
    page = browser_page

    page.goto(base.url("/portal/"))
    assert page.locator("h1").inner_text() == "提交投诉"
    # Submitting without the consent keeps everything typed and says what is missing.
    page.fill("#f-name", "张三")
    page.fill("#f-phone", "13800138000")
    page.fill("#f-email", "zhang.san@example.com")
    page.fill("#f-subject", "洗衣机漏水")
    page.fill("#f-description", "新买的洗衣机第一次用就漏水,地板都泡了。")
    page.fill("#f-remedy_sought", "更换新机并赔偿地板损失")
    page.fill("#f-order_number", "SO-20250301-88")
    page.click("#submit-complaint")
    assert "请同意" in page.locator("#e-consent").inner_text()
    assert page.input_value("#f-description") == "新买的洗衣机第一次用就漏水,地板都泡了。"
    screenshot(page, "portal-form-errors")

    page.check("#f-consent")
    page.set_input_files("#f-attachments", files=[{"name": "漏水.png", "mimeType": "image/png", "buffer": PNG}])
    page.click("#submit-complaint")
    page.wait_for_url("**/portal/submitted")
    reference = page.locator("#reference").inner_text().strip()
    link = page.locator("#tracking-link").inner_text().strip()
    assert re.fullmatch(r"TS-\d{8}-\w{5}", reference)
    screenshot(page, "portal-submitted")

    # The acknowledgement e-mail carries the reference and the same private link.
    [acknowledgement] = inbox.wait_for(1)
    assert acknowledgement["to"] == ["zhang.san@example.com"]
    assert reference in acknowledgement["subject"] and link in acknowledgement["body"]

    page.goto(link)
    assert page.locator("#reference").inner_text() == reference
    assert "已受理" in page.locator("#status").inner_text()
    assert "漏水.png" in page.content()
    screenshot(page, "portal-tracking-acknowledged")

    staff_to_mediation(runtime, reference, proposal="我们为您更换新机,并补偿地板清洁费 300 元。", amount=300)
    assert "调解方案" in inbox.wait_for(2)[1]["subject"]
    page.reload()
    assert "补偿地板清洁费" in page.locator("#proposal").inner_text()
    screenshot(page, "portal-tracking-proposal")
    page.check("#decision-accept")
    page.fill("#f-comment", "同意这个方案")
    page.click("#response-title ~ form button[type=submit]")
    assert "谢谢" in page.locator(".alert-success").inner_text()

    fire_follow_up(runtime, reference)
    assert "满意度调查" in inbox.wait_for(3)[2]["subject"]
    page.reload()
    page.check("#score-5")
    page.check("#resolved-yes")
    page.fill("#survey-title ~ form #f-comment", "处理得很快,谢谢")
    page.click("#survey-title ~ form button[type=submit]")
    assert page.locator("#status").get_attribute("data-status") == "closed"
    assert "已处理完毕并结案" in page.locator("#status").inner_text()
    timeline = page.locator("#timeline").inner_text()
    assert "同意这个方案" in timeline and "评分 5/5" in timeline
    screenshot(page, "portal-tracking-closed")

    # Someone with a guessed token sees only "not found".
    page.goto(base.url(f"/portal/track/{reference}/{'A' * 43}"))
    assert "找不到这个投诉" in page.content() and "洗衣机漏水" not in page.content()
