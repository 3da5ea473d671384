"""Complaint analytics: every KPI of a seeded month against the figure worked out by hand.

Nine complaints go through the real complaint process (tests/runtime_harness.py) on a test clock,
one after the other, so their timestamps, outcomes, survey scores and payments are known. The
deployment's calendar is Asia/Shanghai (UTC+8); 2025-03-08/09, 15/16 are a weekend.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy import func, select

from processes.app import build_runtime
from processes.complaints import analytics, analytics_histogram
from processes.complaints.analytics import Filters, Period
from processes.complaints.analytics_models import COUNT_COLUMNS, AnalyticsCount, ComplaintFact
from processes.complaints.analytics_rollup import business_minutes, calendar
from processes.complaints.records import CompensationEntry
from processes.engine.database import Database
from processes.engine.definitions import read_files
from tests.conftest import ROOT
from tests.process_harness import complaint_start_data
from tests.runtime_harness import FacadeHarness

MARCH = Period(date(2025, 3, 1), date(2025, 3, 31))


def at(day: int, hour: int = 9, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=UTC)


def classify(h, category, severity, legitimacy="justified"):
    h.complete("Task_Classify", {"category": category, "severity": severity, "safety_issue": False,
                                 "legitimacy": legitimacy})


def investigate(h, department, responsibility, warranty="in_warranty", root_cause="密封圈老化"):
    task = "Task_Investigate_" + "_".join(p.capitalize() for p in department.split("_"))
    h.complete(task, {"findings": "核实", "root_cause": root_cause, "is_defect": False,
                      "responsibility": responsibility, "warranty_status": warranty})


def accept(h):
    h.send_message("customer_response", {"customer_decision": "accept", "comment": ""})


def survey(h, score):
    h.advance_time(timedelta(days=3, minutes=1))
    assert h.data["status"] == "awaiting_survey"
    h.send_message("survey_answer", {"satisfaction_score": score, "resolved": True, "comment": ""})


def c0_february(h):
    """Rule-based, accepted at once, survey 5: the previous period's only complaint."""
    classify(h, "product_quality", "medium")
    investigate(h, "product", "customer")
    h.complete("Task_Review_Strategy", {"override_strategy": False})
    h.complete("Task_Draft_Rule_Answer", {"remedy": "repair", "answer": "维修"})
    accept(h)
    survey(h, 5)


def c1_breached(h):
    """Resolved after 11 days, past its 10-calendar-day limit; survey 5."""
    classify(h, "product_quality", "medium")
    assert h.data["resolve_due"] == "2025-03-13T09:00:00+00:00"
    h.advance_time(timedelta(days=11))  # the respond SLA breaches meanwhile: recorded, level stays 1
    investigate(h, "product", "customer", root_cause="密封圈老化")
    h.complete("Task_Review_Strategy", {"override_strategy": False})
    h.complete("Task_Draft_Rule_Answer", {"remedy": "repair", "answer": "维修"})
    accept(h)  # resolved 03-14 09:00
    survey(h, 5)  # closed 03-17 09:01


def offer_coupon(h):
    """A person takes the policy's suggestion (coupon 50) and writes the offer; below the threshold, no check."""
    h.complete("Task_Choose_Compensation", {"compensation_kind": "coupon", "compensation_amount": 50})
    h.complete("Task_Write_Offer", {"answer": "给您送上优惠券 ¥50.00,再次致歉。"})


def c2_paid(h):
    """Coupon 50 issued and accepted: paid. No survey answer; the follow-up call scores 4."""
    classify(h, "logistics_delivery", "medium")
    investigate(h, "after_sales", "company", warranty="not_applicable", root_cause="快递破损")
    h.complete("Task_Review_Strategy", {"override_strategy": False})
    offer_coupon(h)
    assert (h.data["compensation_kind"], h.data["compensation_amount"]) == ("coupon", 50)
    accept(h)  # resolved at once
    h.advance_time(timedelta(days=3, minutes=1))
    h.advance_time(timedelta(days=5, minutes=1))
    h.complete("Task_Survey_Call", {"reached": True, "satisfaction_score": 4, "resolved": True})


