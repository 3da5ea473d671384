"""Demo data: a user for every department and role, and complaints at different stages."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta

from sqlalchemy import select

from processes.complaints import registration as complaints
from processes.complaints.records import Complaint
from processes.engine.actors import CUSTOMER, Actor
from processes.engine.models import HumanTask, User, utcnow
from processes.engine.users import add_user

DEMO_PASSWORD = "redress-demo"
DEMO_USERS = [
    # username, department, role, display name
    ("agent", "customer_service", "agent", "王客服 Wang (agent)"),
    ("senior", "customer_service", "senior_agent", "刘资深 Liu (senior agent)"),
    ("cs_lead", "customer_service", "supervisor", "赵主管 Zhao (supervisor)"),
    ("product", "product", "department_staff", "李产品 Li (product)"),
    ("tech", "technical", "department_staff", "陈技术 Chen (technical)"),
    ("sales", "sales", "department_staff", "孙销售 Sun (sales)"),
    ("aftersales", "after_sales", "department_staff", "周售后 Zhou (after-sales)"),
    ("manager", "management", "manager", "吴经理 Wu (manager)"),
    ("designer", "management", "process_designer", "郑设计 Zheng (process designer)"),
    ("reviewer", "management", "compliance_reviewer", "冯合规 Feng (compliance reviewer)"),
    ("admin", "management", "admin", "管理员 Admin"),
]

CLASSIFY = "Task_Classify"
REVIEW = ("task", "Task_Review_Strategy", {"override_strategy": False})


def _classify(category, severity, legitimacy="justified"):
    return ("task", CLASSIFY, {"category": category, "severity": severity, "safety_issue": False,
                               "legitimacy": legitimacy})


def _investigate(task, responsibility, warranty="in_warranty", defect=False):
    return ("task", task, {"findings": "已核实 Confirmed with the customer", "root_cause": "待确认 to be confirmed",
                           "is_defect": defect, "responsibility": responsibility, "warranty_status": warranty})


def _customer(name, phone, **extra):
    return {"name": name, "phone": phone, **extra}


# Each demo complaint is driven through the real process to a different stage.
DEMO_COMPLAINTS = [
    ({"channel": "phone", "customer": _customer("张伟", "13800138001", tier="gold"),
      "subject": "电水壶底座漏电", "description": "使用三天后底座漏电,手碰到有麻感。", "remedy_sought": "退货并赔偿",
      "product": "电水壶 K200", "order_number": "SO-88001", "order_value": 299, "safety_issue": True},
     []),  # phone intake: waits for the agent to register it
    ({"channel": "email", "customer": {"name": "Tom Baker", "email": "tom@example.com"},
      "subject": "App keeps crashing after update", "description": "Since version 5.2 the app crashes on login.",
      "remedy_sought": "A fix", "product": "Redress Home app"},
     [_classify("technical_fault", "high")]),  # investigation in the technical department
    ({"channel": "web", "customer": _customer("李娜", "13900139002", email="lina@example.com"),
      "subject": "快递延误一周", "description": "下单后一周仍未发货,客服没有回复。", "remedy_sought": "尽快发货并补偿运费",
      "product": "空气净化器 A1", "order_number": "SO-88002", "order_value": 1299},
     [_classify("logistics_delivery", "medium"), _investigate("Task_Investigate_After_Sales", "company",
                                                               "not_applicable"), REVIEW,
      ("task", "Task_Choose_Compensation", {"compensation_kind": "coupon", "compensation_amount": 50}),
      ("task", "Task_Write_Offer", {"answer": "李娜您好:\n\n您的订单未能按时发货,耽误了您的时间,我们十分抱歉。"
                                             "我们已督促仓库今天发货,并向您提供优惠券 ¥50.00 作为补偿。"})]),
    # compensation chosen by a person and written by them: waiting for the customer's answer
    ({"channel": "api", "customer": _customer("王芳", "13700137003", tier="vip"),
      "subject": "销售承诺的赠品未收到", "description": "销售顾问承诺赠送滤芯,收货后没有。", "remedy_sought": "补发赠品",
      "product": "净水器 W3", "order_number": "SO-88003", "order_value": 3999},
     [_classify("sales_misrepresentation", "low"), _investigate("Task_Investigate_Sales", "unclear"),
      REVIEW]),  # fuzzy mediation: the handler prepares a proposal
    ({"channel": "web", "customer": _customer("赵敏", "13600136004", tier="gold"),
      "subject": "冰箱压缩机故障", "description": "冰箱买了两个月压缩机坏了,食物全部变质。", "remedy_sought": "换新并赔偿食物损失",
      "product": "冰箱 F500", "order_number": "SO-88004", "order_value": 6999},
     [_classify("product_quality", "high"), _investigate("Task_Investigate_Product", "company", defect=True),
      REVIEW, ("task", "Task_Choose_Compensation", {"compensation_kind": "refund", "compensation_amount": 1399.8,
                                                    "choice_note": "按政策建议:订单额两成"})]),
    # compensation above the threshold: management approves
    ({"channel": "web", "customer": _customer("陈刚", "13500135005"),
      "subject": "洗衣机噪音大", "description": "洗衣机脱水时噪音很大。", "remedy_sought": "上门检修",
      "product": "洗衣机 W7", "order_number": "SO-88005", "order_value": 2599},
     [_classify("after_sales_repair", "medium"), _investigate("Task_Investigate_After_Sales", "customer",
                                                               "out_of_warranty"), REVIEW,
      ("task", "Task_Draft_Rule_Answer", {"remedy": "paid_service", "answer": "已过保修期,可提供付费上门维修。"}),
      ("message", "customer_response", {"customer_decision": "reject", "comment": "我认为这是质量问题"})]),
    # rejected: a senior specialist re-handles it (escalation level 2)
    ({"channel": "web", "customer": _customer("刘洋", "13400134006", email="liuyang@example.com"),
      "subject": "发票金额错误", "description": "发票金额比实际支付多了100元。", "remedy_sought": "重开发票",
      "product": "会员年卡", "order_number": "SO-88006", "order_value": 399},
     [_classify("service_attitude", "low"), _investigate("Task_Investigate_Customer_Service", "customer",
                                                       "not_applicable"), REVIEW,
      ("task", "Task_Draft_Rule_Answer", {"remedy": "explanation", "answer": "已核实并重开发票。"}),
      ("message", "customer_response", {"customer_decision": "accept", "comment": "谢谢"}),
      ("timers",), ("message", "survey_answer", {"satisfaction_score": 5, "resolved": True, "comment": "满意"})]),
    # closed and archived after a satisfied survey
]
def worker_for(task) -> Actor:
    """Someone of the task's lane with the role its candidate group asks for (demo and tests)."""
    role = {"senior": "senior_agent", "supervisor": "supervisor"}.get(task.candidate_group)
    role = role or ("manager" if task.department == "management" else "department_staff")
    username = f"demo.{task.department}"
    if getattr(task, "not_by", None) == username:  # four eyes: someone else approves what they wrote
        username += ".reviewer"
    return Actor(username, task.department, role)


