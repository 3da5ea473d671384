"""Handlers used by the stand-in process of the runtime tests and benchmarks."""

from processes.engine.handlers import handler


@handler("echo")
def echo(ctx) -> dict:
    """Copies its parameters into the process data; useful to see a service task ran."""
    return {f"echo_{name}": value for name, value in ctx.params.items()}
