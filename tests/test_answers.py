"""Answers written by people (issue 12): drafts from the template library in the customer's
language, a preview exactly as the customer gets it, the policy's suggestion beside the field,
four eyes before an answer with a large amount or regulatory impact is sent, approvals with their
facts, and bad input that keeps what was typed and sends nothing."""

from __future__ import annotations

import re

import lxml.html
import pytest
from sqlalchemy import func, select

import tests.test_complaint_paths as paths
from processes.channels.outbound_mail import amount_line
from processes.channels.portal_models import OutboundMessage, add_token, new_token
from processes.complaints import answer_templates as library
from processes.complaints.money import format_money
from processes.complaints.records import Notification
from processes.engine.actors import Actor
from processes.engine.errors import Forbidden
from processes.engine.models import AuditEntry
from tests.test_complaint_pages import csrf_of, log_in, run, web_app  # noqa: F401 - fixtures


@pytest.fixture
def dbsession(db):
    with db.session() as session:
        yield session


def login(app, username, department, role):
    """A new client logged in as that person."""
    client = app.test_client()
    log_in(app, client, username, department, role)
    return client


# What brings a complaint to each strategy: (category, severity, department, responsibility, warranty).
CASES = {
    "rule_based": ("product_quality", "medium", "product", "customer", "out_of_warranty"),
    "compensation": ("product_quality", "high", "product", "company", "in_warranty"),
    "fuzzy_mediation": ("sales_misrepresentation", "medium", "sales", "unclear", "not_applicable"),
}


def to_strategy(h, strategy: str, regulatory_impact: bool = False) -> None:
    """Classified, investigated and the strategy confirmed: the complaint at the strategy's first task."""
    category, severity, department, responsibility, warranty = CASES[strategy]
    h.complete("Task_Classify", {"category": category, "severity": severity, "safety_issue": False,
                                 "legitimacy": "justified", "regulatory_impact": regulatory_impact})
    paths.investigate(h, department, responsibility, warranty=warranty)
    paths.confirm_strategy(h, strategy)


def regulatory_paid_service(h) -> None:
    """A rule-based answer (paid service) on a complaint with regulatory impact: quality control checks it."""
    to_strategy(h, "rule_based", regulatory_impact=True)
    h.complete("Task_Draft_Rule_Answer", {"remedy": "paid_service", "answer": "可提供付费维修。"})


def doc(response):
    return lxml.html.fromstring(response.get_data(as_text=True))


def field_error(page, name) -> str:
    found = page.xpath(f'//*[@data-field="{name}"]//*[contains(@class, "field-error")]')
    return found[0].text_content().strip() if found else ""


def customer_answers(session) -> list[Notification]:
    session.commit()
    return list(session.scalars(select(Notification).where(Notification.template == "response")))


# -- the library ---------------------------------------------------------------------


def test_placeholders_unknown_formatted_or_unbalanced_are_refused():
    assert library.placeholder_problem("{name}您好,{reference} {amount}") is None
    _template, params = library.placeholder_problem("{name} {nmae} {amount:>9} {name.__class__}")
    assert params["names"] == "{nmae}, {amount:>9}, {name.__class__}"
    assert library.placeholder_problem("a { b") is not None
    assert library.placeholder_problem("{{literal}} braces") is None


def test_money_reads_as_people_read_it():
    assert format_money(239.9, "zh-CN") == "¥239.90"
    assert format_money("1234.5", "en") == "CNY 1,234.50"
    assert amount_line(239.9, "zh-CN") == "金额:¥239.90\n" and amount_line(0, "zh-CN") == ""


def test_seeded_library_has_sound_templates_for_every_strategy_in_both_languages(db):
    with db.session() as s:
        rows = list(s.scalars(select(library.ResponseTemplate)))
        for language in library.LANGUAGES:
            for strategy in library.STRATEGIES:
                match = library.best_match(s, "product_quality", strategy, language)
                assert match is not None and match.strategy == strategy and match.language == language
        # The most specific wins: late delivery has its own compensation wording.
        late = library.best_match(s, "logistics_delivery", "compensation", "zh-CN")
        assert late.category == "logistics_delivery"
    assert all(library.placeholder_problem(r.body) is None for r in rows)


def test_only_editors_may_save_a_template_even_past_the_views(db):
    fields = {"title": "x", "language": "zh-CN", "body": "{name}您好"}
    with db.write_session.begin() as s, pytest.raises(Forbidden):
        library.save(s, Actor("wang.agent", "customer_service", "agent"), fields)


# -- the template page ---------------------------------------------------------------