def _drive(runtime, reference: str, steps: list) -> None:
    for step in steps:
        if step[0] == "task":
            _kind, bpmn_id, data = step
            open_tasks = runtime.open_tasks(reference)
            task = next((t for t in open_tasks if t.bpmn_id == bpmn_id), None)
            if task is None:
                raise RuntimeError(f"demo {reference}: expected {bpmn_id}, open: {[t.bpmn_id for t in open_tasks]}")
            runtime.complete(task.id, worker_for(task), dict(data))
        elif step[0] == "message":
            runtime.correlate(reference, step[1], dict(step[2]), CUSTOMER)
        elif step[0] == "timers":
            runtime.fire_due_timers()


# How far into its SLA window each demo complaint's open tasks are, so the inbox shows every
# clock: past 80 % is at risk, past 100 % breached; the rest stay as registered (on time).
DEMO_CLOCKS = {"快递延误一周": 0.9, "冰箱压缩机故障": 0.85, "销售承诺的赠品未收到": 1.3, "发票金额错误": 1.1}


def _age(session, reference: str, fraction: float) -> None:
    """Move the open tasks' clocks (and the receipt) back as if `fraction` of the window had passed."""
    now, oldest = utcnow(), timedelta(0)
    for task in session.scalars(select(HumanTask).where(HumanTask.business_key == reference,
                                                        HumanTask.status == "open", HumanTask.due_at.is_not(None))):
        shift = (task.due_at - task.created_at) * fraction - (now - task.created_at)
        task.created_at -= shift
        task.due_at -= shift
        oldest = max(oldest, shift)
    complaint = session.scalar(select(Complaint).where(Complaint.reference == reference))
    if complaint is not None:
        complaint.received_at -= oldest


def load_demo(runtime, waits: Callable[[], AbstractContextManager]) -> list[str]:
    """Demo users, then the demo complaints not yet there, started inside `waits()` (the short
    waits they need to reach their stage at once)."""
    lines = []
    with runtime.db.write_session.begin() as s:
        for username, department, role, name in DEMO_USERS:
            if s.scalar(select(User).where(User.username == username)) is None:
                add_user(s, username, department, role, DEMO_PASSWORD, display_name=name)
                lines.append(f"user {username} ({department}, {role})")
        existing = {c.subject for c in s.scalars(select(Complaint))}
    todo = [(payload, steps) for payload, steps in DEMO_COMPLAINTS if payload["subject"] not in existing]
    if todo:
        with waits():  # the demo's short waits: a reviewed settings version (governance/demo_settings.py)
            for payload, steps in todo:
                reference = complaints.register(runtime, payload)
                _drive(runtime, reference, steps)
                if payload["subject"] in DEMO_CLOCKS:
                    with runtime.db.write_session.begin() as s:
                        _age(s, reference, DEMO_CLOCKS[payload["subject"]])
                with runtime.db.session() as s:
                    status = s.scalar(select(Complaint.status).where(Complaint.reference == reference))
                lines.append(f"complaint {reference} ({status}): {payload['subject']}")
    lines.append(f"log in at http://127.0.0.1:5000/ as any of: {', '.join(u[0] for u in DEMO_USERS)} "
                 f"(password: {DEMO_PASSWORD})")
    return lines
