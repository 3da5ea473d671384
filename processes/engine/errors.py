"""Errors the runtime raises; each carries a message a person can act on."""


class RuntimeProblem(Exception):
    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(RuntimeProblem):
    status = 404


class Forbidden(RuntimeProblem):
    status = 403


class Conflict(RuntimeProblem):
    """Someone else changed the instance or the task first; reload and try again."""

    status = 409


class NotWaiting(Conflict):
    """The process is not waiting for this message (any more)."""


class ValidationFailed(RuntimeProblem):
    status = 422

    def __init__(self, errors: dict[str, str], message: str = "Some fields need correcting."):
        super().__init__(message)
        self.errors = errors


class DefinitionError(RuntimeProblem):
    """The process files could not be deployed."""

    status = 422
