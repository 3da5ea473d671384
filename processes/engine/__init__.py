"""The engine: the generic BPM runtime around SpiffWorkflow.

Lives here: the `Runtime` facade (one transaction per call), SpiffWorkflow's configuration
(`spiff`), the tracked workflow and its store, human-task and timer sync, the timer worker,
the script sandbox and its helpers, forms, actors and accounts, inbox queries, definitions,
the audit chain, XML hardening, the database and its core tables.

May import: nothing else of `processes/` (and `handlers.registry`, the handler lookup). It would
run any BPMN; it knows no complaint.
"""