def test_template_page_checks_placeholders_previews_and_saves(web_app):  # noqa: F811
    agent = login(web_app, "cs.agent", "customer_service", "agent")
    assert agent.get("/answer-templates/").status_code == 403
    client = login(web_app, "cs.lead", "customer_service", "supervisor")
    listing = client.get("/answer-templates/")
    assert listing.status_code == 200 and "经济补偿(通用)" in listing.get_data(as_text=True)
    form = client.get("/answer-templates/new")
    token = csrf_of(form.get_data(as_text=True))
    typed = "{name}您好:\n退款 {amout} 已到账。"
    bad = client.post("/answer-templates/new", data={"csrf_token": token, "title": "退款到账", "language": "zh-CN",
                                                     "strategy": "compensation", "body": typed, "action": "save"})
    assert bad.status_code == 422
    page = doc(bad)
    error = page.xpath('//*[@id="body-error"]')[0].text_content()
    assert "{amout}" in error and "{amount}" in error  # names the unknown one and the ones to use
    assert page.xpath('//textarea[@id="body"]')[0].text == typed  # nothing typed is lost
    too_long = client.post("/answer-templates/new", data={"csrf_token": token, "title": "长", "language": "zh-CN",
                                                          "body": "字" * 5001, "action": "save"})
    assert too_long.status_code == 422 and "5000" in doc(too_long).xpath('//*[@id="body-error"]')[0].text_content()
    with web_app.extensions["redress.db"].session() as s:
        before = s.scalar(select(func.count()).select_from(library.ResponseTemplate))
    good = "{name}您好:\n您的{remedy} {amount} 已于今日退回,投诉编号 {reference}。"
    preview = client.post("/answer-templates/new", data={"csrf_token": token, "title": "退款到账", "language": "zh-CN",
                                                         "strategy": "compensation", "body": good, "action": "preview"})
    shown = doc(preview).xpath('//*[@id="template-preview"]')[0].text_content()
    assert "李娜您好" in shown and "¥239.90" in shown and "C-2025-0001" in shown and "{" not in shown
    saved = client.post("/answer-templates/new", data={"csrf_token": token, "title": "退款到账", "language": "zh-CN",
                                                       "strategy": "compensation", "body": good, "active": "on",
                                                       "action": "save"})
    assert saved.status_code == 302
    with web_app.extensions["redress.db"].session() as s:
        assert s.scalar(select(func.count()).select_from(library.ResponseTemplate)) == before + 1
        assert s.scalar(select(AuditEntry).where(AuditEntry.action == "response_template_saved")).actor == "cs.lead"


# -- answering a customer through the task page --------------------------------------


@pytest.fixture
def rule_answer(run, dbsession):  # noqa: F811
    """A complaint at "Draft the answer under the policy" (customer's fault, out of warranty)."""
    h = run()
    to_strategy(h, "rule_based")
    return h, h._row("Task_Draft_Rule_Answer")


def test_the_answer_opens_from_the_template_with_the_policy_suggestion_beside_it(rule_answer, web_app):  # noqa: F811
    _h, row = rule_answer
    client = login(web_app, "cs.agent", "customer_service", "agent")
    page = doc(client.get(f"/tasks/{row.id}"))
    draft = page.xpath('//textarea[@name="answer"]')[0].text
    assert draft.startswith("{name}您好") and "{remedy}" in draft  # the rule-based template, in Chinese
    suggestion = page.xpath('//*[@data-field="remedy"]//*[contains(@class, "field-suggestion")]')[0].text_content()
    assert "付费服务" in suggestion
    assert not page.xpath('//select[@name="remedy"]/option[@selected and @value!=""]')  # never applied by itself


def test_preview_shows_exactly_what_is_sent_and_sends_nothing(rule_answer, web_app, dbsession):  # noqa: F811
    h, row = rule_answer
    client = login(web_app, "cs.agent", "customer_service", "agent")
    token = csrf_of(client.get(f"/tasks/{row.id}").get_data(as_text=True))
    typed = "{name}您好:您的投诉 {reference} 已核实,产品已过保修期,我们可为您提供{remedy}。"
    form = {"csrf_token": token, "remedy": "paid_service", "answer": typed}
    preview = client.post(f"/tasks/{row.id}", data={**form, "action": "preview"})
    assert preview.status_code == 200
    page = doc(preview)
    shown = page.xpath('//*[contains(@class, "preview-portal")]')[0].text_content().strip()
    expected = f"王芳您好:您的投诉 {paths.REF} 已核实,产品已过保修期,我们可为您提供付费服务。"
    assert shown == expected
    assert page.xpath('//textarea[@name="answer"]')[0].text == typed  # still editable, placeholders kept
    assert customer_answers(dbsession) == [] and h.ready_ids() == ["Task_Draft_Rule_Answer"]
    done = client.post(f"/tasks/{row.id}", data={**form, "action": "complete"})
    assert done.status_code == 302
    [sent] = customer_answers(dbsession)
    assert sent.body == expected  # the previewed text, to the letter
    h._renew()
    assert h.data["answer_author"] == "cs.agent"


