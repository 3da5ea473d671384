"""Writes bpmn/*.bpmn for Redress. Run from the repository root: python tools/bpmn_layout/make_bpmn.py bpmn"""

import sys
from pathlib import Path

from bpmngen import Model

OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "out")
DEPTS = ["customer_service", "sales", "product", "technical", "after_sales"]
DEPT_ZH = {"customer_service": "客服部", "sales": "销售部", "product": "产品部", "technical": "技术部",
           "after_sales": "售后部", "management": "管理层"}
DEPT_EN = {"customer_service": "Customer service", "sales": "Sales", "product": "Product",
           "technical": "Technical", "after_sales": "After-sales", "management": "Management"}
CS = "customer_service"
MG = "management"


def camel(dept):
    return "_".join(p.capitalize() for p in dept.split("_"))


def s(*lines):
    return "\n".join(lines)


# ------------------------------------------------------------------ main process
def complaint():
    m = Model("complaint_handling", "投诉处理", "投诉处理 Complaint handling",
              [(CS, 4), ("sales", 2), ("product", 2), ("technical", 1), ("after_sales", 1), (MG, 2)])
    r = m.row_cy
    c = m.col_cx
    A = m.add
    A("startEvent", "StartEvent_Complaint_Received", "收到投诉", "Complaint received", CS, 0)
    A("scriptTask", "Task_Init", "初始化流程变量", "Initialise process variables", CS, 1, script=s(
        "reference = business_key",
        'status = "registered"',
        "escalation_level = 1",
        "escalation_reason = None",
        "duplicate_of = None",
        "department = None",
        "priority = None",
        "strategy = None",
        "legitimacy = None",
        "responsibility = None",
        "root_cause = None",
        "is_defect = False",
        "remedy = None",
        "answer = None",
        "compensation_kind = None",
        "compensation_amount = 0",
        "approved = None",
        "customer_decision = None",
        "mediation_agreed = False",
        "satisfaction_score = None",
        "resolved = None",
        "sla_breached = False",
        "customer_details = None",
    ))
    A("exclusiveGateway", "Gateway_Intake_Channel", "人工登记渠道?", "Registered by an agent?", CS, 2)
    A("userTask", "Task_Register", "登记投诉", "Register complaint", CS, 3, row=1, form="register.json")
    A("exclusiveGateway", "Gateway_Intake_Merge", None, None, CS, 4)
    A("exclusiveGateway", "Gateway_Recheck", None, None, CS, 5)
    A("serviceTask", "Task_Check_Completeness", "完整性检查", "Check completeness", CS, 6,
      op="check_completeness", result="completeness", params={"required": 'settings["required_fields"]'})
    A("exclusiveGateway", "Gateway_Complete", "信息完整?", "Complete?", CS, 7)
    A("serviceTask", "Task_Request_Details", "请客户补充信息", "Ask the customer for missing details", CS, 8,
      row=1, op="notify", result="notification", params={
          "recipient_type": '"customer"', "template": '"request_details"',
          "subject": '"请补充投诉信息 Please complete your complaint " + reference',
          "payload": '{"missing_fields": missing_fields}'})
    A("eventBasedGateway", "Gateway_Await_Details", "等待补充信息", "Await details", CS, 9, row=1)
    A("intermediateCatchEvent", "Event_Details_Received", "收到补充信息", "Details received", CS, 10, row=1,
      message="customer_details", message_var="customer_details")
    A("intermediateCatchEvent", "Event_Details_Timeout", "补充信息超时", "Details timed out", CS, 10, row=2,
      timer=("timeDuration", 'settings["details_timeout"]'))
    A("serviceTask", "Task_Archive_Incomplete", "归档(信息不全)", "Archive as incomplete", CS, 11, row=2,
      op="archive", result="archive_result", params={"outcome": '"closed_incomplete"'})
    A("endEvent", "EndEvent_Closed_Incomplete", "信息不全结案", "Closed as incomplete", CS, 12, row=2)

    A("serviceTask", "Task_Acknowledge", "确认受理", "Acknowledge with reference", CS, 8,
      op="acknowledge", result="acknowledgement")
    A("userTask", "Task_Classify", "分类与初步评估", "Classify and assess", CS, 9, form="classify.json")
    A("boundaryEvent", "Event_SLA_Accept", "受理时限已到", "Acceptance deadline passed", CS, 9,
      attached_to="Task_Classify", cancel=False, timer=("timeDate", 'sla_deadline("accept", "critical" if '
                                                         'safety_issue else (severity or "medium"), received_at)'))
    A("scriptTask", "Task_Assess_Risk", "风险评估", "Assess risk", CS, 10, script=s(
        "if safety_issue:",
        '    severity = "critical"',
        'status = "classified"',
    ))
    A("businessRuleTask", "Task_Route", "分派规则", "Routing rules", CS, 11, decision="classify_routing")
    A("scriptTask", "Task_Set_Deadlines", "计算时限", "Set SLA deadlines", CS, 12, script=s(
        'respond_due = sla_deadline("respond", sla_class, received_at)',
        'resolve_due = sla_deadline("resolve", sla_class, received_at)',
        'mediation_due = sla_deadline("mediation", sla_class, received_at)',
    ))
    A("exclusiveGateway", "Gateway_Critical", "严重或安全问题?", "Critical or safety issue?", CS, 13)
    A("serviceTask", "Task_Notify_Critical", "通知管理层(严重投诉)", "Notify management of critical complaint",
      MG, 14, op="notify", result="notification", params={
          "recipient_type": '"department"', "recipient": '"management"', "template": '"critical_complaint"',
          "subject": '"严重投诉 Critical complaint " + reference'})
    A("exclusiveGateway", "Gateway_Critical_Merge", None, None, CS, 15)
    A("serviceTask", "Task_Check_Duplicates", "重复投诉检查", "Check for duplicates", CS, 16,
      op="check_duplicates", result="duplicate_check",
      params={"window_days": 'settings["duplicate_window_days"]'})
    A("exclusiveGateway", "Gateway_Duplicate", "疑似重复?", "Possible duplicate?", CS, 17)
    A("userTask", "Task_Review_Duplicate", "核实重复投诉", "Review possible duplicate", CS, 18, row=1,
      form="review_duplicate.json")
    A("exclusiveGateway", "Gateway_Duplicate_Confirmed", "确认重复?", "Duplicate confirmed?", CS, 19, row=1)
    A("serviceTask", "Task_Archive_Duplicate", "归档(重复投诉)", "Archive as duplicate", CS, 19, row=2,
      op="archive", result="archive_result", params={"outcome": '"closed_duplicate"'})
    A("endEvent", "EndEvent_Closed_Duplicate", "重复投诉结案", "Closed as duplicate", CS, 20, row=2)
    A("exclusiveGateway", "Gateway_Duplicate_Merge", None, None, CS, 20)
    A("exclusiveGateway", "Gateway_Legitimacy", "投诉是否正当?", "Complaint justified?", CS, 21)
    A("userTask", "Task_Draft_Explanation", "拟写解释答复", "Draft explanation", CS, 23, row=3,
      form="explanation.json", pre='status = "reconciling"', post='remedy = "explanation"')
    A("exclusiveGateway", "Gateway_Department", "责任部门", "Responsible department", CS, 22)
    for i, dept in enumerate(DEPTS):
        A("userTask", f"Task_Investigate_{camel(dept)}", f"调查处理({DEPT_ZH[dept]})",
          f"Investigate ({DEPT_EN[dept]})", dept, 23, form="investigate.json", pre='status = "investigating"')
        A("boundaryEvent", f"Event_SLA_Investigate_{camel(dept)}", "调查时限已到", "Investigation deadline passed",
          dept, 23, attached_to=f"Task_Investigate_{camel(dept)}", cancel=False,
          timer=("timeDate", "respond_due"))
    A("exclusiveGateway", "Gateway_Investigation_Merge", None, None, CS, 24)
    A("scriptTask", "Task_Derive_Strategy", "确定和解策略", "Derive strategy", CS, 25, script=s(
        'derived_strategy = {"company": "compensation", "customer": "rule_based", '
        '"unclear": "fuzzy_mediation"}[responsibility]',
        "strategy = derived_strategy",
        "override_strategy = False",
        "override_reason = None",
        'status = "reconciling"',
    ))
    A("userTask", "Task_Review_Strategy", "主管确认策略", "Supervisor confirms strategy", CS, 26,
      form="review_strategy.json", group="supervisor", post=s(
          "if not override_strategy:",
          "    strategy = derived_strategy",
          "strategy_overridden = strategy != derived_strategy",
      ))
    A("exclusiveGateway", "Gateway_Strategy", "和解策略", "Strategy", CS, 27)
    calls = [("Call_Rule_Based", "定性调解", "Rule-based handling", "strategy_rule_based", "rule_based"),
             ("Call_Compensation", "经济补偿", "Compensation", "strategy_compensation", "compensation"),
             ("Call_Fuzzy_Mediation", "模糊和解", "Fuzzy mediation", "strategy_fuzzy_mediation", "fuzzy_mediation")]
    for row, (cid, zh, en, called, code) in enumerate(calls):
        A("callActivity", cid, zh, en, CS, 28, row=row, called=called)
        A("boundaryEvent", f"Event_SLA_Resolve_{cid[5:]}", "处理时限已到", "Resolution deadline passed", CS, 28,
          attached_to=cid, cancel=False,
          timer=("timeDate", "mediation_due" if code == "fuzzy_mediation" else "resolve_due"))
    A("exclusiveGateway", "Gateway_Strategy_Merge", None, None, CS, 29)
    A("exclusiveGateway", "Gateway_Mediation_Agreed", "调解已达成?", "Mediation agreed?", CS, 30)
    A("exclusiveGateway", "Gateway_Respond_Merge", None, None, CS, 31)
    A("exclusiveGateway", "Gateway_Ladder_Return", None, None, CS, 32)
    A("serviceTask", "Task_Send_Response", "反馈处理结果", "Send response", CS, 33, op="notify",
      result="notification", post='status = "awaiting_customer"', params={
          "recipient_type": '"customer"', "template": '"response"',
          "subject": '"投诉处理结果 Result of your complaint " + reference',
          "body": 'answer or ""',
          "payload": '{"remedy": remedy, "compensation_kind": compensation_kind, '
                     '"compensation_amount": compensation_amount, "escalation_level": escalation_level}'})
    A("eventBasedGateway", "Gateway_Await_Response", "等待客户答复", "Await customer answer", CS, 34)
    A("intermediateCatchEvent", "Event_Customer_Response", "收到客户答复", "Customer answered", CS, 35,
      message="customer_response", message_var="customer_response")
    A("intermediateCatchEvent", "Event_Response_Timeout", "答复超时", "No answer in time", CS, 35, row=1,
      timer=("timeDuration", 'settings["response_timeout"]'))
    A("scriptTask", "Task_Record_Response", "记录客户答复", "Record customer answer", CS, 36, script=s(
        'customer_decision = customer_response.get("customer_decision")',
        'customer_comment = customer_response.get("comment")',
        'counter_proposal = customer_response.get("counter_proposal")',
        'escalation_reason = "rejected"',
    ))
    A("scriptTask", "Task_Deemed_Accepted", "视为接受", "Deemed accepted", CS, 36, row=1, script=s(
        'customer_decision = "accept"',
        "deemed_accepted = True",
    ))
    A("exclusiveGateway", "Gateway_Accepted", "客户接受?", "Customer accepts?", CS, 37)
    # escalation ladder
    A("exclusiveGateway", "Gateway_Ladder_Entry", None, None, CS, 38, row=2)
    A("serviceTask", "Task_Escalate", "内部升级", "Escalate internally", CS, 39, row=2, op="record_escalation",
      result="escalation", params={"reason": "escalation_reason", "raise_level": "True"})
    A("exclusiveGateway", "Gateway_Escalation_Level", "升级级别", "Escalation level", CS, 40, row=2)
    A("userTask", "Task_Senior_Rehandle", "资深专员重新处理", "Senior specialist re-handles", CS, 41, row=2,
      form="senior_rehandle.json", group="senior")
    A("userTask", "Task_Product_Options", "产品部提供方案选项", "Product proposes options", "product", 41, row=1,
      form="product_options.json")
    A("userTask", "Task_Cross_Department_Plan", "跨部门差异化方案", "Cross-department differentiated plan",
      "sales", 42, row=1, form="differentiated_plan.json")
    A("userTask", "Task_Management_Decision", "管理层最终决定", "Management's final decision", MG, 41,
      form="management_decision.json")
    A("exclusiveGateway", "Gateway_Ladder_Merge", None, None, CS, 43, row=2)
    # follow-up
    A("exclusiveGateway", "Gateway_Follow_Up_Merge", None, None, CS, 38)
    A("scriptTask", "Task_Mark_Resolved", "标记已解决", "Mark resolved", CS, 39, script=s(
        'status = "follow_up"',
        "resolved_at = now_iso()",
    ))
    A("intermediateCatchEvent", "Event_Follow_Up_Wait", "回访等待", "Wait before follow-up", CS, 40,
      timer=("timeDuration", 'settings["follow_up_wait"]'))
    A("serviceTask", "Task_Send_Survey", "发送满意度调查", "Send satisfaction survey", CS, 41, op="notify",
      result="notification", post='status = "awaiting_survey"', params={
          "recipient_type": '"customer"', "template": '"survey"',
          "subject": '"满意度调查 How did we do? " + reference'})
    A("eventBasedGateway", "Gateway_Await_Survey", "等待调查答复", "Await survey answer", CS, 42)
    A("intermediateCatchEvent", "Event_Survey_Answer", "收到调查答复", "Survey answered", CS, 43,
      message="survey_answer", message_var="survey_answer")
    A("intermediateCatchEvent", "Event_Survey_Timeout", "调查未答复", "Survey not answered", CS, 43, row=1,
      timer=("timeDuration", 'settings["survey_timeout"]'))
    A("scriptTask", "Task_Record_Survey", "记录调查结果", "Record survey answer", CS, 44, script=s(
        'satisfaction_score = survey_answer.get("satisfaction_score")',
        'resolved = survey_answer.get("resolved")',
        'survey_comment = survey_answer.get("comment")',
        'survey_channel = "portal"',
        'escalation_reason = "survey_dissatisfied"',
    ))
    A("userTask", "Task_Survey_Call", "电话回访", "Follow-up call", CS, 44, row=1, form="survey_call.json",
      post=s('survey_channel = "call"', 'escalation_reason = "survey_dissatisfied"'))
    A("exclusiveGateway", "Gateway_Survey_Merge", None, None, CS, 45)
    A("exclusiveGateway", "Gateway_Satisfied", "满意且已解决?", "Satisfied and resolved?", CS, 46)
    A("serviceTask", "Task_Archive", "结案归档", "Close and archive", CS, 47, op="archive", result="archive_result",
      params={"outcome": '"closed"'})
    A("exclusiveGateway", "Gateway_Defect", "发现缺陷?", "Defect found?", CS, 48)
    A("serviceTask", "Task_Start_Improvement", "启动整改", "Start improvement action", CS, 49, row=1,
      op="start_improvement_action", result="improvement", params={
          "department": "department", "due_days": 'settings["improvement_due_days"]',
          "root_cause": "root_cause"})
    A("exclusiveGateway", "Gateway_Defect_Merge", None, None, CS, 50)
    A("endEvent", "EndEvent_Closed", "结案", "Closed", CS, 51)
    # SLA breach
    A("exclusiveGateway", "Gateway_SLA_Merge", None, None, MG, 30, row=1)
    A("serviceTask", "Task_Record_SLA_Breach", "记录超时升级", "Record SLA breach", MG, 31, row=1,
      op="record_escalation", result="escalation", params={"reason": '"sla_breach"', "raise_level": "False"})
    A("serviceTask", "Task_Notify_SLA_Breach", "通知管理层(超时)", "Notify management of breach", MG, 32, row=1,
      op="notify", result="notification", params={
          "recipient_type": '"department"', "recipient": '"management"', "template": '"sla_breach"',
          "subject": '"投诉处理超时 SLA breached " + reference'})
    A("endEvent", "EndEvent_SLA_Breach_Reported", "已上报超时", "Breach reported", MG, 33, row=1)

    F = m.flow
    F("StartEvent_Complaint_Received", "Task_Init")
    F("Task_Init", "Gateway_Intake_Channel")
    F("Gateway_Intake_Channel", "Task_Register", 'channel in settings["agent_channels"]', "坐席登记", "Agent")
    F("Gateway_Intake_Channel", "Gateway_Intake_Merge", None, "自动受理", "Automatic", default=True)
    F("Task_Register", "Gateway_Intake_Merge")
    F("Gateway_Intake_Merge", "Gateway_Recheck")
    F("Gateway_Recheck", "Task_Check_Completeness")
    F("Task_Check_Completeness", "Gateway_Complete")
    F("Gateway_Complete", "Task_Acknowledge", "complete", "完整", "Complete")
    F("Gateway_Complete", "Task_Request_Details", None, "不完整", "Incomplete", default=True)
    F("Task_Request_Details", "Gateway_Await_Details")
    F("Gateway_Await_Details", "Event_Details_Received")
    F("Gateway_Await_Details", "Event_Details_Timeout")
    F("Event_Details_Received", "Gateway_Recheck", via=[("y", r(CS, 1) + 55), ("x", c(5))])
    F("Event_Details_Timeout", "Task_Archive_Incomplete")
    F("Task_Archive_Incomplete", "EndEvent_Closed_Incomplete")
    F("Task_Acknowledge", "Task_Classify")
    F("Task_Classify", "Task_Assess_Risk")
    F("Task_Assess_Risk", "Task_Route")
    F("Task_Route", "Task_Set_Deadlines")
    F("Task_Set_Deadlines", "Gateway_Critical")
    F("Gateway_Critical", "Task_Notify_Critical", 'severity == "critical" or safety_issue', "是", "Yes")
    F("Gateway_Critical", "Gateway_Critical_Merge", None, "否", "No", default=True)
    F("Task_Notify_Critical", "Gateway_Critical_Merge")
    F("Gateway_Critical_Merge", "Task_Check_Duplicates")
    F("Task_Check_Duplicates", "Gateway_Duplicate")
    F("Gateway_Duplicate", "Task_Review_Duplicate", "duplicate_of is not None", "疑似重复", "Possible duplicate")
    F("Gateway_Duplicate", "Gateway_Duplicate_Merge", None, "无重复", "No duplicate", default=True)
    F("Task_Review_Duplicate", "Gateway_Duplicate_Confirmed")
    F("Gateway_Duplicate_Confirmed", "Task_Archive_Duplicate", "is_duplicate", "确认重复", "Confirmed")
    F("Gateway_Duplicate_Confirmed", "Gateway_Duplicate_Merge", None, "不是重复", "Not a duplicate", default=True,
      via=[("x", c(20))])
    F("Task_Archive_Duplicate", "EndEvent_Closed_Duplicate")
    F("Gateway_Duplicate_Merge", "Gateway_Legitimacy")
    F("Gateway_Legitimacy", "Task_Draft_Explanation", 'legitimacy == "unjustified"', "非正当", "Unjustified")
    F("Gateway_Legitimacy", "Gateway_Department", None, "正当或双边责任", "Justified or shared", default=True)
    for i, dept in enumerate(DEPTS):
        task = f"Task_Investigate_{camel(dept)}"
        F("Gateway_Department", task, None if dept == CS else f'department == "{dept}"',
          DEPT_ZH[dept], DEPT_EN[dept], default=dept == CS)
        F(task, "Gateway_Investigation_Merge")
        n = m.nodes[f"Event_SLA_Investigate_{camel(dept)}"]
        lane_bottom = r(dept, 0) + m.row_h / 2
        F(n.id, "Gateway_SLA_Merge", via=[("y", lane_bottom - 8), ("x", c(29) + 35 + 9 * i),
                                         ("y", r(MG, 1))])
    F("Event_SLA_Accept", "Gateway_SLA_Merge", via=[("y", r(CS, 0) + 64), ("x", c(9) + 75), ("y", r(MG, 1))])
    F("Gateway_Investigation_Merge", "Task_Derive_Strategy")
    F("Task_Derive_Strategy", "Task_Review_Strategy")
    F("Task_Review_Strategy", "Gateway_Strategy")
    for row, (cid, zh, en, called, code) in enumerate(calls):
        F("Gateway_Strategy", cid, f'strategy == "{code}"', zh, en)
        F(cid, "Gateway_Strategy_Merge")
        b = f"Event_SLA_Resolve_{cid[5:]}"
        F(b, "Gateway_SLA_Merge", via=[("y", r(CS, row) + 64), ("x", c(29) + 35 + 9 * (5 + row)),
                                       ("y", r(MG, 1))])
    F("Gateway_Strategy_Merge", "Gateway_Mediation_Agreed")
    F("Gateway_Mediation_Agreed", "Gateway_Follow_Up_Merge", "mediation_agreed", "已达成", "Agreed",
      via=[("y", r(CS, 0) - 55), ("x", c(38))])
    F("Gateway_Mediation_Agreed", "Gateway_Respond_Merge", None, "未达成", "Not agreed", default=True)
    F("Task_Draft_Explanation", "Gateway_Respond_Merge", via=[("x", c(31))])
    F("Gateway_Respond_Merge", "Gateway_Ladder_Return")
    F("Gateway_Ladder_Return", "Task_Send_Response")
    F("Task_Send_Response", "Gateway_Await_Response")
    F("Gateway_Await_Response", "Event_Customer_Response")
    F("Gateway_Await_Response", "Event_Response_Timeout")
    F("Event_Customer_Response", "Task_Record_Response")
    F("Event_Response_Timeout", "Task_Deemed_Accepted")
    F("Task_Record_Response", "Gateway_Accepted")
    F("Task_Deemed_Accepted", "Gateway_Follow_Up_Merge")
    F("Gateway_Accepted", "Gateway_Follow_Up_Merge", 'customer_decision == "accept" or escalation_level >= 4',
      "接受(或已是最终决定)", "Accepted (or final decision)")
    F("Gateway_Accepted", "Gateway_Ladder_Entry", None, "拒绝", "Rejected", default=True)
    F("Gateway_Ladder_Entry", "Task_Escalate")
    F("Task_Escalate", "Gateway_Escalation_Level")
    F("Gateway_Escalation_Level", "Task_Senior_Rehandle", "escalation_level == 2", "二级", "Level 2")
    F("Gateway_Escalation_Level", "Task_Product_Options", "escalation_level == 3", "三级", "Level 3")
    F("Gateway_Escalation_Level", "Task_Management_Decision", "escalation_level >= 4", "四级", "Level 4")
    F("Task_Product_Options", "Task_Cross_Department_Plan")
    F("Task_Senior_Rehandle", "Gateway_Ladder_Merge")
    F("Task_Cross_Department_Plan", "Gateway_Ladder_Merge")
    F("Task_Management_Decision", "Gateway_Ladder_Merge")
    F("Gateway_Ladder_Merge", "Gateway_Ladder_Return", via=[("y", r(CS, 2) + 60), ("x", c(32))])
    F("Gateway_Follow_Up_Merge", "Task_Mark_Resolved")
    F("Task_Mark_Resolved", "Event_Follow_Up_Wait")
    F("Event_Follow_Up_Wait", "Task_Send_Survey")
    F("Task_Send_Survey", "Gateway_Await_Survey")
    F("Gateway_Await_Survey", "Event_Survey_Answer")
    F("Gateway_Await_Survey", "Event_Survey_Timeout")
    F("Event_Survey_Answer", "Task_Record_Survey")
    F("Event_Survey_Timeout", "Task_Survey_Call")
    F("Task_Record_Survey", "Gateway_Survey_Merge")
    F("Task_Survey_Call", "Gateway_Survey_Merge")
    F("Gateway_Survey_Merge", "Gateway_Satisfied")
    F("Gateway_Satisfied", "Gateway_Ladder_Entry",
      "escalation_level < 4 and ((satisfaction_score is not None and satisfaction_score <= 2) or resolved == False)",
      "不满意或未解决:重新打开", "Dissatisfied or unresolved: reopen", via=[("y", r(CS, 3)), ("x", c(38))])
    F("Gateway_Satisfied", "Task_Archive", None, "满意", "Satisfied", default=True)
    F("Task_Archive", "Gateway_Defect")
    F("Gateway_Defect", "Task_Start_Improvement", "is_defect", "是", "Yes")
    F("Gateway_Defect", "Gateway_Defect_Merge", None, "否", "No", default=True)
    F("Task_Start_Improvement", "Gateway_Defect_Merge")
    F("Gateway_Defect_Merge", "EndEvent_Closed")
    F("Gateway_SLA_Merge", "Task_Record_SLA_Breach")
    F("Task_Record_SLA_Breach", "Task_Notify_SLA_Breach")
    F("Task_Notify_SLA_Breach", "EndEvent_SLA_Breach_Reported")

    M = m.msg_flow
    M("MessageFlow_Complaint", "Customer", "StartEvent_Complaint_Received", "投诉 Complaint")
    M("MessageFlow_Request_Details", "Task_Request_Details", "Customer", "补充信息请求 Request for details")
    M("MessageFlow_Customer_Details", "Customer", "Event_Details_Received", "补充信息 customer_details",
      "customer_details")
    M("MessageFlow_Acknowledgement", "Task_Acknowledge", "Customer", "受理确认 Acknowledgement")
    M("MessageFlow_Response", "Task_Send_Response", "Customer", "处理结果 Response")
    M("MessageFlow_Customer_Response", "Customer", "Event_Customer_Response", "客户答复 customer_response",
      "customer_response")
    M("MessageFlow_Mediation_Proposal", "Call_Fuzzy_Mediation", "Customer", "调解方案 Mediation proposal")
    M("MessageFlow_Survey", "Task_Send_Survey", "Customer", "满意度调查 Survey")
    M("MessageFlow_Survey_Answer", "Customer", "Event_Survey_Answer", "调查答复 survey_answer", "survey_answer")
    M("MessageFlow_Follow_Up_Call", "Task_Survey_Call", "Customer", "回访电话 Follow-up call")
    return m


