"""Duration histograms in the rollup rows: exact while few, then log buckets whose medians and p90
are at most 2 % below the true figure, and a row that never grows past a few hundred keys."""

from __future__ import annotations

import math
import random
from collections import defaultdict

from processes.complaints import analytics_histogram as h
from processes.complaints.analytics import percentile


def nearest_rank(values: list[int], p: float) -> int:
    return sorted(values)[max(math.ceil(p * len(values)), 1) - 1]


def read(stored: dict) -> dict:
    out: dict = defaultdict(lambda: [0, 0])
    h.add_into(out, h.encode(stored), ("resolve_min",))
    return out


def test_buckets_are_exact_below_fifty_minutes_and_at_most_two_percent_wide():
    assert [h.bucket(m) for m in (0, 1, 49, 50, 51, 52)] == [0, 1, 49, 50, 50, 52]
    for minutes in range(400_000):
        low = h.bucket(minutes)
        assert low <= minutes and minutes - low < 0.02 * minutes + 1e-9, minutes
    # Two years of minutes fit in a few hundred buckets.
    assert h.bisect_right(h.BOUNDS, 2 * 365 * 1440) < 650


def test_a_few_durations_stay_exact_and_many_turn_coarse_within_two_percent():
    rng = random.Random(7)
    few = [rng.randint(0, 50_000) for _ in range(h.EXACT_LIMIT)]
    stored: dict = {}
    for minutes in few:
        h.apply(stored, {"resolve_min": {minutes: 1}})
    assert "resolve_min" in stored and percentile(read(stored), "resolve_min", 0.5) == nearest_rank(few, 0.5)
    many = [*few, *(int(rng.lognormvariate(8.3, 0.9)) for _ in range(5000))]
    for minutes in many[len(few):]:
        h.apply(stored, {"resolve_min": {minutes: 1}})
    assert "resolve_min" not in stored and len(stored["resolve_min~"]) < 400
    for p in (0.5, 0.9):
        exact, got = nearest_rank(many, p), percentile(read(stored), "resolve_min", p)
        assert exact * 0.98 <= got <= exact, (p, exact, got)


def test_adding_step_by_step_equals_the_bulk_sum():
    """The observer adds and takes away one complaint at a time; the bulk build sums them at once."""
    rng = random.Random(3)
    values = [rng.randint(0, 30_000) for _ in range(500)]
    stored: dict = {}
    for minutes in values:
        h.apply(stored, {"resolve_min": {minutes: 1}, "ack_min": {minutes % 90: 1}})
    moved = values[:40]  # complaints that left this row (classified into another slice)
    for minutes in moved:
        h.apply(stored, {"resolve_min": {minutes: -1}, "ack_min": {minutes % 90: -1}})
    summed: dict = {"resolve_min": defaultdict(int), "ack_min": defaultdict(int)}
    for minutes in values[40:]:
        summed["resolve_min"][minutes] += 1
        summed["ack_min"][minutes % 90] += 1
    assert h.decode(h.encode(stored)) == h.settled(summed)