def test_the_dates_in_a_letter_are_days_of_the_business_calendar(rule_answer, web_app, dbsession):  # noqa: F811
    """Written at 20:00 UTC, 04:00 the next morning in Shanghai: the reply date and the resolve date
    in the letter are both Shanghai days, as the tracking page shows them."""
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    h, row = rule_answer
    h.advance_time(timedelta(hours=11))  # Monday 09:00 UTC -> 20:00 UTC
    client = login(web_app, "cs.agent", "customer_service", "agent")
    token = csrf_of(client.get(f"/tasks/{row.id}").get_data(as_text=True))
    preview = client.post(f"/tasks/{row.id}", data={"csrf_token": token, "remedy": "paid_service",
                                                     "answer": "请在 {reply_by} 前答复。", "action": "preview"})
    shown = doc(preview).xpath('//*[contains(@class, "preview-portal")]')[0].text_content().strip()
    timeout = timedelta(days=int(h.data["settings"]["response_timeout"].strip("PD")))
    shanghai = (datetime.now(UTC) + timeout).astimezone(ZoneInfo("Asia/Shanghai"))
    assert shown == f"请在 {shanghai:%Y-%m-%d} 前答复。"
    assert shanghai.date() != (datetime.now(UTC) + timeout).date()  # the day UTC would have given differs


@pytest.mark.parametrize("answer, complaint", [
    ("", "empty"),
    ("   \n ", "blank"),
    ("{name}您好,{refrence}", "unknown placeholder"),
    ("字" * 5001, "too long"),
])
def test_bad_answers_are_refused_beside_the_field_and_nothing_is_sent(rule_answer, web_app, dbsession,  # noqa: F811
                                                                      answer, complaint):
    h, row = rule_answer
    client = login(web_app, "cs.agent", "customer_service", "agent")
    token = csrf_of(client.get(f"/tasks/{row.id}").get_data(as_text=True))
    response = client.post(f"/tasks/{row.id}", data={"csrf_token": token, "remedy": "repair", "answer": answer,
                                                      "action": "complete"})
    assert response.status_code == 422, complaint
    page = doc(response)
    error = field_error(page, "answer")
    assert error, complaint
    if complaint == "unknown placeholder":
        assert "{refrence}" in error
    assert (page.xpath('//textarea[@name="answer"]')[0].text or "") == answer.lstrip("\n") or answer.strip() == ""
    assert page.xpath('//select[@name="remedy"]/option[@selected]')[0].get("value") == "repair"  # kept
    assert customer_answers(dbsession) == [] and h.ready_ids() == ["Task_Draft_Rule_Answer"]


def test_an_english_customer_gets_the_english_template_and_cny(run, web_app, dbsession):  # noqa: F811
    h = run(customer_tier="vip", order_value=3000, customer_name="Wang Fang")
    with web_app.extensions["redress.db"].write_session.begin() as s:
        add_token(s, paths.REF, new_token(), "en")
    to_strategy(h, "compensation")
    paths.choose_compensation(h, ("cash", 900), amount=239.9)
    row = h._row("Task_Write_Offer")
    client = login(web_app, "cs.agent", "customer_service", "agent")
    page = client.get(f"/tasks/{row.id}")
    draft = doc(page).xpath('//textarea[@name="answer"]')[0].text
    assert draft.startswith("Dear {name}")
    preview = client.post(f"/tasks/{row.id}", data={"csrf_token": csrf_of(page.get_data(as_text=True)),
                                                     "answer": draft, "action": "preview"})
    shown = doc(preview).xpath('//*[contains(@class, "preview-portal")]')[0].text_content()
    assert "cash payment of CNY 239.90" in shown and "Amount: CNY 239.90" in shown
    assert not re.search(r"[\u4e00-\u9fff]", shown)  # one language only
    # The template's bracketed instruction must be replaced by the person's own words before sending.
    refused = client.post(f"/tasks/{row.id}", data={"csrf_token": csrf_of(page.get_data(as_text=True)),
                                                     "answer": draft, "action": "complete"})
    assert refused.status_code == 422 and "[Say how and when it will be paid.]" in field_error(doc(refused), "answer")


# -- four eyes and approvals with their facts ----------------------------------------