# ------------------------------------------------------------------ strategies
def rule_based():
    m = Model("strategy_rule_based", "定性调解", "定性调解 Rule-based handling", [(CS, 1)], customer=False)
    A, F = m.add, m.flow
    A("startEvent", "StartEvent_Rule_Based", "开始定性调解", "Rule-based handling starts", CS, 0)
    A("businessRuleTask", "Task_Apply_Policy", "按政策确定补救措施", "Apply remedy policy", CS, 1,
      decision="rule_policy")
    A("userTask", "Task_Draft_Rule_Answer", "按政策拟写答复", "Draft answer under the policy", CS, 2,
      form="draft_rule_answer.json")
    A("endEvent", "EndEvent_Rule_Based", "答复已拟定", "Answer drafted", CS, 3)
    F("StartEvent_Rule_Based", "Task_Apply_Policy")
    F("Task_Apply_Policy", "Task_Draft_Rule_Answer")
    F("Task_Draft_Rule_Answer", "EndEvent_Rule_Based")
    return m


def compensation():
    m = Model("strategy_compensation", "经济补偿", "经济补偿 Compensation", [(CS, 2), (MG, 1)], customer=False)
    A, F, r, c = m.add, m.flow, m.row_cy, m.col_cx
    A("startEvent", "StartEvent_Compensation", "开始经济补偿", "Compensation starts", CS, 0)
    A("serviceTask", "Task_Notify_Supervisor", "立即上报主管", "Escalate to supervisor at once", CS, 1,
      op="notify", result="notification", params={
          "recipient_type": '"role"', "recipient": '"supervisor"', "template": '"compensation_escalation"',
          "subject": '"公司责任投诉,启动经济补偿 Company at fault: compensation " + reference'})
    A("businessRuleTask", "Task_Propose_Compensation", "按政策建议补偿", "Propose compensation", CS, 2,
      decision="compensation_policy")
    A("exclusiveGateway", "Gateway_Revision_Merge", None, None, CS, 3)
    A("serviceTask", "Task_Check_Budget", "核对部门预算", "Check department budget", CS, 4, op="check_budget",
      result="budget", params={"department": "department", "amount": "compensation_amount",
                               "default_budget": 'settings["default_monthly_budget"]'})
    A("exclusiveGateway", "Gateway_Needs_Approval", "需要审批?", "Needs approval?", CS, 5)
    A("userTask", "Task_Approve_Compensation", "管理层审批补偿", "Management approves compensation", MG, 6,
      form="approve_compensation.json", pre='status = "awaiting_approval"', post=s(
          'approved = approval_decision != "refuse"',
          'if approval_decision == "change_amount":',
          "    compensation_amount = approved_amount",
          'status = "reconciling"',
      ))
    A("exclusiveGateway", "Gateway_Approval_Decision", "审批结果", "Approval decision", MG, 7)
    A("userTask", "Task_Revise_Offer", "修改补偿方案", "Revise the offer", CS, 7, row=1,
      form="revise_compensation.json")
    A("exclusiveGateway", "Gateway_Approved_Merge", None, None, CS, 8)
    A("serviceTask", "Task_Issue_Compensation", "记入补偿台账", "Record compensation in the ledger", CS, 9,
      op="issue_compensation", result="ledger", params={
          "department": "department", "kind": "compensation_kind", "amount": "compensation_amount",
          "approved": "approved == True"})
    A("scriptTask", "Task_Compose_Offer", "生成补偿答复", "Compose the offer", CS, 10, script=s(
        'remedy = "compensation"',
        'kinds = {"points": ["积分", "points"], "coupon": ["优惠券", "coupon"], "refund": ["退款", "refund"], '
        '"cash": ["现金补偿", "cash"]}',
        "kind = kinds.get(compensation_kind, [str(compensation_kind), str(compensation_kind)])",
        'answer = ("经核实,责任在我方,我们深表歉意,并向您提供" + kind[0] + " " + str(compensation_amount) + "。"'
        ' + " We are sorry: the fault is ours. We offer you " + kind[1] + " " + str(compensation_amount) + ".")',
        "del kinds, kind",
    ))
    A("endEvent", "EndEvent_Compensation", "补偿方案已确定", "Offer made", CS, 11)
    F("StartEvent_Compensation", "Task_Notify_Supervisor")
    F("Task_Notify_Supervisor", "Task_Propose_Compensation")
    F("Task_Propose_Compensation", "Gateway_Revision_Merge")
    F("Gateway_Revision_Merge", "Task_Check_Budget")
    F("Task_Check_Budget", "Gateway_Needs_Approval")
    F("Gateway_Needs_Approval", "Task_Approve_Compensation",
      'over_budget or compensation_amount > settings["compensation_approval_threshold"]',
      "超阈值或超预算", "Above threshold or over budget")
    F("Gateway_Needs_Approval", "Gateway_Approved_Merge", None, "权限内", "Within authority", default=True)
    F("Task_Approve_Compensation", "Gateway_Approval_Decision")
    F("Gateway_Approval_Decision", "Task_Revise_Offer", 'approval_decision == "refuse"', "拒绝", "Refused")
    F("Gateway_Approval_Decision", "Gateway_Approved_Merge", None, "批准", "Approved", default=True,
      via=[("x", c(8))])
    F("Task_Revise_Offer", "Gateway_Revision_Merge", via=[("x", c(3))])
    F("Gateway_Approved_Merge", "Task_Issue_Compensation")
    F("Task_Issue_Compensation", "Task_Compose_Offer")
    F("Task_Compose_Offer", "EndEvent_Compensation")
    del r
    return m


