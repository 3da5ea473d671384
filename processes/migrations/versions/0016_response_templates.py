"""response templates (the wording a person starts an answer from), seeded in Chinese and
English; human tasks: who may not complete a task (four eyes)

Revision ID: 0016
Revises: 0013
"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# (title, category, strategy, language, body): a starting point for each strategy, in both languages.
SEED = (
    ("解释说明(通用)", None, "explanation", "zh-CN",
     ("{name}您好:\n\n感谢您就投诉 {reference} 与我们联系,给您带来不便,我们深感抱歉。\n\n"
     "经核实,[请在此说明核实的情况和依据的规定]。\n\n"
     "如您对以上说明仍有疑问,请在 {reply_by} 前回复我们,我们会再次认真处理。")),
    ("Explanation (any category)", None, "explanation", "en",
     ("Dear {name},\n\nThank you for telling us about complaint {reference}; we are sorry for the trouble.\n\n"
     "We have looked into it: [explain what was found and the rule that applies].\n\n"
     "If anything is still unclear, please answer by {reply_by} and we will look at it again.")),
    ("按政策处理(通用)", None, "rule_based", "zh-CN",
     ("{name}您好:\n\n关于您的投诉 {reference},我们已认真核实。按照相关规定,我们为您提供{remedy}。\n\n"
     "[请在此说明具体安排:时间、方式、联系人]。\n\n请在 {reply_by} 前告诉我们您是否接受。")),
    ("Under the policy (any category)", None, "rule_based", "en",
     ("Dear {name},\n\nWe have looked carefully into your complaint {reference}. Under our policy we offer you {remedy}.\n\n"
     "[Say what happens next: when, how and who to contact.]\n\nPlease tell us by {reply_by} whether you accept.")),
    ("经济补偿(通用)", None, "compensation", "zh-CN",
     ("{name}您好:\n\n经核实,您的投诉 {reference} 中的问题责任在我方,我们深表歉意。\n\n"
     "为弥补给您造成的不便,我们向您提供{remedy} {amount}。[请说明发放方式和到账时间]。\n\n"
     "请在 {reply_by} 前告诉我们您是否接受。")),
    ("Compensation (any category)", None, "compensation", "en",
     ("Dear {name},\n\nWe have looked into your complaint {reference}: the fault is ours, and we apologise.\n\n"
     "To make up for the trouble we offer you {remedy} of {amount}. [Say how and when it will be paid.]\n\n"
     "Please tell us by {reply_by} whether you accept.")),
    ("物流延误补偿", "logistics_delivery", "compensation", "zh-CN",
     ("{name}您好:\n\n您的订单未能按时送达(投诉编号 {reference}),耽误了您的时间,我们十分抱歉。\n\n"
     "我们已督促仓库尽快发货,并向您提供{remedy} {amount} 作为补偿。[请填写预计送达时间]。\n\n"
     "请在 {reply_by} 前告诉我们您是否接受。")),
    ("Late delivery compensation", "logistics_delivery", "compensation", "en",
     ("Dear {name},\n\nYour order did not arrive on time (complaint {reference}); we are sorry for the wait.\n\n"
     "We have asked the warehouse to ship it at once, and we offer you {remedy} of {amount}. "
     "[Give the expected delivery date.]\n\nPlease tell us by {reply_by} whether you accept.")),
    ("调解方案(通用)", None, "fuzzy_mediation", "zh-CN",
     ("{name}您好:\n\n关于您的投诉 {reference},双方对责任的看法不尽相同。为了妥善解决,我们提出以下方案:\n\n"
     "[请在此写明折中方案]\n\n请在 {reply_by} 前告诉我们您的意见。")),
    ("Mediation (any category)", None, "fuzzy_mediation", "en",
     ("Dear {name},\n\nAbout your complaint {reference}: we see the responsibility differently, and we would like "
     "to settle it fairly. We propose:\n\n[Write the compromise here.]\n\nPlease tell us by {reply_by} what you think.")),
    ("升级后再次答复(通用)", None, "escalation", "zh-CN",
     ("{name}您好:\n\n感谢您对我们上次答复提出的意见。您的投诉 {reference} 已由更资深的同事重新处理。\n\n"
     "我们重新核实后,为您提供{remedy}{amount}。[请说明与上次答复相比有何不同,以及具体安排]。\n\n"
     "请在 {reply_by} 前告诉我们您是否接受。")),
    ("Next answer after escalation (any category)", None, "escalation", "en",
     ("Dear {name},\n\nThank you for your comments on our last answer. A senior colleague has taken over your "
     "complaint {reference}.\n\nHaving looked at it again, we offer you {remedy} {amount}. [Say what is different "
     "from the last answer and what happens next.]\n\nPlease tell us by {reply_by} whether you accept.")),
    ("通用答复", None, None, "zh-CN",
     ("{name}您好:\n\n关于您的投诉 {reference},处理结果如下:\n\n[请在此写明处理结果和理由]\n\n"
     "请在 {reply_by} 前告诉我们您是否接受。")),
    ("General answer", None, None, "en",
     ("Dear {name},\n\nThis is our answer to your complaint {reference}:\n\n[Write the outcome and the reasons.]\n\n"
     "Please tell us by {reply_by} whether you accept.")),
)


def upgrade() -> None:
    table = op.create_table(
        "response_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=True),
        sa.Column("strategy", sa.String(length=40), nullable=True),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.String(length=80), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_response_templates_match", "response_templates",
                    ["language", "active", "strategy", "category"], unique=False)
    now = datetime.now(UTC)
    if op.get_bind().dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # as TZDateTime stores it there
    op.bulk_insert(table, [{"title": t, "category": c, "strategy": s, "language": lang, "body": b, "active": True,
                            "updated_by": "system", "updated_at": now} for t, c, s, lang, b in SEED])
    with op.batch_alter_table("human_tasks") as batch_op:
        batch_op.add_column(sa.Column("not_by", sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("human_tasks") as batch_op:
        batch_op.drop_column("not_by")
    op.drop_index("ix_response_templates_match", table_name="response_templates")
    op.drop_table("response_templates")
