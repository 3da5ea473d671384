"""Writes bpmn/*.dmn for Redress. Run from the repository root: python tools/bpmn_layout/make_dmn.py bpmn"""

import sys
from pathlib import Path

from lxml import etree

DMN = "https://www.omg.org/spec/DMN/20191111/MODEL/"
DMNDI = "https://www.omg.org/spec/DMN/20191111/DMNDI/"
DC = "http://www.omg.org/spec/DMN/20180521/DC/"
NSMAP = {None: DMN, "dmndi": DMNDI, "dc": DC}
OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "out")


def q(tag, ns=DMN):
    return f"{{{ns}}}{tag}"


def table(decision_id, name, hit_policy, inputs, outputs, rules):
    """inputs: [(id, label, expression, typeRef)], outputs: [(id, label, name, typeRef)],
    rules: [(description, [input entries], [output entries])]"""
    defs = etree.Element(q("definitions"), nsmap=NSMAP, id=f"Definitions_{decision_id}", name=name,
                         namespace="https://redress.example/dmn")
    dec = etree.SubElement(defs, q("decision"), id=decision_id, name=name)
    dt = etree.SubElement(dec, q("decisionTable"), id=f"DecisionTable_{decision_id}", hitPolicy=hit_policy)
    for iid, label, expr, type_ref in inputs:
        inp = etree.SubElement(dt, q("input"), id=f"Input_{iid}", label=label)
        ie = etree.SubElement(inp, q("inputExpression"), id=f"InputExpression_{iid}", typeRef=type_ref)
        etree.SubElement(ie, q("text")).text = expr
    for oid, label, oname, type_ref in outputs:
        etree.SubElement(dt, q("output"), id=f"Output_{oid}", label=label, name=oname, typeRef=type_ref)
    for n, (desc, ins, outs) in enumerate(rules, 1):
        rule = etree.SubElement(dt, q("rule"), id=f"Rule_{decision_id}_{n}")
        if desc:
            etree.SubElement(rule, q("description")).text = desc
        for k, text in enumerate(ins):
            e = etree.SubElement(rule, q("inputEntry"), id=f"InputEntry_{decision_id}_{n}_{k}")
            etree.SubElement(e, q("text")).text = text
        for k, text in enumerate(outs):
            e = etree.SubElement(rule, q("outputEntry"), id=f"OutputEntry_{decision_id}_{n}_{k}")
            etree.SubElement(e, q("text")).text = text
    di = etree.SubElement(defs, q("DMNDI", DMNDI))
    diagram = etree.SubElement(di, q("DMNDiagram", DMNDI), id=f"DMNDiagram_{decision_id}")
    shape = etree.SubElement(diagram, q("DMNShape", DMNDI), id=f"DMNShape_{decision_id}", dmnElementRef=decision_id)
    etree.SubElement(shape, q("Bounds", DC), height="80", width="180", x="160", y="100")
    etree.indent(defs, space="  ")
    return etree.tostring(defs, xml_declaration=True, encoding="UTF-8", pretty_print=True)


CATEGORY_DEPT = [
    ("product_quality", "product", "产品质量→产品部"),
    ("service_attitude", "customer_service", "服务态度→客服部"),
    ("logistics_delivery", "after_sales", "物流配送→售后部"),
    ("sales_misrepresentation", "sales", "销售误导→销售部"),
    ("price_billing", "sales", "价格账单→销售部"),
    ("technical_fault", "technical", "技术故障→技术部"),
    ("after_sales_repair", "after_sales", "售后维修→售后部"),
    ("other", "customer_service", "其他→客服部"),
]
# severity -> priority
PRIORITY = {"critical": "P1", "high": "P2", "medium": "P3", "low": "P4"}
# The SLA class is the severity whose limits (processes/sla.py policy) apply. System faults and
# money taken wrongly affect customers more than their first severity suggests, so they go one up.
SLA_UP = {"technical_fault", "price_billing"}
NEXT = {"low": "medium", "medium": "high", "high": "critical", "critical": "critical"}


