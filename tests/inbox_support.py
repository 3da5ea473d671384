"""Shared set-up for the inbox tests: the bare process instance their task rows hang on."""

from __future__ import annotations

from processes.engine.models import ProcessDefinition, ProcessInstance


def bare_instance(s) -> ProcessInstance:
    """A definition and an instance with no process behind them, flushed so tasks can point at it."""
    definition = ProcessDefinition(process_key="p", version=1, sha256="0" * 64, files={}, spec={},
                                   subprocess_specs={})
    s.add(definition)
    s.flush()
    instance = ProcessInstance(definition_id=definition.id, process_key="p", business_key="TS-20260302-AAAAA",
                               state={}, awaiting=[])
    s.add(instance)
    s.flush()
    return instance
