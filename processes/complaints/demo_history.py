"""A year of demo history, so the dashboard, the heatmap and the returns have something to show.

Complaints arrive at a realistic rate (more on weekdays, a busier season around the November
sales and the Spring Festival) and each goes through the real process on a travelling clock
(time-machine): people complete their tasks after realistic delays, customers accept or reject
answers and answer surveys, timers fire when their time comes. Only the last two weeks' complaints
are left where they are, so the inbox has open work too. Seeded: the same history every time.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

import time_machine
from sqlalchemy import func, select

from processes.complaints import registration
from processes.complaints.demo import worker_for
from processes.complaints.records import Complaint
from processes.engine.actors import CUSTOMER
from processes.engine.models import ProcessInstance, utcnow

MARKER = "demo.history"  # complaints.created_by of the history: loaded once
PRODUCTS = ["电水壶 K200", "空气净化器 A1", "净水器 W3", "冰箱 F500", "洗衣机 W7", "扫地机器人 R2", "会员年卡"]
CAUSES = ["密封圈老化", "快递破损", "话术误导", "系统故障", "安装不当", "计费错误", "配件缺货", "温控器批次缺陷"]
CATEGORIES = ["product_quality", "logistics_delivery", "after_sales_repair", "technical_fault", "price_billing",
              "sales_misrepresentation", "service_attitude"]
CHANNELS = ["web", "phone", "email", "api"]
MAX_STEPS = 40


def _rate(day: datetime) -> float:
    """Expected complaints on a day: weekdays busier, a peak after 11.11 and around the Spring Festival."""
    base = 1.1 if day.weekday() < 5 else 0.45
    season = 1 + 0.8 * math.exp(-(((day.timetuple().tm_yday - 320) / 12) ** 2))
    season += 0.5 * math.exp(-(((day.timetuple().tm_yday - 35) / 10) ** 2))
    return base * season


def _poisson(rng: random.Random, lam: float) -> int:
    n, p, limit = 0, 1.0, math.exp(-lam)
    while True:
        p *= rng.random()
        if p <= limit:
            return n
        n += 1


def _task_data(form: str, rng: random.Random) -> dict:
    remedy = rng.choice(("repair", "replace", "explanation", "refund"))
    data = {
        "register.json": {"customer_name": "电话客户", "customer_phone": f"137{rng.randint(0, 10**8 - 1):08d}",
                          "subject": "电话投诉", "description": "客户来电反映问题。", "remedy_sought": "尽快处理"},
        "classify.json": {"category": rng.choice(CATEGORIES),
                          "severity": rng.choices(("low", "medium", "high", "critical"), (40, 42, 15, 3))[0],
                          "safety_issue": False, "legitimacy": rng.choices(("justified", "unjustified"), (85, 15))[0]},
        "investigate.json": {"findings": "已核实", "root_cause": rng.choice(CAUSES), "is_defect": rng.random() < 0.1,
                             "responsibility": rng.choices(("company", "customer", "unclear"), (55, 30, 15))[0],
                             "warranty_status": rng.choice(("in_warranty", "out_of_warranty", "not_applicable"))},
        "review_strategy.json": {"override_strategy": False},
        "draft_rule_answer.json": {"remedy": remedy, "answer": "按政策处理。"},
        "explanation.json": {"answer": "按规则说明。", "policy_reference": "服务条款"},
        "senior_rehandle.json": {"review_note": "复核后调整", "answer": "重新处理", "remedy": "repair"},
        "management_decision.json": {"decision_reason": "管理层决定", "answer": "最终方案", "remedy": "repair"},
        "differentiated_plan.json": {"plan": "分部门处理", "answer": "综合方案", "remedy": "repair"},
        "mediation_proposal.json": {"company_position": "公司意见", "customer_position": "客户诉求",
                                    "proposal": "折中方案"},
        "approve_compensation.json": {"approval_decision": "approve"},
        "revise_compensation.json": {"compensation_kind": "coupon", "compensation_amount": 50, "revision_note": "调整"},
        "product_options.json": {"product_options": "维修或更换", "can_replace": True},
        "review_duplicate.json": {"is_duplicate": False},
        "choose_compensation.json": {"compensation_kind": rng.choice(("coupon", "points", "refund")),
                                     "compensation_amount": rng.choice((50, 100, 200))},
        "compensation_answer.json": {"answer": "为表歉意，我们提供补偿。"},
        "quality_check.json": {"qc_decision": "approve"},
        "revise_answer.json": {"answer": "修改后的答复", "revision_note": "按质检意见修改"},
        "survey_call.json": {"reached": True, "satisfaction_score": rng.choices((1, 2, 3, 4, 5), (4, 6, 15, 35, 40))[0],
                             "resolved": True},
        "improvement_action.json": {"action_taken": "已整改", "verified": True},
    }
    return dict(data.get(form or "", {}))


def _payload(rng: random.Random, n: int) -> dict:
    channel = rng.choices(CHANNELS, (45, 30, 15, 10))[0]
    customer = {"name": f"客户{n:04d}", "phone": f"139{n:08d}", "email": f"demo{n}@example.cn",
                "tier": rng.choices(("standard", "silver", "gold", "vip"), (70, 15, 10, 5))[0]}
    return {"channel": channel, "customer": customer, "subject": "产品与服务问题", "description": "客户反映的问题。",
            "remedy_sought": "处理", "product": rng.choice(PRODUCTS), "order_number": f"SO-H{n:05d}",
            "order_value": rng.choice((199, 399, 1299, 2599))}


def _drive(runtime, reference: str, rng: random.Random, clock, until: datetime) -> None:
    """Move one complaint along: each step after a delay, as long as the clock stays before `until`."""
    for _ in range(MAX_STEPS):
        delay = timedelta(minutes=rng.lognormvariate(5.5, 1.2))  # median ≈ 4 hours
        if utcnow() + delay >= until:
            return
        clock.shift(delay)
        tasks = runtime.open_tasks(reference)
        if tasks:
            task = tasks[0]
            try:
                runtime.complete(task.id, worker_for(task), _task_data(task.form, rng))
            except Exception:  # noqa: BLE001 - a demo step the process refuses: leave it open
                return
            continue
        with runtime.db.session() as s:
            instance = s.scalar(select(ProcessInstance).join(Complaint, Complaint.instance_id == ProcessInstance.id)
                                .where(Complaint.reference == reference))
            status, awaiting = instance.status, list(instance.awaiting or [])
        if status != "running":
            return
        if "customer_response" in awaiting:
            decision = "accept" if rng.random() < 0.85 else "reject"
            runtime.correlate(reference, "customer_response", {"customer_decision": decision, "comment": ""}, CUSTOMER)
        elif "survey_answer" in awaiting and rng.random() < 0.7:
            score = rng.choices((1, 2, 3, 4, 5), (3, 5, 12, 35, 45))[0]
            runtime.correlate(reference, "survey_answer", {"satisfaction_score": score, "resolved": score >= 3,
                                                           "comment": ""}, CUSTOMER)
        else:  # waiting for time: the next timer
            next_due = runtime.next_timer_due()
            if next_due is None or next_due >= until:
                return
            clock.move_to(max(next_due, utcnow()) + timedelta(seconds=1))
            runtime.fire_due_timers()


def load_history(runtime, days: int = 365, seed: int = 16) -> int:
    """Complaints over the last `days` days through the process; returns how many (0 when loaded)."""
    with runtime.db.session() as s:
        if s.scalar(select(func.count()).select_from(Complaint).where(Complaint.created_by == MARKER)):
            return 0
    rng = random.Random(seed)
    real_now = utcnow()
    start = (real_now - timedelta(days=days)).replace(hour=1, minute=0, second=0, microsecond=0)
    arrivals = []
    for d in range(days):
        day = start + timedelta(days=d)
        for _ in range(_poisson(rng, _rate(day))):
            arrivals.append(day + timedelta(minutes=rng.randint(0, 12 * 60)))
    count = 0
    traveller = time_machine.travel(arrivals[0] if arrivals else real_now, tick=False)
    clock = traveller.start()
    try:
        for n, at in enumerate(sorted(arrivals)):
            clock.move_to(at)
            reference = registration.register(runtime, _payload(rng, n))
            with runtime.db.write_session.begin() as s:
                s.execute(Complaint.__table__.update().where(Complaint.reference == reference)
                          .values(created_by=MARKER))
            # Complaints of the last two weeks stay where they are by today; older ones run to their end.
            _drive(runtime, reference, rng, clock, until=min(real_now, at + timedelta(days=60)))
            count += 1
    finally:
        traveller.stop()
    runtime.fire_due_timers()
    return count
