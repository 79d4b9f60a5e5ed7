"""Secure messaging: one thread between a client and their care team, text only.

A message is the stream `message-<message_id>` (so sends to one thread never
contend): the client or a clinician of the care team sends it, each reader records
reading it once (the receipt), and a clinician may flag it as clinically relevant,
which puts it on the chart's timeline. A client's message arriving outside the
clinic's office hours is answered at once by the clinic's auto-reply (the crisis
line and the office hours), itself a message of the thread.

A clinic's messaging settings (time zone, office hours, crisis line) are the stream
`messaging-settings-<organisation>-<clinic>`, only ever set outright.
"""
import functools
from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from shared.aggregate import Aggregate
from shared.envelope import NewEvent
from shared.errors import Conflict
from shared.timeutil import iso, parse_time

from .validation import Errors, text

TEXT_MAX = 5000
CRISIS_LINE_MAX = 1000
OFFICE_HOURS_MAX = 7 * 4  # a few spans a day
CLIENT, CLINICIAN, CLINIC = "client", "clinician", "clinic"  # who sent a message
AUTO_REPLY_SENDER = "auto-reply"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass
class Message(Aggregate):
    STREAM = "message-{}"
    message_id: str
    version: int = 0
    client_id: str = None
    sender_id: str = None
    sender_role: str = None
    readers: set = field(default_factory=set)
    flagged: bool = False

    def _on_MessageSent(self, event, data):
        self.client_id, self.sender_id = data["client_id"], data["sender_id"]
        self.sender_role = data["sender_role"]

    def _on_MessageRead(self, event, data):
        self.readers.add(data["reader_id"])

    def _on_MessageFlagged(self, event, data):
        self.flagged = True


class MessagingSettings(Aggregate):
    """A clinic's messaging settings: set outright (a blind write), never loaded to
    decide, so this names its stream only."""
    STREAM = "messaging-settings-{}-{}"


def send(message_id, client_id, sender_id, sender_role, text_, sent_at):
    """-> [MessageSent]; the text non-blank and at most TEXT_MAX characters."""
    errors = Errors("message")
    text(text_, "text", errors, TEXT_MAX)
    errors.raise_any()
    return [NewEvent("MessageSent", {
        "message_id": message_id, "client_id": client_id, "sender_id": sender_id,
        "sender_role": sender_role, "text": text_, "sent_at": sent_at})]


def mark_read(message, reader_id, read_at):
    """-> [MessageRead] the first time this reader reads it; [] after (a receipt once).
    A sender does not read their own message."""
    if reader_id in message.readers or reader_id == message.sender_id:
        return []
    return [NewEvent("MessageRead", {
        "message_id": message.message_id, "client_id": message.client_id,
        "reader_id": reader_id, "read_at": read_at})]


def flag(message, flagged_by, flagged_at):
    """-> [MessageFlagged]: clinically relevant, so on the chart's timeline; once."""
    if message.flagged:
        raise Conflict("the message is already flagged as clinically relevant")
    if message.sender_role == CLINIC:
        raise Conflict("an auto-reply is not part of the clinical conversation")
    return [NewEvent("MessageFlagged", {
        "message_id": message.message_id, "client_id": message.client_id,
        "flagged_by": flagged_by, "flagged_at": flagged_at})]


# -- the clinic's settings and its auto-reply -------------------------------------------
@functools.lru_cache(maxsize=1)
def _zone_names():
    return frozenset(available_timezones())


def _minutes(value):
    """'09:30' -> 570; '24:00' is the end of the day; None when not a clock time."""
    try:
        hours, minutes = (int(part) for part in value.split(":"))
    except (AttributeError, ValueError):
        return None
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or hours * 60 + minutes > 24 * 60:
        return None
    return hours * 60 + minutes


def set_settings(time_zone, office_hours, crisis_line, set_by, set_at):
    """-> [MessagingSettingsSet], every bad field named."""
    errors = Errors("messaging settings")
    if not isinstance(time_zone, str) or time_zone not in _zone_names():
        errors.add("time_zone", "not an IANA time zone, e.g. Europe/London")
    text(crisis_line, "crisis_line", errors, CRISIS_LINE_MAX)
    if not isinstance(office_hours, list) or len(office_hours) > OFFICE_HOURS_MAX:
        errors.add("office_hours", f"a list of at most {OFFICE_HOURS_MAX} spans")
        office_hours = []
    spans = []
    for number, span in enumerate(office_hours):
        name = f"office_hours.{number}"
        weekday = span.get("weekday") if isinstance(span, dict) else None
        start, end = (_minutes(span.get(k)) if isinstance(span, dict) else None
                      for k in ("start", "end"))
        if isinstance(weekday, bool) or weekday not in range(7):
            errors.add(name, "weekday must be 0 (Monday) to 6 (Sunday)")
        elif start is None or end is None or start >= end:
            errors.add(name, "start and end are HH:MM with start before end")
        else:
            spans.append({"weekday": weekday, "start": span["start"], "end": span["end"]})
    errors.raise_any()
    return [NewEvent("MessagingSettingsSet", {
        "time_zone": time_zone, "office_hours": sorted(
            spans, key=lambda s: (s["weekday"], s["start"])),
        "crisis_line": crisis_line, "set_by": set_by, "set_at": set_at})]


def in_office_hours(settings, moment):
    """Whether `moment` (aware) falls in one of the clinic's spans, on its wall clock."""
    local = moment.astimezone(ZoneInfo(settings["time_zone"]))
    now = local.hour * 60 + local.minute
    return any(span["weekday"] == local.weekday()
               and _minutes(span["start"]) <= now < _minutes(span["end"])
               for span in settings["office_hours"])


def auto_reply_text(settings):
    """The crisis line first, then when the clinic reads messages."""
    hours = "; ".join(f"{WEEKDAYS[s['weekday']]} {s['start']}-{s['end']}"
                      for s in settings["office_hours"]) or "none set"
    return (f"{settings['crisis_line']}\n\nYour message has been received outside office "
            f"hours ({hours}, {settings['time_zone']}); your care team reads it when the "
            "office is open.")


def auto_reply(settings, incoming, reply_id):
    """[MessageSent] from the clinic when a client's message arrives outside office
    hours; [] within them, or when the clinic set no messaging settings."""
    if settings is None or incoming.data["sender_role"] != CLIENT:
        return []
    received = parse_time(incoming.data["sent_at"])
    if in_office_hours(settings, received):
        return []
    # A millisecond after the message it answers, so the thread shows it after it.
    return send(reply_id, incoming.data["client_id"], AUTO_REPLY_SENDER, CLINIC,
                auto_reply_text(settings), iso(received + timedelta(milliseconds=1)))