@pytest.fixture
def large_offer(run, dbsession):  # noqa: F811
    """A cash compensation of 900 (above the threshold), approved, and the offer written by cs.agent."""
    h = run(customer_tier="vip", order_value=3000)
    to_strategy(h, "compensation")
    paths.choose_compensation(h, ("cash", 900))
    return h


def test_management_approval_shows_proposal_budget_findings_and_demand(large_offer, web_app):  # noqa: F811
    row = large_offer._row("Task_Approve_Compensation")
    client = login(web_app, "boss", "management", "manager")
    page = doc(client.get(f"/tasks/{row.id}"))
    facts = page.xpath('//*[contains(@class, "approval-facts")]')[0]
    amount = facts.xpath('.//*[contains(@class, "approval-amount")]')[0].text_content()
    assert "¥900.00" in amount and "现金" in amount
    budget = facts.xpath('.//*[contains(@class, "approval-budget")]')[0].text_content()
    # The default monthly budget is 20,000 and nothing is spent yet: 19,100 left after this one.
    assert "¥0.00" in budget and "¥20,000.00" in budget and "¥19,100.00" in budget
    assert "核实属实" in facts.xpath('.//*[contains(@class, "approval-findings")]')[0].text_content()
    assert facts.xpath('.//*[contains(@class, "approval-demand")]')[0].text_content().strip() == "换货"


def test_quality_check_is_for_someone_else_than_the_author(large_offer, web_app, dbsession):  # noqa: F811
    h = large_offer
    h.complete("Task_Approve_Compensation", {"approval_decision": "approve"})
    row = h._row("Task_Write_Offer")
    writer = login(web_app, "cs.lead", "customer_service", "supervisor")  # a supervisor writes it...
    token = csrf_of(writer.get(f"/tasks/{row.id}").get_data(as_text=True))
    assert writer.post(f"/tasks/{row.id}", data={"csrf_token": token, "answer": "现金补偿 {amount}",
                                                  "action": "complete"}).status_code == 302
    h._renew()
    check = h._row("Task_Quality_Check")
    assert check.not_by == "cs.lead" and customer_answers(dbsession) == []
    # ...and may not approve it: not on the page, not through the runtime, not by being given it.
    page = writer.get(f"/tasks/{check.id}")
    assert doc(page).xpath('//*[@id="four-eyes"]') and not doc(page).xpath('//form[contains(@class, "task-form")]')
    assert writer.post(f"/tasks/{check.id}", data={"csrf_token": token, "qc_decision": "approve",
                                                    "action": "complete"}).status_code == 403
    runtime = web_app.extensions["redress.runtime"]
    author = Actor("cs.lead", "customer_service", "supervisor")
    with pytest.raises(Forbidden):
        runtime.claim(check.id, author)
    with pytest.raises(Forbidden):
        runtime.complete(check.id, author, {"qc_decision": "approve"})
    with pytest.raises(Forbidden):
        runtime.reassign(check.id, Actor("boss", "management", "manager"), author)
    # A colleague sees the letter as the customer will get it, and approves it.
    colleague = login(web_app, "cs.lead2", "customer_service", "supervisor")
    page = colleague.get(f"/tasks/{check.id}")
    facts = doc(page).xpath('//*[contains(@class, "approval-facts")]')[0]
    assert "现金补偿 ¥900.00" in facts.xpath('.//*[contains(@class, "preview-portal")]')[0].text_content()
    assert facts.xpath('.//*[contains(@class, "approval-author")]')[0].text_content() == "cs.lead"
    assert colleague.post(f"/tasks/{check.id}", data={"csrf_token": csrf_of(page.get_data(as_text=True)),
                                                       "qc_decision": "approve", "action": "complete"}).status_code == 302
    [sent] = customer_answers(dbsession)
    assert sent.body == "现金补偿 ¥900.00"


def test_regulatory_impact_alone_needs_the_quality_check(run, dbsession):  # noqa: F811
    h = run()
    regulatory_paid_service(h)
    assert h.ready_ids() == ["Task_Quality_Check"] and customer_answers(dbsession) == []


