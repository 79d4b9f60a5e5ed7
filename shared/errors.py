"""Errors every layer may raise. Plain Python: domain code may import them.

The HTTP layer maps each class to one status code (shared/web.py), so a
domain rule never chooses a status itself.
"""


class PraxisError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message, fields=None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}

    def to_dict(self):
        body = {"error": self.code, "message": self.message}
        if self.fields:
            body["fields"] = self.fields
        return body


class InvalidInput(PraxisError):
    """A request payload failed validation; `fields` names what was wrong."""
    status = 422
    code = "invalid_input"


class MalformedRequest(PraxisError):
    """The body is not JSON at all."""
    status = 400
    code = "malformed_request"


class InvalidEvent(PraxisError):
    """An event of unknown type or with a payload its schema refuses.

    Permanent: retrying will not help, so consumers dead-letter it at once.
    """
    status = 422
    code = "invalid_event"


class Unauthorized(PraxisError):
    status = 401
    code = "unauthorized"


class Forbidden(PraxisError):
    status = 403
    code = "forbidden"


class NotFound(PraxisError):
    status = 404
    code = "not_found"


class Conflict(PraxisError):
    """A domain rule refuses the command in the current state."""
    status = 409
    code = "conflict"


class ConcurrencyError(Conflict):
    """Another writer appended to the stream first (optimistic concurrency)."""
    code = "concurrent_modification"


class ContentTooLarge(PraxisError):
    """The body is larger than PRAXIS_MAX_BODY_BYTES."""
    status = 413
    code = "content_too_large"


class UnsupportedMediaType(PraxisError):
    """A body declared as something other than JSON."""
    status = 415
    code = "unsupported_media_type"


class TooManyRequests(PraxisError):
    """Over a rate limit (shared/ratelimit.py); Retry-After says when to come back."""
    status = 429
    code = "too_many_requests"

    def __init__(self, message, retry_after=1):
        super().__init__(message)
        self.headers = {"Retry-After": str(max(1, int(-(-retry_after // 1))))}
