"""Checking a command's values, naming every bad field in one answer."""
from datetime import date

from shared.errors import InvalidInput


class Errors(dict):
    """Field -> [messages]; every bad field is named in one answer."""

    def __init__(self, what):
        super().__init__()
        self.what = what

    def add(self, field_name, message):
        self.setdefault(field_name, []).append(message)

    def raise_any(self):
        if self:
            raise InvalidInput(f"invalid {self.what}: {', '.join(sorted(self))}", dict(self))


def text(value, field_name, errors, maximum, required=True):
    """Non-blank text of at most `maximum` characters (None allowed when not required)."""
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        errors.add(field_name, "must be non-blank text")
    elif len(value) > maximum:
        errors.add(field_name, f"at most {maximum} characters")
    return value


def iso_date(value, field_name, errors):
    """A date or 'YYYY-MM-DD' -> 'YYYY-MM-DD'."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    errors.add(field_name, "must be a date (YYYY-MM-DD)")
    return None


def integer(value, field_name, errors, minimum=None, maximum=None):
    if isinstance(value, bool) or not isinstance(value, int):
        errors.add(field_name, "must be an integer")
    elif minimum is not None and value < minimum:
        errors.add(field_name, f"must be >= {minimum}")
    elif maximum is not None and value > maximum:
        errors.add(field_name, f"must be <= {maximum}")
    return value
