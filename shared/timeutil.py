"""Dates and times as events carry them: ISO 8601 strings, UTC with 'Z'."""
from datetime import date, datetime, timezone


def parse_time(value):
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def parse_date(value):
    return date.fromisoformat(value)


def iso(moment):
    """A datetime (naive ones are UTC, as SQLite returns them) -> '...Z'."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def aware(moment):
    """A datetime read from a table, in UTC (SQLite gives back naive ones: they were
    stored in UTC); None stays None."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def utc_now():
    return datetime.now(timezone.utc)
