"""The complaint domain, built on the engine.

Lives here: registration of a complaint and its record, the records the process writes
(notifications, escalations, compensation, budgets, archive, improvement actions), the SLA
policy and business calendar, privacy (what each role may see), the process settings, the
workspace's search indexes and the demo data.

May import: `processes.engine` only.
"""
