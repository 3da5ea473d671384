"""Governance of process definitions: how a change reaches production.

Lives here: the designer's drafts and their review, validation of BPMN/DMN/forms, the semantic
diff between versions, test runs against the scenarios in `scenarios/`, and the migration of
running instances to a new version.

May import: `processes.engine` and `processes.complaints`.
"""
