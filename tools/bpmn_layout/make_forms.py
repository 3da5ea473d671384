"""Writes forms/*.json (JSON Schema 2020-12 with x-ui hints). Run from the repository root: python tools/bpmn_layout/make_forms.py forms"""

import json
import sys
from pathlib import Path

OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "out")
SCHEMA = "https://json-schema.org/draft/2020-12/schema"


def L(zh, en):
    return {"zh-CN": zh, "en": en}


ENUMS = {
    "category": {
        "product_quality": L("产品质量", "Product quality"),
        "service_attitude": L("服务态度", "Service attitude"),
        "logistics_delivery": L("物流配送", "Logistics and delivery"),
        "sales_misrepresentation": L("销售误导", "Sales misrepresentation"),
        "price_billing": L("价格与账单", "Price and billing"),
        "technical_fault": L("技术故障", "Technical fault"),
        "after_sales_repair": L("售后维修", "After-sales repair"),
        "other": L("其他", "Other"),
    },
    "severity": {
        "low": L("低", "Low"), "medium": L("中", "Medium"), "high": L("高", "High"),
        "critical": L("严重", "Critical"),
    },
    "legitimacy": {
        "justified": L("正当理由", "Justified"), "unjustified": L("非正当理由", "Unjustified"),
        "shared": L("双边责任", "Shared responsibility"),
    },
    "responsibility": {
        "company": L("我方责任", "The company"), "customer": L("客户责任", "The customer"),
        "unclear": L("责任不明", "Unclear"),
    },
    "strategy": {
        "rule_based": L("定性调解", "Rule-based"), "compensation": L("经济补偿", "Compensation"),
        "fuzzy_mediation": L("模糊和解", "Fuzzy mediation"),
    },
    "remedy": {
        "repair": L("维修", "Repair"), "replace": L("换货", "Replace"), "refund": L("退款", "Refund"),
        "explanation": L("解释说明", "Explanation"), "paid_service": L("付费服务", "Paid service"),
        "compensation": L("经济补偿", "Compensation"), "settlement": L("和解方案", "Settlement"),
    },
    "compensation_kind": {
        "points": L("积分", "Points"), "coupon": L("优惠券", "Coupon"), "refund": L("退款", "Refund"),
        "cash": L("现金", "Cash"),
    },
    "customer_tier": {
        "standard": L("普通", "Standard"), "silver": L("银卡", "Silver"), "gold": L("金卡", "Gold"),
        "vip": L("VIP", "VIP"),
    },
    "warranty_status": {
        "in_warranty": L("保修期内", "In warranty"), "out_of_warranty": L("已过保", "Out of warranty"),
        "return_period": L("七日无理由退货期内", "Within the 7-day return period"),
        "not_applicable": L("不适用", "Not applicable"),
    },
    "approval_decision": {
        "approve": L("批准", "Approve"), "change_amount": L("调整金额后批准", "Approve a changed amount"),
        "refuse": L("拒绝", "Refuse"),
    },
}


def prop(label, widget, help=None, **schema):
    ui = {"widget": widget, "label": label}
    if help:
        ui["help"] = help
    enum_name = schema.pop("enum_of", None)
    if enum_name:
        schema["enum"] = list(ENUMS[enum_name])
        ui["enum_labels"] = ENUMS[enum_name]
    return {**schema, "x-ui": ui}


def text(zh, en, max_length=300, help=None, **kw):
    return prop(L(zh, en), "text", help, type="string", maxLength=max_length, **kw)


def area(zh, en, max_length=5000, help=None, **kw):
    return prop(L(zh, en), "textarea", help, type="string", maxLength=max_length, **kw)


def money(zh, en, maximum=1000000, help=None):
    return prop(L(zh, en), "money", help, type="number", minimum=0, maximum=maximum, multipleOf=0.01)


def boolean(zh, en, help=None, widget="checkbox"):
    return prop(L(zh, en), widget, help, type="boolean")


def select(zh, en, enum, widget="select", help=None):
    return prop(L(zh, en), widget, help, type="string", enum_of=enum)


def files(zh, en, help=None):
    return prop(L(zh, en), "file", help, type="array", maxItems=20,
                items={"type": "string", "maxLength": 500})


def form(title_zh, title_en, properties, required, order=None, **extra):
    return {
        "$schema": SCHEMA,
        "type": "object",
        "title": title_en,
        "x-ui": {"title": L(title_zh, title_en), "order": order or list(properties)},
        "properties": properties,
        "required": required,
        "additionalProperties": False,
        **extra,
    }


