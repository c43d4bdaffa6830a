"""Use-case errors the API maps to HTTP statuses."""


class NotFound(LookupError):
    """404"""


class Forbidden(PermissionError):
    """403"""


class Conflict(ValueError):
    """409: the change is not allowed in the current state."""