def test_the_response_mail_is_the_persons_letter_with_the_amount_formatted(run, web_app, dbsession):  # noqa: F811
    from processes.app import build_runtime
    from processes.engine.definitions import read_files
    from tests.conftest import ROOT
    from tests.runtime_harness import FacadeHarness

    runtime = build_runtime(db=web_app.extensions["redress.db"])  # with the mailer (no SMTP: the outbox)
    runtime.deploy(read_files(ROOT, "bpmn", "forms"))
    with FacadeHarness.start(runtime, paths.complaint_start_data(paths.REF),
                             dbsession) as h:
        paths.classify(h, "logistics_delivery", "medium")
        paths.investigate(h, "after_sales", "company", warranty="not_applicable")
        paths.confirm_strategy(h, "compensation")
        paths.choose_compensation(h, ("coupon", 50), amount=39.9)
        h.complete("Task_Write_Offer", {"answer": "王芳您好:送您优惠券一张。"})
    dbsession.commit()
    mail = dbsession.scalar(select(OutboundMessage).where(OutboundMessage.template == "response"))
    assert mail.body.startswith("王芳您好:送您优惠券一张。\n金额:¥39.90\n")
    assert "Dear" not in mail.body and "您好:\n\n关于" not in mail.body  # no second greeting around it


# -- every path that writes to the customer ------------------------------------------

SPIFF = "{http://spiffworkflow.org/bpmn/schema/1.0/core}"
# Fixed notices (wording kept in processes/channels/outbound_mail.py, facts only) and the two
# messages whose text a person writes: the answer and the mediation proposal.
NOTICES = {"request_details", "survey"}
WRITTEN = {"response": "answer", "mediation_proposal": "proposal"}


def test_nothing_reaches_the_customer_that_a_person_did_not_write():
    from pathlib import Path

    from lxml import etree

    from tests.conftest import ROOT

    sent, scripts = {}, []
    for path in Path(ROOT, "bpmn").glob("*.bpmn"):
        tree = etree.parse(str(path))
        for operator in tree.iter(f"{SPIFF}serviceTaskOperator"):
            params = {p.get("id"): p.get("value") for p in operator.iter(f"{SPIFF}parameter")}
            if operator.get("id") == "acknowledge":
                sent["acknowledgement"] = None
            elif operator.get("id") == "notify" and params.get("recipient_type") == '"customer"':
                sent[params["template"].strip('"')] = params.get("body")
        scripts += [e.text or "" for e in tree.iter() if isinstance(e.tag, str)
                    and e.tag.split("}")[-1] in ("script", "preScript", "postScript")]
    assert set(sent) == {"acknowledgement"} | NOTICES | set(WRITTEN)
    assert sent["response"] == "answer or \"\"" and all(sent[n] is None for n in NOTICES)
    # No script, pre- or post-script composes the text a person is meant to write (copying the
    # agreed proposal, a person's text, into the answer is no composing).
    composed = [s for s in scripts if re.search(r"^\s*(answer|proposal)\s*=(?!\s*(None|proposal)\s*$)", s, re.MULTILINE)]
    assert composed == []
    # Every form that writes the answer starts it from a template or fills its placeholders.
    import json

    for path in Path(ROOT, "forms").glob("*.json"):
        answer = json.loads(path.read_text())["properties"].get("answer")
        if answer is not None:
            ui = answer["x-ui"]
            assert ui.get("from_template") or ui.get("placeholders"), path.name


def test_a_done_answer_task_still_opens(rule_answer, web_app):  # noqa: F811
    h, row = rule_answer
    h.complete("Task_Draft_Rule_Answer", {"remedy": "repair", "answer": "免费维修。"})
    client = login(web_app, "cs.agent", "customer_service", "agent")
    page = client.get(f"/tasks/{row.id}")
    assert page.status_code == 200 and not doc(page).xpath('//form[contains(@class, "task-form")]')


# -- who wrote and who approved what the process sent -----------------------------------


def thread_messages(client, kind: str, language: str = "zh-CN") -> list:
    page = doc(client.get(f"/complaints/{paths.REF}", headers={"Accept-Language": language}))
    return page.xpath(f'//li[contains(@class, "conversation-message")][@data-kind="{kind}"]')


def who_of(message) -> tuple[str, str]:
    who = message.xpath('.//*[contains(@class, "message-who")]')[0].text_content().strip()
    approved = message.xpath('.//*[contains(@class, "message-approved-by")]')
    return who, approved[0].text_content().strip() if approved else ""