def c3_reopened(h):
    """Accepted a day later, survey 2 reopens it (level 2), re-resolved and survey 5."""
    classify(h, "after_sales_repair", "low")
    investigate(h, "after_sales", "customer", root_cause="密封圈老化")
    h.complete("Task_Review_Strategy", {"override_strategy": False})
    h.complete("Task_Draft_Rule_Answer", {"remedy": "repair", "answer": "上门维修"})
    h.advance_time(timedelta(days=1))
    accept(h)  # first resolved 03-06 09:00
    survey(h, 2)  # 03-09 09:01: reopened
    assert h.data["escalation_level"] == 2
    h.complete("Task_Senior_Rehandle", {"review_note": "不彻底", "answer": "更换主板", "remedy": "repair"})
    accept(h)  # resolved again 03-09 09:01
    survey(h, 5)  # closed 03-12 09:02


def c5_incomplete(h):
    """No way to reach the customer: closed as incomplete after 7 days, never acknowledged."""
    h.advance_time(timedelta(days=7, minutes=1))


def c6_phone(h):
    """Registered by an agent two hours after the call (acknowledged then), explained at once, survey 3."""
    h.advance_time(timedelta(hours=2))
    h.complete("Task_Register", {"customer_name": "李雷", "customer_phone": "13900139000", "subject": "多收费",
                                 "description": "账单多收", "remedy_sought": "退款"})
    classify(h, "price_billing", "low", legitimacy="unjustified")
    h.complete("Task_Draft_Explanation", {"answer": "按活动规则计费", "policy_reference": "活动规则"})
    accept(h)  # resolved 03-13 11:00
    survey(h, 3)  # closed 03-16 11:01


def c7_offer_rejected(h):
    """Coupon 50 issued but rejected; the senior answer (a repair, the coupon withdrawn) accepted an hour
    later: nothing paid."""
    classify(h, "logistics_delivery", "medium")
    investigate(h, "after_sales", "company", warranty="not_applicable", root_cause="快递破损")
    h.complete("Task_Review_Strategy", {"override_strategy": False})
    offer_coupon(h)
    h.send_message("customer_response", {"customer_decision": "reject", "comment": "不要优惠券"})
    h.advance_time(timedelta(hours=1))
    h.complete("Task_Senior_Rehandle", {"review_note": "改为维修", "answer": "免费维修", "remedy": "repair",
                                        "compensation_amount": 0})
    accept(h)  # resolved 03-14 10:00
    survey(h, 4)  # closed 03-17 10:01


def classified_only(h):
    classify(h, "product_quality", "medium")


SEEDS = [  # reference, start, overrides, steps; open ones last so no later clock fires their timers
    ("C-0", at(10, month=2), {}, c0_february),
    ("C-1", at(3), {}, c1_breached),
    ("C-2", at(4), {"channel": "email"}, c2_paid),
    ("C-3", at(5), {}, c3_reopened),
    ("C-5", at(12), {"customer_phone": None, "customer_email": None}, c5_incomplete),
    ("C-6", at(13), {"channel": "phone", "customer_tier": "gold", "subject": "", "description": "", "remedy_sought": None}, c6_phone),
    ("C-7", at(14), {"channel": "email"}, c7_offer_rejected),
    ("C-4", at(10), {}, classified_only),  # open 21 days at the end of March, past its limit
    ("C-8", at(23), {}, classified_only),  # open 8 days: past 80 % of its 10 days
]


class TickingHarness(FacadeHarness):
    """The facade harness on a clock that ticks from the start time. The runtime tells observers the
    data of the task that changed last (`last_state_change`); on a frozen clock every task of a unit
    of work changes at the same instant and an older task's data can win the tie."""

    @classmethod
    def start(cls, runtime, data, session, now):
        traveller = time_machine.travel(now, tick=True)
        clock = traveller.start()
        session.commit()
        instance_id = runtime.start("complaint_handling", data["reference"], data)
        harness = cls(runtime, instance_id, data["reference"], session, clock)
        harness._traveller, harness._owns_clock = traveller, True
        session.commit()
        return harness


