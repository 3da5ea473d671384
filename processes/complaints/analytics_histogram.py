"""Duration histograms as stored in one rollup row: exact minutes while few, log-spaced buckets after.

A row holds {metric: {minutes: count}} as JSON. While a metric has at most `EXACT_LIMIT`
complaints in the row its keys are their exact minutes, so a small deployment's medians are exact.
Past that the metric is stored under "metric~" with each key the lower bound of its bucket
(`bucket`): every bucket is at most 2 % wide, so a median or p90 read from it is at most 1.96 %
below the true value, and a row never holds more than about 600 keys per metric, whatever the
number of complaints. Once coarse a row stays coarse (the exact minutes are gone).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict

import orjson

EXACT_LIMIT = 64
COARSE = "~"
# Resolved complaints by root cause ({cause: count}) ride in the same JSON: a Pareto under any one or
# two filters reads the rows the durations are read from. Causes are names, never bucketed.
CAUSES = "root_cause"
# Under two filters a pair slice's day rows also keep its complaints received by category and by
# channel: the category and channel charts under two filters read them instead of the facts.
SPLITS = {"category": "received_by_category", "channel": "received_by_channel"}
NAMED = frozenset((CAUSES, *SPLITS.values()))  # keyed by name, never bucketed


def _bounds(limit: int = 10**8) -> list[int]:
    """Bucket lower bounds: each is ⌊1.02 × the one before⌋ + 1, so below 50 every minute is its
    own bucket and above it a bucket [b, next) spans at most 2 % of its values."""
    bounds = [0]
    while bounds[-1] < limit:
        bounds.append(bounds[-1] * 102 // 100 + 1)
    return bounds


BOUNDS = _bounds()


def bucket(minutes: int) -> int:
    """The lower bound of the bucket a duration falls in (≥ 98.04 % of it)."""
    minutes = max(int(minutes), 0)
    return BOUNDS[bisect_right(BOUNDS, minutes) - 1]


Delta = dict[str, dict[int, int]]  # metric -> {exact minutes: count}


def decode(text: str | None) -> dict[str, dict[int, int]]:
    if not text or text == "{}":
        return {}
    return {metric: {k: n for k, n in counts.items()} if metric in NAMED else {int(k): n for k, n in counts.items()}
            for metric, counts in orjson.loads(text).items()}


def encode(histograms: dict[str, dict[int, int]]) -> str:
    return orjson.dumps({m: {str(k): n for k, n in sorted(c.items())} for m, c in sorted(histograms.items()) if c}
                        ).decode()


def _coarsened(counts: dict[int, int]) -> dict[int, int]:
    out: dict[int, int] = defaultdict(int)
    for minutes, n in counts.items():
        out[bucket(minutes)] += n
    return dict(out)


def apply(stored: dict[str, dict[int, int]], delta: Delta) -> dict[str, dict[int, int]]:
    """A row's histograms with a delta of exact minutes added (counts may be negative)."""
    for metric, changes in delta.items():
        if metric in NAMED:
            named = stored.setdefault(metric, {})
            for name, n in changes.items():
                named[name] = named.get(name, 0) + n
                if not named[name]:
                    del named[name]
            if not named:
                del stored[metric]
            continue
        coarse = metric + COARSE in stored
        target = stored.setdefault(metric + COARSE if coarse else metric, {})
        for minutes, n in changes.items():
            key = bucket(minutes) if coarse else minutes
            target[key] = target.get(key, 0) + n
            if not target[key]:
                del target[key]
        if not coarse and sum(target.values()) > EXACT_LIMIT:
            stored[metric + COARSE] = _coarsened(stored.pop(metric))
        for name in (metric, metric + COARSE):
            if name in stored and not stored[name]:
                del stored[name]
    return stored


def settled(histograms: dict[str, dict[int, int]]) -> dict[str, dict[int, int]]:
    """Histograms summed in one go (the bulk build): a metric past the limit stored coarse, as the
    observer would have stored it."""
    out = {}
    for metric, counts in histograms.items():
        counts = {k: n for k, n in counts.items() if n}
        if counts and metric in NAMED:
            out[metric] = counts
        elif counts:
            coarse = metric.endswith(COARSE) or sum(counts.values()) > EXACT_LIMIT
            out[metric.removesuffix(COARSE) + COARSE if coarse else metric] = _coarsened(counts) if coarse else counts
    return out


def add_into(out: dict[tuple[str, int], list], text: str | None, metrics) -> None:
    """Add a stored row's histograms of some metrics to figures' sums, (metric, minutes) → [count, …]."""
    if not text or text == "{}":
        return
    for metric, counts in orjson.loads(text).items():
        metric = metric.removesuffix(COARSE)
        if metric not in metrics or metric in NAMED:
            continue
        for key, n in counts.items():
            cell = out[(metric, int(key))]
            cell[0] += n


def add_named(out: dict[str, int], text: str | None, metric: str = CAUSES) -> None:
    """Add a stored row's counts by name (root cause, category, channel) to `out`."""
    if text and text != "{}":
        for name, n in orjson.loads(text).get(metric, {}).items():
            out[name] = out.get(name, 0) + n