def test_the_thread_names_who_wrote_each_answer_and_who_approved_it(large_offer, web_app):  # noqa: F811
    h = large_offer  # every step below is done by a person through the task page (PageHarness)
    h.complete("Task_Approve_Compensation", {"approval_decision": "approve"})
    h.complete("Task_Write_Offer", {"answer": "现金补偿 {amount},三个工作日内到账。"})
    paths.quality_check(h)  # a supervisor approves the agent's letter
    paths.answer(h, "reject", comment="希望换新")
    # The senior agent's next answer is small and needs no check: no approver is carried over to it.
    h.complete("Task_Senior_Rehandle", {"review_note": "复核后改为换新", "answer": "为您换新一台。",
                                        "remedy": "replace", "compensation_kind": "coupon",
                                        "compensation_amount": 50})
    client = login(web_app, "cs.agent", "customer_service", "agent")
    first, second = thread_messages(client, "response")
    assert who_of(first) == ("customer_service.agent", "由 customer_service.supervisor 质检批准")
    assert who_of(second) == ("customer_service.senior_agent", "")
    first_en, _second = thread_messages(client, "response", "en")
    assert who_of(first_en) == ("customer_service.agent", "approved by customer_service.supervisor")
    assert "system" not in first_en.text_content() and "系统" not in first.text_content()
    # Answers sent before the process recorded their author with them: the audit log names them.
    with web_app.extensions["redress.db"].write_session.begin() as s:
        for note in s.scalars(select(Notification).where(Notification.template == "response")):
            note.payload = {k: v for k, v in note.payload.items() if k not in ("by", "approved_by")}
    first, second = thread_messages(client, "response")
    assert who_of(first) == ("customer_service.agent", "由 customer_service.supervisor 质检批准")
    assert who_of(second) == ("customer_service.senior_agent", "")


def test_the_thread_names_who_wrote_the_mediation_proposal(run, web_app):  # noqa: F811
    h = run()
    to_strategy(h, "fuzzy_mediation")
    h.complete("Task_Mediate", {"company_position": "按话术介绍", "customer_position": "被告知可随时退款",
                                "proposal": "退还50%服务费", "proposal_amount": 150})
    client = login(web_app, "cs.agent", "customer_service", "agent")
    [proposal] = thread_messages(client, "mediation_proposal")
    assert who_of(proposal) == ("customer_service.agent", "")



# -- the mediation proposal starts from the template too -------------------------------

POSITIONS = {"company_position": "销售按话术介绍", "customer_position": "被告知可随时退款"}


@pytest.fixture
def mediation(run, web_app):  # noqa: F811
    """A complaint at "Record positions and propose a compromise" (responsibility unclear)."""

    def at_mediation(language="zh-CN", **start):
        h = run(**start)
        if language != "zh-CN":
            with web_app.extensions["redress.db"].write_session.begin() as s:
                add_token(s, paths.REF, new_token(), language)
        to_strategy(h, "fuzzy_mediation")
        return h, h._row("Task_Mediate")

    return at_mediation


def test_the_mediation_proposal_opens_from_the_template_and_previews_the_proposal_mail(mediation, web_app,  # noqa: F811
                                                                                        dbsession):
    h, row = mediation()
    client = login(web_app, "cs.agent", "customer_service", "agent")
    page = client.get(f"/tasks/{row.id}")
    draft = doc(page).xpath('//textarea[@name="proposal"]')[0].text
    assert draft.startswith("{name}您好") and "[请在此写明折中方案]" in draft  # the mediation template, in Chinese
    token = csrf_of(page.get_data(as_text=True))
    typed = draft.replace("[请在此写明折中方案]", "退还 {amount} 服务费(50%)。")
    form = {"csrf_token": token, **POSITIONS, "proposal": typed, "proposal_amount": "239.9"}
    preview = doc(client.post(f"/tasks/{row.id}", data={**form, "action": "preview"}))
    shown = preview.xpath('//*[contains(@class, "preview-portal")]')[0].text_content()
    assert shown.startswith("王芳您好") and "退还 ¥239.90 服务费" in shown and "金额:¥239.90" in shown
    assert "{" not in shown and "[" not in shown
    mail = preview.xpath('//*[contains(@class, "preview-email")]')[0].text_content()
    subject = preview.xpath('//*[contains(@class, "preview-subject")]')[0].text_content()
    assert subject == f"调解方案:{paths.REF}" and "(第 1 轮)" in mail and "退还 ¥239.90 服务费" in mail
    assert notifications_of(dbsession, "mediation_proposal") == [] and h.ready_ids() == ["Task_Mediate"]
    # Sending it stores exactly the previewed text, the amount beside it, and names who wrote it.
    assert client.post(f"/tasks/{row.id}", data={**form, "action": "complete"}).status_code == 302
    [sent] = notifications_of(dbsession, "mediation_proposal")
    expected = typed.replace("{name}", "王芳").replace("{reference}", paths.REF).replace("{amount}", "¥239.90")
    assert sent.body.split("\n\n")[:2] == expected.split("\n\n")[:2] and "{" not in sent.body
    assert sent.payload["proposal_amount"] == 239.9 and sent.payload["by"] == "cs.agent"
    tracked = doc(client.get(f"/complaints/{paths.REF}"))
    assert "退还 ¥239.90 服务费" in tracked.xpath('//li[@data-kind="mediation_proposal"]')[0].text_content()