def seed(runtime, db) -> None:
    """The nine complaints, through the process, one after the other."""
    with db.session() as session:
        for n, (reference, start, overrides, steps) in enumerate(SEEDS):
            # A customer and an order of their own each, so none is taken for a duplicate.
            own = {"customer_phone": f"1390000000{n}", "customer_email": f"c{n}@example.cn",
                   "order_number": f"SO-{n}"}
            data = complaint_start_data(reference, received_at=start.isoformat(), **{**own, **overrides})
            with TickingHarness.start(runtime, data, session, now=start) as h:
                steps(h)


def seed_database(url: str) -> None:
    db = Database(url)
    try:
        runtime = build_runtime(db=db, mail=False)
        runtime.deploy(read_files(ROOT, "bpmn", "forms"))
        seed(runtime, db)
    finally:
        db.dispose()


@pytest.fixture
def seeded(snapshot_copy):
    """The nine complaints, walked once per session and copied for each test (each may change its copy)."""
    db = Database(snapshot_copy("analytics-nine", seed_database))
    yield db
    db.dispose()


def test_business_minutes_count_only_working_days():
    # Friday 17:00 to Monday 17:00 in Shanghai: Friday's last 7 hours and Monday's first 17.
    assert business_minutes(at(7), at(10)) == 24 * 60


def test_every_kpi_of_the_month_against_the_hand_worked_figures(seeded):
    with seeded.session() as s:
        result = analytics.kpis(s, MARCH, Filters())
        march, february = result["current"], result["previous"]
        assert result["source"] == "rollups"
        # Volume: eight came in, six closed (C-4 and C-8 are open), five of them resolved.
        assert (march["received"], march["closed"], march["resolved"], march["closed_resolved"]) == (8, 6, 5, 5)
        assert march["resolution_rate"] == round(5 / 6, 4)
        # Acknowledged at registration (0 min) except C-6 (120 min); C-5 never.
        assert march["acknowledged"] == 7
        assert (march["ack_minutes_median"], march["ack_minutes_p90"]) == (0, 120)
        assert (march["ack_business_minutes_median"], march["ack_business_minutes_p90"]) == (0, 120)
        # Time to resolve, calendar minutes: C-2 0, C-7 60, C-6 120, C-3 5,761, C-1 15,840 (this few are
        # kept exact). Nearest rank: median the 3rd of 5, p90 the 5th.
        assert (march["resolve_minutes_median"], march["resolve_minutes_p90"]) == (120, 15840)
        # Working time: C-1 Mon 17:00 to Fri 17:00 a week later = 420 + 8 × 1,440 + 1,020 = 12,960;
        # C-3 Wed 17:00 to Sun 17:01 = 420 + 2 × 1,440 = 3,300 (the weekend does not count).
        assert (march["resolve_business_minutes_median"], march["resolve_business_minutes_p90"]) == (120, 12960)
        # SLA: C-1 resolved after its limit; four within.
        assert (march["within_sla"], march["breached"], march["sla_compliance"]) == (4, 1, 0.8)
        # First contact: C-1, C-2, C-6 (C-3 reopened, C-7 escalated); reopened: C-3.
        assert (march["first_contact"], march["first_contact_rate"]) == (3, 0.6)
        assert (march["reopened"], march["reopen_rate"]) == (1, 0.2)
        # Escalation among the closed: C-3 and C-7 reached level 2.
        assert (march["escalated"], march["escalation_rate"]) == (2, round(2 / 6, 4))
        assert march["escalation_levels"] == {"1": 4, "2": 2} and march["max_escalation_level"] == 2
        # Surveys: sent to the five resolved; answers 5, 4 (call), 5 (after reopening), 3, 4.
        assert (march["survey_sent"], march["survey_answered"], march["survey_response_rate"]) == (5, 5, 1.0)
        assert (march["csat_positive"], march["csat"]) == (4, 0.8)
        # Paid: C-2's accepted coupon. C-7's coupon was issued but refused, and the senior's answer
        # (a repair) that replaced it offers no money: its entry went to 0, so the ledger holds 50.
        assert march["compensation_paid"] == "50.00" and march["paid_count"] == 1
        assert s.scalar(select(func.sum(CompensationEntry.amount))) == Decimal(50)
        assert march["cost_per_complaint"] == "8.33"  # 50 / 6 closed
        # Open at the end of March (2025-04-01 00:00 Shanghai): C-4 21 days old and past its limit
        # (due 03-20); C-8 8 days old and past 80 % of its 10 days.
        assert march["open"] == 2 and [b["count"] for b in march["bands"]] == [0, 0, 1, 1, 0]
        assert (march["breached_open"], march["at_risk"]) == (1, 1)
        # February beside it: C-0 alone, resolved at once, survey 5.
        assert (february["from"], february["to"]) == ("2025-01-29", "2025-02-28")
        assert (february["received"], february["resolved"], february["closed"], february["csat"]) == (1, 1, 1, 1.0)
        assert (february["open"], february["resolve_minutes_median"]) == (0, 0)