def answer_props(remedy=True):
    p = {"answer": area("给客户的答复", "Answer to the customer", 5000,
                        L("说明结果和理由,先处理情绪再处理问题。", "Give the result and the reasons; acknowledge the "
                          "customer's feelings first."))}
    if remedy:
        p["remedy"] = select("补救措施", "Remedy", "remedy")
    return p


FORMS = {
    "register.json": form("登记投诉", "Register a complaint", {
        "customer_name": text("客户姓名", "Customer name", 200),
        "customer_phone": text("联系电话", "Phone", 40, pattern=r"^[0-9+\- ]{5,40}$"),
        "customer_email": text("电子邮箱", "Email", 200, format="email"),
        "customer_address": text("地址", "Address", 500),
        "customer_tier": select("客户等级", "Customer tier", "customer_tier"),
        "subject": text("投诉事项", "Subject", 300, L("涉及的产品或服务", "The product or service concerned")),
        "description": area("投诉内容(客户原话)", "Description in the customer's words"),
        "remedy_sought": area("客户诉求", "Remedy sought", 2000),
        "product": text("产品", "Product", 200),
        "order_number": text("订单号", "Order number", 100),
        "order_value": money("订单金额", "Order value"),
        "occurred_at": prop(L("发生时间", "When it happened"), "date", None, type="string", format="date"),
        "occurred_where": text("发生地点", "Where it happened", 300),
        "safety_issue": boolean("涉及人身安全", "Safety issue",
                                L("涉及安全的投诉一律按严重处理。", "A safety issue is always critical.")),
        "attachments": files("附件", "Attachments"),
    }, ["customer_name", "subject", "description", "remedy_sought"],
        anyOf=[{"required": ["customer_phone"]}, {"required": ["customer_email"]}]),
    "classify.json": form("分类与初步评估", "Classify and assess", {
        "category": select("投诉类别", "Category", "category"),
        "severity": select("严重程度", "Severity", "severity", "radio"),
        "safety_issue": boolean("涉及人身安全", "Safety issue",
                                L("勾选后严重程度自动设为严重并立即通知管理层。",
                                  "Sets severity to critical and notifies management at once.")),
        "legitimacy": select("投诉性质", "Legitimacy", "legitimacy", "radio",
                             L("非正当理由的投诉直接解释答复,不转部门调查。",
                               "An unjustified complaint gets an explanation without department investigation.")),
        "customer_tier": select("客户等级", "Customer tier", "customer_tier"),
        "classification_note": area("评估说明", "Assessment note", 2000),
    }, ["category", "severity", "safety_issue", "legitimacy"]),
    "review_duplicate.json": form("核实重复投诉", "Review a possible duplicate", {
        "is_duplicate": boolean("确认为重复投诉", "Confirmed duplicate",
                                L("确认后本投诉并入原投诉结案。", "Closes this complaint, linked to the earlier one."),
                                "radio"),
        "duplicate_note": area("说明", "Note", 2000),
    }, ["is_duplicate"]),
    "investigate.json": form("调查处理", "Investigate", {
        "findings": area("调查事实", "Findings"),
        "evidence": files("证据", "Evidence"),
        "root_cause": area("根本原因", "Root cause", 2000),
        "is_defect": boolean("属于产品/服务缺陷", "A defect",
                             L("是缺陷则结案时启动整改。", "A defect starts an improvement action at closing.")),
        "responsibility": select("责任方", "Responsibility", "responsibility", "radio",
                                 L("决定和解策略:我方→经济补偿,客户→定性调解,不明→模糊和解。",
                                   "Decides the strategy: company → compensation, customer → rule-based, "
                                   "unclear → fuzzy mediation.")),
        "warranty_status": select("保修状态", "Warranty status", "warranty_status"),
        "order_value": money("订单金额", "Order value"),
    }, ["findings", "root_cause", "is_defect", "responsibility", "warranty_status"]),
    "explanation.json": form("拟写解释答复", "Draft an explanation", {
        **answer_props(remedy=False),
        "policy_reference": text("依据的规定", "Rule or policy referred to", 300),
    }, ["answer"]),
    "review_strategy.json": form("主管确认和解策略", "Confirm the reconciliation strategy", {
        "override_strategy": boolean("改变策略", "Change the strategy"),
        "strategy": select("和解策略", "Strategy", "strategy", "radio"),
        "override_reason": area("改变理由", "Reason for the change", 2000),
    }, ["override_strategy"],
        **{"if": {"properties": {"override_strategy": {"const": True}}},
           "then": {"required": ["strategy", "override_reason"]}}),
    "draft_rule_answer.json": form("按政策拟写答复", "Draft the answer under the policy", {
        "remedy": select("补救措施", "Remedy", "remedy", help=L("默认取政策表建议。", "Proposed by the policy table.")),
        "answer": answer_props()["answer"],
        "policy_reference": text("依据的规定", "Policy referred to", 300),
    }, ["remedy", "answer"]),
    "approve_compensation.json": form("审批补偿", "Approve compensation", {
        "approval_decision": select("审批意见", "Decision", "approval_decision", "radio"),
        "approved_amount": money("批准金额", "Approved amount"),
        "refusal_reason": area("拒绝理由", "Reason for refusal", 2000),
    }, ["approval_decision"], allOf=[
        {"if": {"properties": {"approval_decision": {"const": "change_amount"}}},
         "then": {"required": ["approved_amount"]}},
        {"if": {"properties": {"approval_decision": {"const": "refuse"}}},
         "then": {"required": ["refusal_reason"]}},
    ]),
    "revise_compensation.json": form("修改补偿方案", "Revise the compensation offer", {
        "compensation_kind": select("补偿方式", "Kind", "compensation_kind", "radio"),
        "compensation_amount": money("补偿金额", "Amount"),
        "revision_note": area("修改说明", "What changed and why", 2000),
    }, ["compensation_kind", "compensation_amount", "revision_note"]),
    "mediation_proposal.json": form("调解:双方立场与折中方案", "Mediation: positions and proposal", {
        "company_position": area("我方立场", "Company's position", 3000),
        "customer_position": area("客户立场", "Customer's position", 3000),
        "proposal": area("折中方案", "Compromise proposal", 3000,
                         L("双方各让一步,寻找新的平衡点。", "Both sides give ground to find a new balance point.")),
        "proposal_amount": money("方案金额", "Amount offered"),
    }, ["company_position", "customer_position", "proposal"]),
    "management_decision.json": form("管理层决定", "Management decision", {
        "decision_reason": area("决定理由", "Reasons", 3000),
        **answer_props(),
        "compensation_kind": select("补偿方式", "Compensation kind", "compensation_kind"),
        "compensation_amount": money("补偿金额", "Compensation amount"),
    }, ["decision_reason", "answer", "remedy"]),
    "senior_rehandle.json": form("资深专员重新处理", "Senior specialist re-handles", {
        "review_note": area("复核意见", "Review of the earlier answer", 3000),
        **answer_props(),
        "compensation_kind": select("补偿方式", "Compensation kind", "compensation_kind"),
        "compensation_amount": money("补偿金额", "Compensation amount"),
    }, ["review_note", "answer", "remedy"]),
    "product_options.json": form("产品部方案选项", "Product's options", {
        "product_options": area("可提供的产品方案", "What product can offer", 3000,
                                L("如升级、替换型号、定制服务。", "Upgrade, another model, a tailored service.")),
        "can_replace": boolean("可提供替换产品", "Replacement available"),
    }, ["product_options"]),
    "differentiated_plan.json": form("跨部门差异化方案", "Cross-department differentiated plan", {
        "plan": area("差异化方案", "Differentiated plan", 3000,
                     L("结合销售、产品、市场资源。", "Combine sales, product and marketing resources.")),
        **answer_props(),
        "compensation_kind": select("补偿方式", "Compensation kind", "compensation_kind"),
        "compensation_amount": money("补偿金额", "Compensation amount"),
    }, ["plan", "answer", "remedy"]),
    "survey_call.json": form("电话回访", "Follow-up call", {
        "reached": boolean("联系上客户", "Reached the customer", widget="radio"),
        "satisfaction_score": prop(L("满意度(1-5)", "Satisfaction (1-5)"), "radio",
                                   L("1 很不满意,5 很满意", "1 very dissatisfied, 5 very satisfied"),
                                   type="integer", minimum=1, maximum=5),
        "resolved": boolean("问题已解决", "Resolved", widget="radio"),
        "comment": area("客户意见", "Customer's comment", 2000),
    }, ["reached"], **{"if": {"properties": {"reached": {"const": True}}},
                       "then": {"required": ["satisfaction_score", "resolved"]}}),
    "improvement_action.json": form("实施整改", "Carry out the improvement action", {
        "action_taken": area("整改措施", "Action taken", 5000),
        "evidence": files("整改证据", "Evidence"),
        "verified": boolean("已验证有效", "Verified effective"),
    }, ["action_taken", "verified"]),
}


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for name, schema in FORMS.items():
        (OUT / name).write_text(json.dumps(schema, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print("wrote", OUT / name)
