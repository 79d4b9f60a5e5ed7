"""Scheduling's use cases: each command is one unit of work (events + read models).

Commands take a Caller (who asks, under which correlation) and stamp what they
append with its context; reactions to other services' events get theirs from
the event (Context.caused_by). A command loads the aggregates it decides on with
`uow.get` and saves them with `uow.save`, at the version loaded: a concurrent
change of the same stream is a 409 ConcurrencyError, never a lost update.

Commands that also decide from the calendar's read models (is the slot free?
which session number is this?) take the store's write lock before reading them
(`uow.lock()`): read-model rows have no version to check, so two requests for
one slot are decided one after the other and exactly one wins.

- clinics: clinics, rooms and clinicians' profiles
- booking: an appointment, a series, a move
- attendance: check-in, a session held, a no-show, a cancellation (and those a
  discharge makes)
- cadence: reassessment policies, the reactions and the timer that flag them due
- feeds: calendar feeds
- reminders: appointment reminders by e-mail, run by the timer
What the GETs answer is in ../queries.
"""
from shared.application import Application

from ..queries import SchedulingQueries
from ..read_models import projection
from ..subscriptions import SUBSCRIPTIONS
from .attendance import AttendanceCommands
from .booking import BookingCommands
from .cadence import ReassessmentCommands
from .clinics import ClinicCommands
from .feeds import FeedCommands
from .reminders import ReminderCommands


class SchedulingApplication(ClinicCommands, BookingCommands, AttendanceCommands,
                            ReassessmentCommands, FeedCommands, ReminderCommands,
                            SchedulingQueries, Application):
    service = "scheduling"
    projection = projection
    subscriptions = SUBSCRIPTIONS