def test_an_english_customer_gets_the_english_mediation_template_and_cny(mediation, web_app):  # noqa: F811
    _h, row = mediation("en", customer_name="Fang Wang")
    client = login(web_app, "cs.agent", "customer_service", "agent")
    page = client.get(f"/tasks/{row.id}")
    draft = doc(page).xpath('//textarea[@name="proposal"]')[0].text
    assert draft.startswith("Dear {name}") and "[Write the compromise here.]" in draft
    typed = draft.replace("[Write the compromise here.]", "We refund {amount}, half the service fee.")
    preview = doc(client.post(f"/tasks/{row.id}", data={"csrf_token": csrf_of(page.get_data(as_text=True)),
                                                         **POSITIONS, "proposal": typed, "proposal_amount": "239.9",
                                                         "action": "preview"}))
    shown = preview.xpath('//*[contains(@class, "preview-portal")]')[0].text_content()
    assert shown.startswith("Dear Fang Wang") and "We refund CNY 239.90" in shown and "Amount: CNY 239.90" in shown
    assert not re.search(r"[\u4e00-\u9fff]", shown)  # one language only
    mail = preview.xpath('//*[contains(@class, "preview-email")]')[0].text_content()
    assert "(round 1)" in mail and not re.search(r"[\u4e00-\u9fff]", mail)


@pytest.mark.parametrize("proposal, complaint", [
    ("", "empty"),
    ("{name}您好,{amout}", "unknown placeholder"),
    (None, "instruction left"),
])
def test_a_bad_mediation_proposal_is_refused_beside_the_field_and_nothing_is_sent(
        mediation, web_app, dbsession, proposal, complaint):  # noqa: F811
    h, row = mediation()
    client = login(web_app, "cs.agent", "customer_service", "agent")
    page = client.get(f"/tasks/{row.id}")
    if proposal is None:  # the template as drafted, its instruction still in it
        proposal = doc(page).xpath('//textarea[@name="proposal"]')[0].text
    response = client.post(f"/tasks/{row.id}", data={"csrf_token": csrf_of(page.get_data(as_text=True)),
                                                      **POSITIONS, "proposal": proposal, "proposal_amount": "100",
                                                      "action": "complete"})
    assert response.status_code == 422, complaint
    error = field_error(doc(response), "proposal")
    assert error, complaint
    if complaint == "unknown placeholder":
        assert "{amout}" in error
    if complaint == "instruction left":
        assert "[请在此写明折中方案]" in error
    assert doc(response).xpath('//input[@name="proposal_amount"]')[0].get("value") in ("100", "100.00")  # kept
    assert notifications_of(dbsession, "mediation_proposal") == [] and h.ready_ids() == ["Task_Mediate"]


def notifications_of(session, template: str) -> list[Notification]:
    session.commit()
    return list(session.scalars(select(Notification).where(Notification.template == template)))


# -- a returned answer: the wording, the remedy and the amount ----------------------------


def test_the_reviser_changes_the_amount_beside_the_suggestion_and_quality_control_sees_it(run, web_app,  # noqa: F811
                                                                                          dbsession):
    h = run(customer_tier="vip", order_value=3000)
    paths.returned_offer(h)  # cash 400 within authority, sent back by quality control
    row = h._row("Task_Revise_Answer")
    client = login(web_app, "cs.agent", "customer_service", "agent")
    page = client.get(f"/tasks/{row.id}")
    form = doc(page)
    # What was decided is on the form; the policy's 900 is beside it, not in it.
    assert form.xpath('//input[@name="compensation_amount"]')[0].get("value") in ("400", "400.00")
    suggestion = form.xpath('//*[@data-field="compensation_amount"]//*[contains(@class, "field-suggestion")]')
    assert "¥900.00" in suggestion[0].text_content()
    assert form.xpath('//select[@name="compensation_kind"]/option[@selected]')[0].get("value") == "cash"
    assert form.xpath('//select[@name="remedy"]/option[@selected]')[0].get("value") == "compensation"
    returned = form.xpath('//*[contains(@class, "quality-returned")]')[0].text_content()
    assert "金额不足以弥补损失" in returned and "customer_service.supervisor" in returned  # what QC asked, by whom
    token = csrf_of(page.get_data(as_text=True))
    fields = {"csrf_token": token, "remedy": "compensation", "compensation_kind": "cash",
              "compensation_amount": "450", "answer": "{name}您好:现金补偿 {amount}。"}
    preview = doc(client.post(f"/tasks/{row.id}", data={**fields, "action": "preview"}))
    shown = preview.xpath('//*[contains(@class, "preview-portal")]')[0].text_content()
    assert "现金补偿 ¥450.00" in shown and "金额:¥450.00" in shown  # the new amount, not the old one
    assert client.post(f"/tasks/{row.id}", data={**fields, "action": "complete"}).status_code == 302
    h._renew()
    # 450 is a raise within authority: straight back to quality control, which sees 450.
    check = h._row("Task_Quality_Check")
    checker = login(web_app, "cs.lead", "customer_service", "supervisor")
    facts = doc(checker.get(f"/tasks/{check.id}")).xpath('//*[contains(@class, "approval-facts")]')[0]
    assert "¥450.00" in facts.xpath('.//*[contains(@class, "approval-amount")]')[0].text_content()
    assert "现金补偿 ¥450.00" in facts.xpath('.//*[contains(@class, "preview-portal")]')[0].text_content()
    assert paths.ledger_entry(dbsession).amount == 450