def test_filters_slices_and_the_multi_filter_path_agree(seeded):
    with seeded.session() as s:
        after_sales = analytics.kpis(s, MARCH, Filters(department="after_sales"))["current"]
        assert (after_sales["received"], after_sales["compensation_paid"], after_sales["reopened"]) == (3, "50.00", 1)
        email = analytics.kpis(s, MARCH, Filters(department="after_sales", channel="email"))
        assert email["source"] == "rollups" and email["current"]["received"] == 2  # C-2, C-7, a pair slice
        three = analytics.kpis(s, MARCH, Filters(department="after_sales", channel="email", sla_profile="default"))
        assert three["source"] == "facts" and three["current"] == email["current"]
        assert analytics.kpis(s, MARCH, Filters(tier="gold"))["current"]["received"] == 1
        # Two filters, one of which every complaint has: the facts path gives the rollups' figures.
        for dim, value in (("department", "after_sales"), ("category", "product_quality"), ("channel", "web")):
            one = analytics.kpis(s, MARCH, Filters(**{dim: value}))["current"]
            two = analytics.kpis(s, MARCH, Filters(**{dim: value}, sla_profile="default"))["current"]
            assert one == two
        # Up to today: C-4 and C-8 are still open, over 31 days old and long past their limit.
        today = datetime.now(UTC).date()
        now = analytics.kpis(s, Period(today - timedelta(days=29), today), Filters())["current"]
        assert (now["open"], now["bands"][-1]["count"], now["breached_open"], now["at_risk"]) == (2, 2, 2, 0)
        # A period that is not whole months reads day rows at either end and month rows between.
        odd = Period(date(2025, 2, 10), date(2025, 3, 13))
        assert analytics.kpis(s, odd, Filters())["current"]["received"] == 7  # C-0 … C-6, not C-7/C-8


def test_open_work_at_the_end_of_past_days_from_rollups_equals_the_scan(seeded):
    """Past periods read open work from start and stop counts; it must be what the open rows say."""
    with seeded.session() as s:
        for end in [date(2025, 2, 20) + timedelta(days=n) for n in range(0, 60, 3)]:
            period = Period(end - timedelta(days=6), end)
            at = period.bounds()[1]
            for filters in (Filters(), Filters(department="after_sales"), Filters(channel="web", severity="medium")):
                work = analytics.open_work(s, period, filters)
                bands, at_risk, breached = analytics.open_by_scan(s, at, filters, False)
                assert ([b["count"] for b in work["bands"]], work["at_risk"], work["breached_open"]) == (
                    bands, at_risk, breached), (end, filters)


def test_every_count_drills_down_to_as_many_complaints(seeded):
    with seeded.session() as s:
        march = analytics.kpis(s, MARCH, Filters())["current"]
        for metric in ("received", "acknowledged", "resolved", "within_sla", "breached", "first_contact",
                       "reopened", "closed", "closed_resolved", "escalated", "survey_sent", "survey_answered",
                       "csat_positive", "open", "at_risk", "breached_open"):
            rows, total = analytics.drill_down(s, metric, MARCH, Filters())
            assert total == len(rows) == march[metric], metric
        rows, total = analytics.drill_down(s, "paid", MARCH, Filters())
        assert [r.reference for r in rows] == ["C-2"]
        rows, _ = analytics.drill_down(s, "open", MARCH, Filters(), band=3)
        assert [r.reference for r in rows] == ["C-4"]