def mediation():
    m = Model("strategy_fuzzy_mediation", "模糊和解", "模糊和解 Fuzzy mediation", [(CS, 3), (MG, 1)])
    A, F, r, c = m.add, m.flow, m.row_cy, m.col_cx
    A("startEvent", "StartEvent_Mediation", "开始调解", "Mediation starts", CS, 0)
    A("scriptTask", "Task_Init_Mediation", "准备调解", "Prepare mediation", CS, 1, script=s(
        "mediation_round = 0",
        'max_mediation_rounds = settings["max_mediation_rounds"]',
        "mediation_agreed = False",
        "counter_proposal = None",
        "proposal_amount = None",
        'status = "reconciling"',
    ))
    A("exclusiveGateway", "Gateway_Round_Merge", None, None, CS, 2)
    A("userTask", "Task_Mediate", "记录双方立场并提出折中方案", "Record positions and propose a compromise", CS, 3,
      form="mediation_proposal.json", post="mediation_round = mediation_round + 1")
    A("serviceTask", "Task_Send_Proposal", "向客户发送调解方案", "Send proposal to the customer", CS, 4,
      op="notify", result="notification", post='status = "awaiting_customer"', params={
          "recipient_type": '"customer"', "template": '"mediation_proposal"',
          "subject": '"调解方案 Mediation proposal " + reference',
          "body": "proposal",
          "payload": '{"round": mediation_round, "max_rounds": max_mediation_rounds, "proposal": proposal, '
                     '"proposal_amount": proposal_amount}'})
    A("eventBasedGateway", "Gateway_Await_Mediation", "等待客户答复", "Await customer answer", CS, 5)
    A("intermediateCatchEvent", "Event_Mediation_Response", "收到客户答复", "Customer answered", CS, 6,
      message="customer_response", message_var="customer_response")
    A("intermediateCatchEvent", "Event_Mediation_Timeout", "答复超时", "No answer in time", CS, 6, row=1,
      timer=("timeDuration", 'settings["mediation_response_timeout"]'))
    A("scriptTask", "Task_Record_Mediation_Response", "记录客户答复", "Record customer answer", CS, 7, script=s(
        'customer_decision = customer_response.get("customer_decision")',
        'customer_comment = customer_response.get("comment")',
        'counter_proposal = customer_response.get("counter_proposal")',
        'status = "reconciling"',
    ))
    A("exclusiveGateway", "Gateway_Mediation_Outcome", "客户意见", "Customer's answer", CS, 8)
    A("scriptTask", "Task_Record_Agreement", "记录和解协议", "Record the settlement", CS, 9, script=s(
        "mediation_agreed = True",
        'remedy = "settlement"',
        "answer = proposal",
        "if proposal_amount:",
        "    compensation_amount = proposal_amount",
    ))
    A("endEvent", "EndEvent_Mediation_Agreed", "达成和解", "Settlement reached", CS, 10)
    A("exclusiveGateway", "Gateway_Rounds_Left", "还有调解轮次?", "Rounds left?", CS, 8, row=2)
    A("userTask", "Task_Management_Mediation_Decision", "管理层裁决", "Management decides", MG, 9,
      form="management_decision.json", pre='status = "escalated"', post="mediation_agreed = False")
    A("endEvent", "EndEvent_Management_Decided", "管理层已裁决", "Management decided", MG, 10)
    F("StartEvent_Mediation", "Task_Init_Mediation")
    F("Task_Init_Mediation", "Gateway_Round_Merge")
    F("Gateway_Round_Merge", "Task_Mediate")
    F("Task_Mediate", "Task_Send_Proposal")
    F("Task_Send_Proposal", "Gateway_Await_Mediation")
    F("Gateway_Await_Mediation", "Event_Mediation_Response")
    F("Gateway_Await_Mediation", "Event_Mediation_Timeout")
    F("Event_Mediation_Response", "Task_Record_Mediation_Response")
    F("Task_Record_Mediation_Response", "Gateway_Mediation_Outcome")
    F("Gateway_Mediation_Outcome", "Task_Record_Agreement", 'customer_decision == "accept"', "接受", "Accepted")
    F("Gateway_Mediation_Outcome", "Gateway_Rounds_Left", None, "还价或拒绝", "Counter or reject", default=True)
    F("Gateway_Rounds_Left", "Gateway_Round_Merge", "mediation_round < max_mediation_rounds", "再议", "Another round",
      via=[("x", c(2))])
    F("Gateway_Rounds_Left", "Task_Management_Mediation_Decision", None, "轮次用尽", "Rounds used up",
      default=True)
    F("Event_Mediation_Timeout", "Task_Management_Mediation_Decision",
      via=[("x", c(9) - 75), ("y", r(MG, 0))])
    F("Task_Record_Agreement", "EndEvent_Mediation_Agreed")
    F("Task_Management_Mediation_Decision", "EndEvent_Management_Decided")
    M = m.msg_flow
    M("MessageFlow_Mediation_Proposal", "Task_Send_Proposal", "Customer", "调解方案 Mediation proposal")
    M("MessageFlow_Mediation_Response", "Customer", "Event_Mediation_Response", "客户答复 customer_response",
      "customer_response")
    return m