def test_a_raised_amount_waits_for_management_with_the_budget_after_it(run, web_app):  # noqa: F811
    h = run(customer_tier="vip", order_value=3000)
    paths.returned_offer(h)
    h.complete("Task_Revise_Answer", {"answer": "现金补偿 ¥800.00", "compensation_kind": "cash", "compensation_amount": 800,
                                      "revision_note": "按质检意见提高"})
    row = h._row("Task_Approve_Revised_Compensation")
    supervisor = login(web_app, "cs.lead", "customer_service", "supervisor")  # management decides, not them
    assert not doc(supervisor.get(f"/tasks/{row.id}")).xpath('//form[contains(@class, "task-form")]')
    boss = login(web_app, "boss", "management", "manager")
    facts = doc(boss.get(f"/tasks/{row.id}")).xpath('//*[contains(@class, "approval-facts")]')[0]
    assert "¥800.00" in facts.xpath('.//*[contains(@class, "approval-amount")]')[0].text_content()
    # Its own 400 is replaced, not spent twice: 20,000 - 800 left.
    assert "¥19,200.00" in facts.xpath('.//*[contains(@class, "approval-budget")]')[0].text_content()
    assert "按质检意见提高" in facts.text_content()


def test_a_revised_amount_needs_its_kind_and_a_bad_one_is_refused_beside_the_field(run, web_app, dbsession):  # noqa: F811
    h = run()
    regulatory_paid_service(h)
    paths.quality_check(h, "return", note="请给予补偿")
    row = h._row("Task_Revise_Answer")
    client = login(web_app, "cs.agent", "customer_service", "agent")
    token = csrf_of(client.get(f"/tasks/{row.id}").get_data(as_text=True))
    for amount, field in (("120", "compensation_kind"), ("-5", "compensation_amount")):
        response = client.post(f"/tasks/{row.id}", data={"csrf_token": token, "answer": "补偿 {amount}。",
                                                          "remedy": "compensation", "compensation_amount": amount,
                                                          "action": "complete"})
        assert response.status_code == 422 and field_error(doc(response), field), (amount, field)
        assert doc(response).xpath('//textarea[@name="answer"]')[0].text == "补偿 {amount}。"  # kept
    assert h.ready_ids() == ["Task_Revise_Answer"] and customer_answers(dbsession) == []


def test_the_api_fills_an_answers_placeholders_and_refuses_an_empty_one_as_the_page_does(
        rule_answer, web_app, dbsession):  # noqa: F811
    from processes.engine.users import create_token

    h, row = rule_answer
    login(web_app, "cs.agent", "customer_service", "agent")  # the person, made on first use
    with web_app.extensions["redress.db"].write_session.begin() as s:
        headers = {"Authorization": f"Bearer {create_token(s, 'cs.agent')}", "Accept-Language": "en"}
    client = web_app.test_client()
    empty = client.post(f"/api/v1/tasks/{row.id}/complete", headers=headers,
                        json={"data": {"remedy": "paid_service", "answer": "  "}})
    assert empty.status_code == 422 and "answer" in empty.get_json()["errors"]
    assert customer_answers(dbsession) == [] and h.ready_ids() == ["Task_Draft_Rule_Answer"]
    typed = "{name}您好:您的投诉 {reference} 已核实,我们可为您提供{remedy}。"
    done = client.post(f"/api/v1/tasks/{row.id}/complete", headers=headers,
                       json={"data": {"remedy": "paid_service", "answer": typed}})
    assert done.status_code == 200, done.get_json()
    [sent] = customer_answers(dbsession)
    assert sent.body == f"王芳您好:您的投诉 {paths.REF} 已核实,我们可为您提供付费服务。"