def test_series_and_pareto(seeded):
    with seeded.session() as s:
        weekly = analytics.series(s, MARCH, Filters(), ("received", "closed"), "week")
        assert list(weekly)[:3] == ["2025-02-24", "2025-03-03", "2025-03-10"]
        assert weekly["2025-03-03"][""] == {"received": 3}  # C-1, C-2, C-3 (Mon–Wed)
        monthly = analytics.series(s, Period(date(2025, 2, 1), date(2025, 3, 31)), Filters(), ("received",), "month")
        assert {k: v[""]["received"] for k, v in monthly.items()} == {"2025-02-01": 1, "2025-03-01": 8}
        by_category = analytics.series(s, MARCH, Filters(), ("received",), "month", split="category")
        assert by_category["2025-03-01"]["product_quality"] == {"received": 3}  # C-1, C-4, C-8
        assert by_category["2025-03-01"][""] == {"received": 1}  # C-5, never classified
        # Split under a filter on another dimension: no rollup slice, the database counts the facts.
        web = analytics.series(s, MARCH, Filters(channel="web"), ("received", "closed"), "month", split="category")
        assert web["2025-03-01"] == {"product_quality": {"received": 3, "closed": 1},  # C-1, C-4, C-8
                                     "after_sales_repair": {"received": 1, "closed": 1}, "": {"received": 1, "closed": 1}}
        pareto = analytics.root_causes(s, MARCH, Filters())
        assert pareto[0] == {"root_cause": "密封圈老化", "count": 2, "cumulative_share": 0.4}
        assert pareto[1] == {"root_cause": "快递破损", "count": 2, "cumulative_share": 0.8}
        assert analytics.root_causes(s, MARCH, Filters(product="电水壶 K-200"))[0]["count"] == 2
        assert analytics.root_causes(s, MARCH, Filters(department="after_sales")) == [  # C-3; C-2, C-7
            {"root_cause": "快递破损", "count": 2, "cumulative_share": round(2 / 3, 4)},
            {"root_cause": "密封圈老化", "count": 1, "cumulative_share": 1.0}]


def _stored(s) -> dict:
    """Every count cell and histogram entry that is not zero, keyed as the observer keys them."""
    out = {}
    for row in s.scalars(select(AnalyticsCount)):
        key = (row.grain, row.dim, row.value, row.period)
        for column in (*COUNT_COLUMNS, "paid_total"):
            if getattr(row, column):
                out[(*key, column)] = Decimal(getattr(row, column))
        for metric, counts in analytics_histogram.decode(row.histograms).items():
            for minutes, n in counts.items():
                out[(*key, metric, minutes)] = n
    return out


def test_rollups_follow_a_complaint_that_changes_slice(seeded):
    """C-5 was counted unclassified; every rollup row is the sum of its facts' contributions."""
    from processes.complaints.analytics_rollup import rollup_cells

    with seeded.session() as s:
        rebuilt: dict = {}
        for fact in s.scalars(select(ComplaintFact)):
            for key, (counts, histograms) in rollup_cells(fact, +1).items():
                for column, n in counts.items():
                    rebuilt[(*key, column)] = rebuilt.get((*key, column), Decimal(0)) + n
                for metric, changes in histograms.items():
                    for minutes, n in changes.items():
                        rebuilt[(*key, metric, minutes)] = rebuilt.get((*key, metric, minutes), 0) + n
        assert _stored(s) == {k: v for k, v in rebuilt.items() if v}
        # A step adds to one row per slice and day, however many counts and durations it changes.
        assert s.scalar(select(func.count()).select_from(AnalyticsCount).where(
            AnalyticsCount.dim == "", AnalyticsCount.grain == "day", AnalyticsCount.period == date(2025, 3, 4))) == 1
        # Everything keeps C-1's resolution (15,840 min, 12,960 working) on its day, month and year rows.
        for grain, period in (("day", date(2025, 3, 14)), ("month", date(2025, 3, 1)), ("year", date(2025, 1, 1))):
            row = s.scalars(select(AnalyticsCount).where(AnalyticsCount.grain == grain, AnalyticsCount.dim == "",
                                                         AnalyticsCount.period == period)).one()
            stored = analytics_histogram.decode(row.histograms)
            assert stored["resolve_min"][15840] == 1 and stored["resolve_bmin"][12960] == 1, grain
    assert calendar().timezone == "Asia/Shanghai"


