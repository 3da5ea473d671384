"""The conversation on the complaint file holds every message in and out, in order, each with its
channel, time and who: walked through the pages by the people of each lane (issue 12)."""

from __future__ import annotations

from datetime import timedelta

import lxml.html

import tests.test_complaint_pages as pages
import tests.test_complaint_paths as paths
from tests.test_complaint_pages import log_in

web_app, dbsession, run = pages.web_app, pages.dbsession, pages.run
STEP = timedelta(minutes=5)  # the harness's clock stands still; people take a few minutes for each step


def thread(client, language="zh-CN") -> list[dict]:
    response = client.get(f"/complaints/{paths.REF}", headers={"Accept-Language": language})
    assert response.status_code == 200
    doc = lxml.html.fromstring(response.get_data(as_text=True))
    return [{"kind": li.get("data-kind"), "direction": "in" if "conversation-in" in li.get("class") else "out",
             "time": li.xpath(".//time/@datetime")[0], "who": li.xpath('string(.//*[@class="message-who"])'),
             "text": " ".join(li.text_content().split())}
            for li in doc.xpath('//li[contains(@class, "conversation-message")]')]


def test_the_thread_holds_details_proposals_counter_proposals_and_the_survey_in_order(run):
    h = run(description=None, remedy_sought="")  # incomplete: the customer is asked for the details
    h.advance_time(STEP)
    h.send_message("customer_details", {"description": "销售说可随时退款", "remedy_sought": "全额退款"})
    h.advance_time(STEP)
    paths.classify(h, "sales_misrepresentation", "medium")
    paths.investigate(h, "sales", "unclear", warranty="not_applicable")
    paths.confirm_strategy(h, "fuzzy_mediation")
    proposal = {"company_position": "销售按话术介绍", "customer_position": "被告知可随时退款",
                "proposal": "退还50%服务费", "proposal_amount": 150}
    h.complete("Task_Mediate", proposal)
    h.advance_time(STEP)
    paths.answer(h, "counter", counter_proposal="退还80%", comment="50%太少")
    h.advance_time(STEP)
    # The next proposal is written with the customer's reply in view, in words, never a raw value.
    row = h._row("Task_Mediate")
    log_in(h.app, h.client, *pages.person_for(row))
    for language, decision in (("zh-CN", "提出反方案"), ("en", "Made a counter-proposal")):
        doc = lxml.html.fromstring(h.client.get(f"/tasks/{row.id}", headers={"Accept-Language": language}).data)
        reply = " ".join(doc.xpath('string(//*[contains(@class, "customer-reply")])').split())
        assert decision in reply and "counter" not in reply.replace("counter-proposal", "") and "退还80%" in reply
    h.complete("Task_Mediate", {**proposal, "proposal": "退还65%服务费", "proposal_amount": 195})
    h.advance_time(STEP)
    paths.answer(h, "accept")
    h.advance_time(timedelta(days=3, minutes=1))
    h.send_message("survey_answer", {"satisfaction_score": 4, "resolved": True, "comment": "处理得不错"})

    log_in(h.app, h.client, "cs.agent", "customer_service", "agent")
    messages = thread(h.client)
    kinds = [(m["direction"], m["kind"]) for m in messages]
    wanted = [("in", "complaint"), ("out", "request_details"), ("in", "customer_details"),
              ("out", "acknowledgement"), ("out", "mediation_proposal"), ("in", "customer_response"),
              ("out", "mediation_proposal"), ("in", "customer_response"), ("in", "survey_answer")]
    assert [k for k in kinds if k in wanted] == wanted, kinds
    assert [m["time"] for m in messages] == sorted(m["time"] for m in messages)
    by_kind = {}
    for m in messages:
        by_kind.setdefault(m["kind"], []).append(m)
    assert "销售说可随时退款" in by_kind["customer_details"][0]["text"]
    counter = by_kind["customer_response"][0]["text"]
    assert "退还80%" in counter and "“50%太少”" in counter
    assert "退还65%服务费" in by_kind["mediation_proposal"][1]["text"]
    assert "4/5" in by_kind["survey_answer"][0]["text"] and "“处理得不错”" in by_kind["survey_answer"][0]["text"]
    assert all(m["who"] for m in messages)  # every message says who
    assert "Task_Mediate" in h.walked
    english = [m["text"] for m in thread(h.client, "en") if m["kind"] == "customer_response"]
    assert "Counter-proposal: 退还80%" in english[0]