def classify_routing():
    rules = []
    for cat, dept, desc in CATEGORY_DEPT:
        for sev, prio in PRIORITY.items():
            sla_class = NEXT[sev] if cat in SLA_UP and sev in ("low", "medium") else sev
            rules.append((f"{desc} ({sev})", [f'"{cat}"', f'"{sev}"'], [f'"{dept}"', f'"{prio}"', f'"{sla_class}"']))
    rules.append(("未分类:客服部 Unclassified: customer service", ["-", "-"],
                  ['"customer_service"', '"P3"', '"medium"']))
    return table(
        "classify_routing", "分类分派 Classification routing", "FIRST",
        [("category", "投诉类别 Category", "category", "string"),
         ("severity", "严重程度 Severity", "severity", "string")],
        [("department", "责任部门 Department", "department", "string"),
         ("priority", "优先级 Priority", "priority", "string"),
         ("sla_class", "时限等级 SLA class (severity whose limits apply)", "sla_class", "string")],
        rules)


def rule_policy():
    rules = [
        ("三包期内产品质量问题且责任在我方:换货 Quality fault in warranty, ours: replace",
         ['"product_quality"', '"in_warranty"', '"company"'], ['"replace"', '"三包换货 Warranty replacement"']),
        ("三包期内产品质量问题:维修 Quality issue in warranty: repair",
         ['"product_quality"', '"in_warranty"', "-"], ['"repair"', '"三包维修 Warranty repair"']),
        ("保修期内售后维修:免费维修 Repair in warranty: free repair",
         ['"after_sales_repair"', '"in_warranty"', "-"], ['"repair"', '"保修条款 Warranty terms"']),
        ("过保或客户责任:付费服务 Out of warranty: paid service",
         ["-", '"out_of_warranty"', "-"], ['"paid_service"', '"保外服务收费标准 Out-of-warranty tariff"']),
        ("价格账单错误在我方:退款 Billing error on our side: refund",
         ['"price_billing"', "-", '"company"'], ['"refund"', '"价格政策 Pricing policy"']),
        ("物流问题在我方:退款运费 Delivery fault on our side: refund",
         ['"logistics_delivery"', "-", '"company"'], ['"refund"', '"配送承诺 Delivery promise"']),
        ("七日无理由退货期内:退款 Within 7-day return period: refund",
         ["-", '"return_period"', "-"], ['"refund"', '"七日无理由退货 7-day return policy"']),
        ("其余:依规解释 Otherwise: explain the rules",
         ["-", "-", "-"], ['"explanation"', '"服务条款 Terms of service"']),
    ]
    return table(
        "rule_policy", "补救政策 Remedy policy", "FIRST",
        [("category", "投诉类别 Category", "category", "string"),
         ("warranty_status", "保修状态 Warranty status", "warranty_status", "string"),
         ("responsibility", "责任方 Responsibility", "responsibility", "string")],
        [("remedy", "补救措施 Remedy", "remedy", "string"),
         ("policy_reference", "依据 Policy", "policy_reference", "string")],
        rules)


def compensation_policy():
    value = "(order_value or 0)"
    rules = [
        ("严重:现金,订单额一半,至少300 Critical: cash, half the order value, at least 300",
         ['"critical"', "-", "-"], ['"cash"', f"max(300, round_money({value} * 0.5))"]),
        ("高且VIP:现金 High, VIP: cash", ['"high"', '"vip"', "-"], ['"cash"', f"max(200, round_money({value} * 0.3))"]),
        ("高:退款 High: refund", ['"high"', "-", "-"], ['"refund"', f"max(100, round_money({value} * 0.2))"]),
        ("中且高价值订单:退款 Medium, order over 1000: refund", ['"medium"', "-", "> 1000"],
         ['"refund"', f"round_money({value} * 0.1)"]),
        ("中且金卡/VIP:优惠券 Medium, gold/VIP: coupon", ['"medium"', '? in ("gold", "vip")', "-"], ['"coupon"', "100"]),
        ("中:优惠券 Medium: coupon", ['"medium"', "-", "-"], ['"coupon"', "50"]),
        ("低:积分 Low: points", ["-", "-", "-"], ['"points"', "20"]),
    ]
    return table(
        "compensation_policy", "补偿政策 Compensation policy", "FIRST",
        [("severity", "严重程度 Severity", "severity", "string"),
         ("customer_tier", "客户等级 Customer tier", "customer_tier", "string"),
         ("order_value", "订单金额 Order value", value, "number")],
        [("compensation_kind", "补偿方式 Kind", "compensation_kind", "string"),
         ("compensation_amount", "补偿金额 Amount", "compensation_amount", "number")],
        rules)


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for fname, fn in [("classify_routing.dmn", classify_routing), ("rule_policy.dmn", rule_policy),
                      ("compensation_policy.dmn", compensation_policy)]:
        (OUT / fname).write_bytes(fn())
        print("wrote", OUT / fname)
