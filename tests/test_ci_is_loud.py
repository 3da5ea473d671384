"""Under CI nothing that cannot run passes quietly: a PostgreSQL-only test without PostgreSQL, and a
browser test without Chromium, fail and say why (locally they are skipped with that reason)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT

POSTGRES_ONLY = "tests/test_runtime.py::test_concurrent_completion_one_wins[sqlite]"
BROWSER = "tests/browser/test_admin_flow.py::test_admin_creates_an_account_and_deactivation_ends_its_session_and_token"


def _pytest(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items()
             if k not in {"REDRESS_TEST_DATABASE_URL", "CI", "REDRESS_REQUIRE_BROWSER"} and not k.startswith("PYTEST_")}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--tb=no", "-rfEs", POSTGRES_ONLY, BROWSER],
                          cwd=ROOT, env={**clean, "REDRESS_CHROMIUM": "/nonexistent/chromium", **env},
                          capture_output=True, text=True, timeout=300, check=False)


def test_under_ci_a_test_that_cannot_run_fails_and_says_why():
    done = _pytest(CI="1")
    assert done.returncode == 1, done.stdout[-3000:]
    assert "needs PostgreSQL: set REDRESS_TEST_DATABASE_URL (CI is set)" in done.stdout
    assert "BROWSER TESTS NOT RUN: no Chromium at /nonexistent/chromium" in done.stdout
    outcome = done.stdout.strip().splitlines()[-1]  # e.g. "1 failed, 1 error in 2.1s"
    assert "passed" not in outcome and "skipped" not in outcome, outcome
