"""`redress bench analytics`: the overview and every chart over a million complaints."""

from __future__ import annotations

import json
import sys

import click


def register(main: click.Group) -> None:
    bench = main.commands.get("bench")

    @click.command("analytics")
    @click.option("--database-url", default=None, help="Default: a fresh SQLite file. Its analytics tables are replaced.")
    @click.option("--complaints", default=1_000_000, show_default=True)
    @click.option("--samples", default=10, show_default=True, help="Random periods, each without and with a filter.")
    def bench_analytics(database_url: str | None, complaints: int, samples: int) -> None:
        """Seed complaint facts over two years, build the rollups, time the KPIs and every chart;
        exit 1 when the median or p95 misses its target (300 ms, 800 ms)."""
        from processes.benchmarks.analytics import run

        result = run(database_url, complaints, samples)
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
        sys.exit(0 if result["met"] else 1)

    if isinstance(bench, click.Group):
        bench.add_command(bench_analytics)
    else:
        main.add_command(bench_analytics, "bench-analytics")
