"""Issue 12's browser test: a customer rejects an answer on the portal with a comment; the senior
agent who gets the complaint sees that comment on the task page, writes the next answer from a
template, previews it in Chinese and sends it; the customer sees it on the tracking page in
Chinese only, with ¥ and two decimals.

The steps before the first answer run through the runtime facade (other tests walk them)."""

from __future__ import annotations

import re

import pytest

from processes.complaints.demo import worker_for
from tests.browser.conftest import login, screenshot
from tests.portal_support import task

COMMENT = "维修太慢了,希望换新"


def staff_first_answer(runtime, reference: str) -> None:
    """Classify, investigate (out of warranty), confirm, answer under the policy: a paid repair."""
    steps = [("Task_Classify", {"category": "product_quality", "severity": "medium", "safety_issue": False,
                                "legitimacy": "justified"}),
             ("Task_Investigate_Product", {"findings": "压缩机噪音超标", "root_cause": "安装不当", "is_defect": False,
                                           "responsibility": "customer", "warranty_status": "out_of_warranty"}),
             ("Task_Review_Strategy", {"override_strategy": False}),
             ("Task_Draft_Rule_Answer", {"remedy": "paid_service", "answer": "您好:产品已过保修期,可为您提供付费维修。"})]
    for bpmn_id, data in steps:
        row = task(runtime, reference, bpmn_id)
        runtime.complete(row.id, worker_for(row), data)


@pytest.mark.browser
def test_a_rejected_answer_is_answered_again_from_a_template_in_chinese(live_server, new_page):
    base, runtime = live_server, live_server.runtime
    customer = new_page("zh-CN")

    customer.goto(base.url("/portal/"))
    customer.fill("#f-name", "张三")
    customer.fill("#f-phone", "13800138000")
    customer.fill("#f-subject", "冰箱噪音大")
    customer.fill("#f-description", "冰箱运行时噪音很大,晚上睡不着。")
    customer.fill("#f-remedy_sought", "换新")
    customer.check("#f-consent")
    customer.click("#submit-complaint")
    customer.wait_for_url("**/portal/submitted")
    reference = customer.locator("#reference").inner_text().strip()
    link = customer.locator("#tracking-link").inner_text().strip()

    staff_first_answer(runtime, reference)
    customer.goto(link)
    assert "付费维修" in customer.locator("#proposal").inner_text()
    customer.check("#decision-reject")
    customer.fill("#f-comment", COMMENT)
    customer.click("#response-title ~ form button[type=submit]")
    assert "谢谢" in customer.locator(".alert-success").inner_text()

    # Rejected: level 2, a senior agent re-handles it; the comment is on the task page.
    row = task(runtime, reference, "Task_Senior_Rehandle")
    senior = new_page("zh-CN")
    login(senior, base, "senior")
    senior.goto(base.url(f"/tasks/{row.id}"))
    assert COMMENT in senior.locator(".customer-reply").inner_text()
    answer = senior.locator("textarea[name=answer]")
    draft = answer.input_value()
    assert draft.startswith("{name}您好") and "{amount}" in draft  # the escalation template, in Chinese
    screenshot(senior, "answer-senior-task-with-comment")

    senior.fill("#f-review_note", "首次答复未考虑客户对维修时效的不满,改为换新并补偿。")
    senior.select_option("#f-remedy", "replace")
    senior.select_option("#f-compensation_kind", "cash")
    senior.fill("#f-compensation_amount", "239.9")
    text = re.sub(r"\[[^\]]*\]", "我们将在三个工作日内为您上门更换新机,并把补偿款打入您的原支付账户", draft)
    answer.fill(text)
    senior.click("button[value=preview]")
    preview = senior.locator(".answer-preview .preview-portal").inner_text()
    assert preview.startswith("张三您好") and reference in preview and "¥239.90" in preview
    assert "{" not in preview and not re.search(r"[A-Za-z]{3,}", preview.replace(reference, ""))
    assert senior.locator(".answer-preview .customer-copy").get_attribute("lang") == "zh-CN"
    assert answer.input_value() == text  # nothing lost; still the person's text to edit
    screenshot(senior, "answer-senior-preview")
    senior.click("button[value=complete]")
    senior.wait_for_url("**/done")
    # The complaint file's thread names the senior agent as who wrote it, not "system".
    senior.goto(base.url(f"/complaints/{reference}"))
    sent = senior.locator('li.conversation-message[data-kind="response"]').last
    assert sent.locator(".message-who").inner_text().strip() == "senior"

    # The customer sees it, in Chinese only, with ¥ and two decimals.
    customer.goto(link)
    shown = customer.locator("#proposal").inner_text()
    assert "换货" in shown and "我们将在三个工作日内为您上门更换新机" in shown
    assert re.search(r"¥239\.90", shown) and "CNY" not in shown and "Amount" not in shown
    assert not re.search(r"[A-Za-z]{3,}", shown.replace(reference, ""))
    assert " ".join(shown.split()).startswith(" ".join(preview.split()))  # what the senior previewed is what arrived
    # (compared word by word: inner_text folds line breaks when the stylesheet is not applied yet)
    screenshot(customer, "answer-customer-tracking-zh")