def improvement():
    m = Model("improvement_action", "整改", "整改 Improvement action",
              [(CS, 1), ("sales", 1), ("product", 1), ("technical", 1), ("after_sales", 1), (MG, 2)],
              customer=False)
    A, F, r, c = m.add, m.flow, m.row_cy, m.col_cx
    A("startEvent", "StartEvent_Improvement", "整改开始", "Improvement action starts", MG, 0)
    A("exclusiveGateway", "Gateway_Owner", "责任部门", "Owner department", MG, 1)
    for dept in DEPTS:
        A("userTask", f"Task_Improve_{camel(dept)}", f"实施整改({DEPT_ZH[dept]})", f"Carry out ({DEPT_EN[dept]})",
          dept, 2, form="improvement_action.json")
        A("boundaryEvent", f"Event_Improvement_Overdue_{camel(dept)}", "整改逾期", "Action overdue", dept, 2,
          attached_to=f"Task_Improve_{camel(dept)}", cancel=False, timer=("timeDate", "due_date"))
    A("exclusiveGateway", "Gateway_Owner_Merge", None, None, MG, 3)
    A("serviceTask", "Task_Complete_Improvement", "整改完成登记", "Record completion", MG, 4,
      op="complete_improvement_action", result="improvement_result",
      params={"improvement_action_id": "improvement_action_id", "action_taken": "action_taken"})
    A("endEvent", "EndEvent_Improvement_Done", "整改完成", "Action completed", MG, 5)
    A("exclusiveGateway", "Gateway_Overdue_Merge", None, None, MG, 3, row=1)
    A("serviceTask", "Task_Notify_Overdue", "通知管理层(整改逾期)", "Notify management: overdue", MG, 4, row=1,
      op="notify", result="notification", params={
          "recipient_type": '"department"', "recipient": '"management"', "template": '"improvement_overdue"',
          "subject": '"整改逾期 Improvement action overdue " + reference'})
    A("endEvent", "EndEvent_Overdue_Reported", "已上报逾期", "Overdue reported", MG, 5, row=1)
    F("StartEvent_Improvement", "Gateway_Owner")
    for i, dept in enumerate(DEPTS):
        task = f"Task_Improve_{camel(dept)}"
        F("Gateway_Owner", task, None if dept == "product" else f'department == "{dept}"', DEPT_ZH[dept],
          DEPT_EN[dept], default=dept == "product")
        F(task, "Gateway_Owner_Merge")
        lane_bottom = r(dept, 0) + m.row_h / 2
        F(f"Event_Improvement_Overdue_{camel(dept)}", "Gateway_Overdue_Merge",
          via=[("y", lane_bottom - 8), ("x", c(2) + 70 + 6 * i), ("y", r(MG, 1))])
    F("Gateway_Owner_Merge", "Task_Complete_Improvement")
    F("Task_Complete_Improvement", "EndEvent_Improvement_Done")
    F("Gateway_Overdue_Merge", "Task_Notify_Overdue")
    F("Task_Notify_Overdue", "EndEvent_Overdue_Reported")
    return m


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for fname, fn in [("complaint.bpmn", complaint), ("strategy_rule_based.bpmn", rule_based),
                      ("strategy_compensation.bpmn", compensation),
                      ("strategy_fuzzy_mediation.bpmn", mediation), ("improvement_action.bpmn", improvement)]:
        (OUT / fname).write_bytes(fn().build())
        print("wrote", OUT / fname)
