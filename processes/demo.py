"""Demo data: a user for every department and role, and complaints at different stages."""

from __future__ import annotations

from sqlalchemy import select

from processes import complaints
from processes.models import Complaint, User
from processes.users import add_user

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

DEMO_COMPLAINTS = [
    {"channel": "phone", "customer": {"name": "张伟", "phone": "13800138001", "tier": "gold"},
     "subject": "电水壶底座漏电", "description": "使用三天后底座漏电,手碰到有麻感。", "remedy_sought": "退货并赔偿",
     "product": "电水壶 K200", "order_number": "SO-88001", "order_value": 299, "category": "product_quality",
     "severity": "critical", "safety_issue": True},
    {"channel": "web", "customer": {"name": "李娜", "phone": "13900139002", "email": "lina@example.com"},
     "subject": "快递延误一周", "description": "下单后一周仍未发货,客服没有回复。", "remedy_sought": "尽快发货并补偿运费",
     "product": "空气净化器 A1", "order_number": "SO-88002", "order_value": 1299,
     "category": "logistics_delivery", "severity": "medium"},
    {"channel": "email", "customer": {"name": "Tom Baker", "email": "tom@example.com", "tier": "standard"},
     "subject": "App keeps crashing after update", "description": "Since version 5.2 the app crashes on login.",
     "remedy_sought": "A fix", "product": "Redress Home app", "category": "technical_fault", "severity": "high"},
    {"channel": "api", "customer": {"name": "王芳", "phone": "13700137003", "tier": "vip"},
     "subject": "销售承诺的赠品未收到", "description": "销售顾问承诺赠送滤芯,收货后没有。", "remedy_sought": "补发赠品",
     "product": "净水器 W3", "order_number": "SO-88003", "order_value": 3999,
     "category": "sales_misrepresentation", "severity": "low"},
]


def load_demo(runtime) -> list[str]:
    lines = []
    with runtime.db.write_session.begin() as s:
        for username, department, role, name in DEMO_USERS:
            if s.scalar(select(User).where(User.username == username)) is None:
                add_user(s, username, department, role, DEMO_PASSWORD, display_name=name)
                lines.append(f"user {username} ({department}, {role})")
        existing = {c.subject for c in s.scalars(select(Complaint))}
    for payload in DEMO_COMPLAINTS:
        if payload["subject"] in existing:
            continue
        reference = complaints.register(runtime, payload)
        lines.append(f"complaint {reference}: {payload['subject']}")
    lines.append(f"log in at http://127.0.0.1:5000/ as any of: {', '.join(u[0] for u in DEMO_USERS)} "
                 f"(password: {DEMO_PASSWORD})")
    return lines