def test_the_bulk_build_gives_the_observers_rollups(seeded):
    """`redress bench analytics` and migration 0024 build the rollups from the facts in one pass; they
    must be the rows the observer kept step by step."""
    from processes.benchmarks.analytics import build_rollups

    with seeded.session() as s:
        kept = _stored(s)
    build_rollups(seeded)
    with seeded.session() as s:
        assert _stored(s) == kept


def test_every_path_of_the_sums_gives_what_the_fact_rows_say(seeded):
    """Slices keep some metrics only by month or not at all (analytics_rollup.grains); whatever they
    lack is read from the facts. For periods that cut months, with none, one and two filters, the
    sums must be the facts' own, and the series the facts' counts."""
    from processes.complaints import analytics_sql

    periods = [Period(date(2025, 2, 10), date(2025, 3, 13)), Period(date(2025, 3, 4), date(2025, 3, 20)),
               Period(date(2025, 1, 15), date(2025, 4, 2)), MARCH,
               Period(date(2024, 12, 5), date(2026, 2, 3))]  # the whole of 2025 read at year grain
    filter_sets = [Filters(), Filters(department="after_sales"), Filters(channel="web"),
                   Filters(category="product_quality", severity="medium"), Filters(department="after_sales", channel="email"),
                   Filters(product="电水壶 K-200", channel="web")]  # a pair with product keeps no histograms
    with seeded.session() as s:
        for period in periods:
            lo, hi = period.bounds()
            for filters in filter_sets:
                expected = analytics_sql.sums(s, analytics.METRICS, lo, hi, filters.active())
                got = {k: v for k, v in analytics.sums(s, period, filters).items() if v[0] or v[1]}
                assert got == expected, (period, filters)
                for split in ("category", "channel"):
                    for interval in ("day", "month"):
                        by_rollups = analytics.series(s, period, filters, ("received", "closed"), interval, split)
                        by_facts = analytics.series(s, period, Filters(**filters.as_args(), sla_profile="default",
                                                                     tier=None), ("received", "closed"), interval, split)
                        if len(filters.active()) < 2:
                            assert by_rollups == by_facts, (period, filters, split, interval)
                        # Two filters: the category and channel charts (received) read the pair's day rows.
                        received = [analytics.series(s, period, f, ("received",), interval, split) for f in (
                            filters, Filters(**filters.as_args(), sla_profile="default", tier=None))]
                        assert received[0] == received[1], (period, filters, split, interval)


def test_migrations_0022_and_0024_move_the_rollups_to_their_wide_rows_and_back(seeded):
    """A database upgraded with one row per metric (before 0022) keeps every figure: down to 0020
    writes the counts and histograms back as narrow rows, up again makes the same wide rows."""
    from alembic import command
    from sqlalchemy import text

    from processes.engine.schema import alembic_config

    with seeded.session() as s:
        kept = _stored(s)
        before = analytics.kpis(s, MARCH, Filters(department="after_sales"))
    seeded.dispose()
    command.downgrade(alembic_config(seeded.url), "0020")
    with Database(seeded.url).session() as s:
        narrow = dict(s.execute(text("SELECT metric, SUM(count) FROM analytics_rollups WHERE grain = 'day' "
                                     "AND dim = '' GROUP BY metric")).all())
    assert narrow["received"] == 9 and narrow["closed"] == 7 and narrow["level"] == 7
    with Database(seeded.url).session() as s:  # 0024 down: the histograms as one row per bucket again
        buckets = dict(s.execute(text("SELECT bucket, count FROM analytics_rollups WHERE grain = 'month' AND dim = '' "
                                      "AND metric = 'resolve_min' AND period = '2025-03-01'")).all())
        causes = dict(s.execute(text("SELECT value, count FROM analytics_rollups WHERE grain = 'month' "
                                     "AND dim = 'root_cause' AND metric = 'resolved' AND period = '2025-03-01'")).all())
    assert buckets == {0: 1, 60: 1, 120: 1, 5760: 1, 15800: 1}
    assert causes == {"密封圈老化": 2, "快递破损": 2, "": 1}  # and the root causes as their own slice
    command.upgrade(alembic_config(seeded.url), "head")
    again = Database(seeded.url)
    with again.session() as s:
        assert _stored(s) == kept
        assert analytics.kpis(s, MARCH, Filters(department="after_sales")) == before
    again.dispose()
