"""Scheduling's use cases: each command is one unit of work (events + read models).

Commands that decide from the calendar (is the slot free? which session number
is this?) take the store's write lock first (`uow.lock()`), so two requests for
one slot are decided one after the other and exactly one wins. The reassessment
cadence is decided in the same unit of work as the event that can make it due
(a SessionHeld appended here, a ClientAssessed consumed from intake) and by a
periodic check for cycles that come due by time alone.
"""
import uuid
from datetime import timedelta

from sqlalchemy import select

from shared import care_team, metrics, paging
from shared.application import Application
from shared.envelope import Context
from shared.errors import ConcurrencyError, Conflict, Forbidden, InvalidInput, NotFound, \
    Unauthorized
from shared.store import events_table
from shared.timeutil import iso, parse_time, utc_now

from . import calendar_feed, domain, views
from .domain import appointments as booking
from .domain import cadence as rules
from .domain import feeds
from .domain import calendar as settings_rules
from .domain import series as recurrence
from .read_models import aware, calendar as calendar_models, cadence as cadence_models, \
    clients as client_models, feeds as feed_models, projection
from .read_models.calendar import appointments, rooms
from .subscriptions import SUBSCRIPTIONS

STAFF = ("admin", "clinician", "front_desk")
# Fixed forever: the cancellations a discharge causes derive their ids from it.
DISCHARGE_NAMESPACE = uuid.UUID("9a3c1d8e-5b7f-4e2a-8c6d-1f0e9b8a7c65")
FEED_HISTORY = timedelta(days=60)  # how far back a calendar feed reaches


class SchedulingApplication(Application):
    service = "scheduling"
    projection = projection
    subscriptions = SUBSCRIPTIONS

    # -- clinics, rooms, clinicians -------------------------------------------
    def configure_clinic(self, principal, correlation_id, clinic_id, command):
        principal.require_role("admin")
        principal.require_clinic(principal.organisation_id, clinic_id)
        new_events = settings_rules.configure_clinic(**command)
        stream = domain.clinic_stream(principal.organisation_id, clinic_id)
        context = Context(principal.organisation_id, clinic_id, correlation_id,
                          actor=principal.user_id)
        with self.store.unit_of_work() as uow:
            uow.append_blind(stream, context, new_events)
        return self.clinic(principal, clinic_id)

    def add_room(self, principal, correlation_id, clinic_id, command):
        principal.require_role("admin")
        principal.require_clinic(principal.organisation_id, clinic_id)
        room_id = command.get("room_id") or str(uuid.uuid4())
        stream = domain.clinic_stream(principal.organisation_id, clinic_id)
        context = Context(principal.organisation_id, clinic_id, correlation_id,
                          actor=principal.user_id)
        with self.store.unit_of_work() as uow:
            uow.lock()
            version = uow.version(stream)  # what the decision below reads is of this
            existing = {r["room_id"] for r in calendar_models.room_rows(
                uow.conn, principal.organisation_id, clinic_id)}
            new_events = settings_rules.add_room(room_id, command["name"], existing)
            uow.append(stream, version, context, new_events)
        return {"room_id": room_id, "name": command["name"], "clinic_id": clinic_id}

    def clinic(self, principal, clinic_id):
        principal.require_clinic(principal.organisation_id, clinic_id)
        with self.store.read() as conn:
            settings = calendar_models.clinic_settings(conn, principal.organisation_id,
                                                       clinic_id)
            configured = calendar_models.clinic_configured_row(
                conn, principal.organisation_id, clinic_id) is not None
            room_list = calendar_models.room_rows(conn, principal.organisation_id, clinic_id)
        return views.clinic(principal.organisation_id, clinic_id, settings, configured,
                            room_list)

    def set_clinician_profile(self, principal, correlation_id, clinician_id, command):
        principal.require_role("admin")
        for clinic_id in command["clinic_ids"]:
            principal.require_clinic(principal.organisation_id, clinic_id)
        new_events = settings_rules.set_clinician_profile(
            clinician_id, command["name"], command["clinic_ids"], command["working_hours"])
        stream = domain.clinician_stream(principal.organisation_id, clinician_id)
        context = Context(principal.organisation_id, command["clinic_ids"][0], correlation_id,
                          actor=principal.user_id)
        with self.store.unit_of_work() as uow:
            uow.lock()
            before = calendar_models.clinician_row(uow.conn, principal.organisation_id,
                                                   clinician_id)
            if before is not None:
                # Changing a profile also changes what it says about its old clinics.
                for clinic_id in before["profile"]["clinic_ids"]:
                    principal.require_clinic(principal.organisation_id, clinic_id)
            uow.append_blind(stream, context, new_events)  # a PUT of the whole profile
        return self.clinician(principal, clinician_id)

    def clinician(self, principal, clinician_id):
        with self.store.read() as conn:
            row = calendar_models.clinician_row(conn, principal.organisation_id, clinician_id)
        if row is None or not any(principal.sees(principal.organisation_id, c)
                                  for c in row["profile"]["clinic_ids"]):
            raise NotFound("clinician not found")
        return {"organisation_id": principal.organisation_id, **row["profile"]}

    # -- booking ---------------------------------------------------------------
    def _client_of_clinic(self, conn, client_id, organisation_id, clinic_id):
        client = client_models.client_row(conn, client_id)
        if client is None or (client["organisation_id"], client["clinic_id"]) \
                != (organisation_id, clinic_id):
            raise InvalidInput(f"client {client_id} is not a client of clinic {clinic_id}",
                               {"client_id": ["unknown client in this clinic"]})
        return client

    def _outside_working_hours(self, conn, organisation_id, settings, clinician_id, start,
                               duration_minutes, override):
        """False when the slot is inside the clinician's hours (or no profile was
        ever set); True when outside and explicitly overridden; else refused."""
        profile = calendar_models.clinician_profile(conn, organisation_id, clinician_id)
        if profile is None:
            return False
        if not profile.works_at(settings.clinic_id):
            raise InvalidInput(f"clinician {clinician_id} does not work at clinic "
                               f"{settings.clinic_id}",
                               {"clinician_id": ["not working at this clinic"]})
        end = start + timedelta(minutes=duration_minutes)
        if profile.within_hours(settings, start, end):
            return False
        if override:
            return True
        local = settings.local(start)
        raise Conflict(f"{local.strftime('%A %H:%M')} ({settings.time_zone}) is outside "
                       f"clinician {clinician_id}'s working hours; send "
                       f"override_working_hours: true to book it anyway",
                       {"start": ["outside the clinician's working hours"]})

    def _check_free(self, conn, organisation_id, slot):
        booking.check_free(slot, calendar_models.taken_slots(
            conn, organisation_id, slot.start, slot.end, slot.clinician_id, slot.client_id,
            slot.room_id))

    def book_appointment(self, principal, correlation_id, command):
        principal.require_role(*STAFF)
        organisation_id, clinic_id = command["organisation_id"], command["clinic_id"]
        principal.require_clinic(organisation_id, clinic_id)
        appointment_id = str(uuid.uuid4())
        client_id = str(command["client_id"])
        context = Context(organisation_id, clinic_id, correlation_id, actor=principal.user_id)
        with self.store.unit_of_work() as uow:
            uow.lock()  # the calendar cannot change between the check and the append
            conn = uow.conn
            self._client_of_clinic(conn, client_id, organisation_id, clinic_id)
            settings = calendar_models.clinic_settings(conn, organisation_id, clinic_id)
            room_ids = {r["room_id"] for r in calendar_models.room_rows(
                conn, organisation_id, clinic_id)}
            new_events = booking.book(
                appointment_id, client_id, command["clinician_id"], command["start"],
                command["duration_minutes"], command["modality"],
                command.get("session_type", booking.DEFAULT_SESSION_TYPE),
                command.get("room_id"), settings, room_ids)
            outside = self._outside_working_hours(
                conn, organisation_id, settings, command["clinician_id"], command["start"],
                command["duration_minutes"], command.get("override_working_hours", False))
            if outside:
                new_events[0].data["outside_working_hours"] = True
            data = new_events[0].data
            self._check_free(conn, organisation_id, booking.Slot(
                appointment_id, client_id, data["clinician_id"], data["room_id"],
                command["start"], command["start"]
                + timedelta(minutes=command["duration_minutes"])))
            uow.append(booking.appointment_stream(appointment_id), 0, context, new_events)
            record = calendar_models.appointment_row(conn, appointment_id)
        return views.appointment(record, settings)

    def book_series(self, principal, correlation_id, command):
        principal.require_role(*STAFF)
        organisation_id, clinic_id = command["organisation_id"], command["clinic_id"]
        principal.require_clinic(organisation_id, clinic_id)
        series_id = str(uuid.uuid4())
        client_id = str(command["client_id"])
        clinician_id = command["clinician_id"]
        duration = command["duration_minutes"]
        context = Context(organisation_id, clinic_id, correlation_id, actor=principal.user_id)
        with self.store.unit_of_work() as uow:
            uow.lock()
            conn = uow.conn
            self._client_of_clinic(conn, client_id, organisation_id, clinic_id)
            settings = calendar_models.clinic_settings(conn, organisation_id, clinic_id)
            room_ids = {r["room_id"] for r in calendar_models.room_rows(
                conn, organisation_id, clinic_id)}
            starts = recurrence.occurrences(command["start"], settings.zone,
                                            command["frequency"], command.get("count"),
                                            command.get("until"))
            session_type = command.get("session_type", booking.DEFAULT_SESSION_TYPE)
            bookings = []
            for index, start in enumerate(starts):
                appointment_id = recurrence.occurrence_id(series_id, index)
                new_events = booking.book(
                    appointment_id, client_id, clinician_id, start, duration,
                    command["modality"], session_type, command.get("room_id"), settings,
                    room_ids, series_id=series_id)
                try:
                    if self._outside_working_hours(
                            conn, organisation_id, settings, clinician_id, start, duration,
                            command.get("override_working_hours", False)):
                        new_events[0].data["outside_working_hours"] = True
                    self._check_free(conn, organisation_id, booking.Slot(
                        appointment_id, client_id, clinician_id, new_events[0].data["room_id"],
                        start, start + timedelta(minutes=duration)))
                except Conflict as exc:
                    exc.message = (f"occurrence {index + 1} ({settings.local(start).isoformat()})"
                                   f": {exc.message}")
                    exc.args = (exc.message,)
                    raise
                bookings.append((appointment_id, new_events))
            uow.append(recurrence.series_stream(series_id), 0, context, recurrence.book_series(
                series_id, client_id, clinician_id, starts, duration, command["modality"],
                session_type, command.get("room_id"), command["frequency"],
                command.get("count"), command.get("until"), settings.time_zone))
            for appointment_id, new_events in bookings:
                uow.append(booking.appointment_stream(appointment_id), 0, context, new_events)
        return self.series(principal, series_id)

    def series(self, principal, series_id):
        with self.store.read() as conn:
            record = principal.require_visible(calendar_models.series_row(conn, series_id),
                                               "series")
            settings = calendar_models.clinic_settings(conn, record["organisation_id"],
                                                       record["clinic_id"])
            occurrences = calendar_models.series_appointments(conn, series_id)
        return views.series(record, occurrences, settings)

    def end_series(self, principal, correlation_id, series_id, command):
        principal.require_role(*STAFF)
        now = utc_now()
        effective_from = command.get("from_") or now
        cancelled_by = command.get("cancelled_by", "clinic")
        reason = command.get("reason") or "series ended"
        with self.store.unit_of_work() as uow:
            uow.lock()
            record = principal.require_visible(calendar_models.series_row(uow.conn, series_id),
                                               "series")
            context = Context(record["organisation_id"], record["clinic_id"], correlation_id,
                              actor=principal.user_id)
            stream = recurrence.series_stream(series_id)
            series = recurrence.Series.from_events(series_id, uow.load(stream))
            uow.append(stream, series.version, context,
                       recurrence.end_series(series, effective_from, reason, now))
            settings = calendar_models.clinic_settings(uow.conn, record["organisation_id"],
                                                       record["clinic_id"])
            for row in calendar_models.series_appointments(uow.conn, series_id):
                if row["status"] not in booking.OPEN or aware(row["start"]) < effective_from:
                    continue
                self._cancel_in(uow, row["appointment_id"], cancelled_by, reason, now,
                                settings, context)
        return self.series(principal, series_id)

    # -- an appointment's life ---------------------------------------------------
    def _load_visible(self, uow, principal, appointment_id):
        record = principal.require_visible(
            calendar_models.appointment_row(uow.conn, appointment_id), "appointment")
        principal.require_own_record(record["client_id"])
        appointment = booking.Appointment.from_events(
            appointment_id, uow.load(booking.appointment_stream(appointment_id)))
        context_of = (lambda correlation_id: Context(
            record["organisation_id"], record["clinic_id"], correlation_id,
            actor=principal.user_id))
        return record, appointment, context_of

    def _cancel_in(self, uow, appointment_id, cancelled_by, reason, at, settings, context,
                   event_id=None):
        stream = booking.appointment_stream(appointment_id)
        appointment = booking.Appointment.from_events(appointment_id, uow.load(stream))
        new_events = client_models.stamp_details_revision(uow.conn, booking.cancel(
            appointment, cancelled_by, reason, at, settings.late_cancel_window_hours,
            event_id=event_id))
        return uow.append(stream, appointment.version, context, new_events)

    def cancel_appointment(self, principal, correlation_id, appointment_id, command):
        principal.require_role(*STAFF, "client")
        cancelled_by = command["cancelled_by"]
        if principal.role == "client" and cancelled_by != "client":
            raise Forbidden("a client cancels as the client",
                            {"cancelled_by": ["must be client"]})
        with self.store.unit_of_work() as uow:
            uow.lock()
            record, _appointment, context_of = self._load_visible(uow, principal,
                                                                  appointment_id)
            settings = calendar_models.clinic_settings(uow.conn, record["organisation_id"],
                                                       record["clinic_id"])
            self._cancel_in(uow, appointment_id, cancelled_by, command.get("reason"),
                            utc_now(), settings, context_of(correlation_id))
            record = calendar_models.appointment_row(uow.conn, appointment_id)
        return views.appointment(record, settings)

    def reschedule_appointment(self, principal, correlation_id, appointment_id, command):
        principal.require_role(*STAFF)
        with self.store.unit_of_work() as uow:
            uow.lock()
            record, appointment, context_of = self._load_visible(uow, principal,
                                                                 appointment_id)
            organisation_id = record["organisation_id"]
            settings = calendar_models.clinic_settings(uow.conn, organisation_id,
                                                       record["clinic_id"])
            room_ids = {r["room_id"] for r in calendar_models.room_rows(
                uow.conn, organisation_id, record["clinic_id"])}
            new_events = booking.reschedule(
                appointment, command["start"], command.get("duration_minutes"),
                command.get("room_id"), room_ids, keep_room="room_id" not in command)
            data = new_events[0].data
            if self._outside_working_hours(uow.conn, organisation_id, settings,
                                           appointment.clinician_id, command["start"],
                                           data["duration_minutes"],
                                           command.get("override_working_hours", False)):
                data["outside_working_hours"] = True
            self._check_free(uow.conn, organisation_id, appointment.slot(
                command["start"], data["duration_minutes"], data["room_id"]))
            uow.append(booking.appointment_stream(appointment_id), appointment.version,
                       context_of(correlation_id), new_events)
            record = calendar_models.appointment_row(uow.conn, appointment_id)
        return views.appointment(record, settings)

    def check_in(self, principal, correlation_id, appointment_id):
        principal.require_role(*STAFF)
        return self._simple(principal, correlation_id, appointment_id, booking.check_in)

    def record_no_show(self, principal, correlation_id, appointment_id):
        principal.require_role(*STAFF)
        return self._simple(principal, correlation_id, appointment_id, booking.no_show)

    def _simple(self, principal, correlation_id, appointment_id, decide):
        with self.store.unit_of_work() as uow:
            record, appointment, context_of = self._load_visible(uow, principal,
                                                                 appointment_id)
            uow.append(booking.appointment_stream(appointment_id), appointment.version,
                       context_of(correlation_id),
                       client_models.stamp_details_revision(uow.conn,
                                                            decide(appointment, utc_now())))
            record = calendar_models.appointment_row(uow.conn, appointment_id)
            settings = calendar_models.clinic_settings(uow.conn, record["organisation_id"],
                                                       record["clinic_id"])
        return views.appointment(record, settings)

    def hold_session(self, principal, correlation_id, appointment_id, command):
        appointment_id = str(appointment_id)
        principal.require_role(*STAFF)
        with self.store.unit_of_work() as uow:
            # Session numbers count the client's sessions held: decide them one at a time.
            uow.lock()
            record, appointment, context_of = self._load_visible(uow, principal,
                                                                 appointment_id)
            episode_id = client_models.open_episode_id(uow.conn, appointment.client_id)
            held_before = calendar_models.held_in_episode(uow.conn, appointment.client_id,
                                                          episode_id)
            new_events = booking.hold(appointment, command["minutes"], held_before, episode_id,
                                      command.get("session_type"),
                                      command.get("place_of_service"),
                                      command.get("audio_only"),
                                      command.get("client_present"), at=utc_now())
            client_models.stamp_details_revision(uow.conn, new_events)
            (held,) = uow.append(booking.appointment_stream(appointment_id),
                                 appointment.version, context_of(correlation_id), new_events)
            self._decide_reassessment(uow, appointment.client_id, Context.caused_by(held),
                                      utc_now())
        return held.data

    # -- the reassessment cadence --------------------------------------------------
    def set_reassessment_policy(self, principal, correlation_id, clinic_id, command):
        principal.require_role("admin")
        principal.require_clinic(principal.organisation_id, clinic_id)
        new_events = rules.set_policy(command.get("every_sessions"), command.get("every_days"))
        context = Context(principal.organisation_id, clinic_id, correlation_id,
                          actor=principal.user_id)
        stream = domain.clinic_stream(principal.organisation_id, clinic_id)
        with self.store.unit_of_work() as uow:
            uow.append_blind(stream, context, new_events)
        return self.reassessment_policy(principal, clinic_id)

    def set_client_reassessment_policy(self, principal, correlation_id, client_id, command):
        """A client's own cadence; both limits null returns them to the clinic's."""
        principal.require_role("admin", "clinician")
        client_id = str(client_id)
        with self.store.unit_of_work() as uow:
            uow.lock()
            client = principal.require_visible(client_models.client_row(uow.conn, client_id),
                                               "client")
            new_events = rules.set_policy(command.get("every_sessions"),
                                          command.get("every_days"), client_id=client_id)
            context = Context(client["organisation_id"], client["clinic_id"], correlation_id,
                              actor=principal.user_id)
            stream = domain.clinic_stream(client["organisation_id"], client["clinic_id"])
            (event,) = uow.append_blind(stream, context, new_events)
            self._decide_reassessment(uow, client_id, Context.caused_by(event), utc_now())
        return self.client_reassessment_policy(principal, client_id)

    def reassessment_policy(self, principal, clinic_id):
        principal.require_clinic(principal.organisation_id, clinic_id)
        with self.store.read() as conn:
            own = cadence_models.clinic_policy(conn, principal.organisation_id, clinic_id)
        policy = own or rules.DEFAULT_POLICY
        return {"organisation_id": principal.organisation_id, "clinic_id": clinic_id,
                **views.policy(policy, "clinic" if own else "default")}

    def client_reassessment_policy(self, principal, client_id):
        with self.store.read() as conn:
            client = principal.require_visible(client_models.client_row(conn, client_id),
                                               "client")
            org, clinic = client["organisation_id"], client["clinic_id"]
            own = cadence_models.client_policy(conn, org, clinic, client_id)
            clinic_own = cadence_models.clinic_policy(conn, org, clinic)
        policy = rules.effective_policy(clinic_own, own)
        source = "client" if own else "clinic" if clinic_own else "default"
        return {"client_id": str(client_id), **views.policy(policy, source)}

    def _decide_reassessment(self, uow, client_id, context, now, last_assessment=None):
        """ReassessmentDue for the client's current cycle, or for the cycle opened by
        `last_assessment` ((id, assessed_at)) when given."""
        client_id = str(client_id)
        client = client_models.client_row(uow.conn, client_id)
        organisation_id, clinic_id = (client["organisation_id"], client["clinic_id"]) \
            if client else (context.organisation_id, context.clinic_id)
        policy = cadence_models.effective_policy(uow.conn, organisation_id, clinic_id,
                                                 client_id)
        new_events = cadence_models.cadence(uow.conn, client_id, last_assessment) \
            .decide(policy, now)
        if not new_events:
            return []
        stream = rules.reassessment_stream(client_id)
        try:
            return uow.append(stream, uow.version(stream), context, new_events)
        except ConcurrencyError:
            # The deterministic id is already stored: this cycle was flagged.
            if uow.conn.execute(select(events_table.c.position).where(
                    events_table.c.event_id == new_events[0].id)).first() is not None:
                return []
            raise

    def check_reassessments_due(self, now=None):
        """Cycles that came due by time alone (every D days), or by a policy that
        changed: what the timer runs every minute. Returns the events appended."""
        now = now or utc_now()
        appended, after = [], ""
        while True:
            with self.store.read() as conn:
                page = cadence_models.clients_to_check(conn, after)
            if not page:
                return appended
            for client_id, organisation_id, clinic_id in page:
                with self.store.read() as conn:  # cheap look first: no write lock
                    policy = cadence_models.effective_policy(conn, organisation_id, clinic_id,
                                                             client_id)
                    if not cadence_models.cadence(conn, client_id).decide(policy, now):
                        continue
                context = Context(organisation_id, clinic_id,
                                  actor="timer:reassessment-cadence")
                with self.store.unit_of_work() as uow:
                    uow.lock()
                    appended += self._decide_reassessment(uow, client_id, context, now)
            after = page[-1].client_id

    # -- reactions to intake ---------------------------------------------------------
    def on_client_assessed(self, uow, event, context):
        """A (possibly late) assessment: the projection already kept it or ignored
        it; an assessment dated before sessions already held may make it due now.
        One older than the latest held still decides its own cycle, as it would have
        had it arrived before the newer one: what is appended does not depend on
        the order intake's events arrive in."""
        data = event.data
        now = utc_now()
        self._decide_reassessment(uow, data["client_id"], context, now)
        self._decide_reassessment(uow, data["client_id"], context, now, last_assessment=(
            data["assessment_id"], parse_time(data["assessed_at"])))

    def on_client_discharged(self, uow, event, context):
        """The episode ended: the client's appointments from the discharge on are
        cancelled by the clinic (each cancellation's id derives from the discharge,
        so a redelivery or a replay can never cancel twice)."""
        discharged_at = parse_time(event.data["discharged_at"])
        reason = f"client discharged ({event.data['reason'].replace('_', ' ')})"
        for row in calendar_models.open_appointments_from(uow.conn, event.data["client_id"],
                                                          discharged_at):
            settings = calendar_models.clinic_settings(uow.conn, row["organisation_id"],
                                                       row["clinic_id"])
            here = Context(row["organisation_id"], row["clinic_id"], context.correlation_id,
                           context.causation_id, context.actor)
            event_id = str(uuid.uuid5(DISCHARGE_NAMESPACE,
                                      f"{event.id}:{row['appointment_id']}"))
            self._cancel_in(uow, row["appointment_id"], "clinic", reason, discharged_at,
                            settings, here, event_id=event_id)

    def refresh_gauges(self, now=None):
        """praxis_reassessments_overdue per clinic: due and still not done after
        OVERDUE_AFTER_DAYS (what GET /clinics/{clinic}/reassessments lists as overdue)."""
        cutoff = (now or utc_now()) - timedelta(days=rules.OVERDUE_AFTER_DAYS)
        with self.store.read() as conn:
            counts = cadence_models.overdue_counts(conn, cutoff)
        return self.set_practice_gauge(metrics.REASSESSMENTS_OVERDUE, counts)

    # -- queries -------------------------------------------------------------------
    def appointment(self, principal, appointment_id):
        with self.store.read() as conn:
            record = principal.require_visible(
                calendar_models.appointment_row(conn, str(appointment_id)), "appointment")
            principal.require_own_record(record["client_id"])
            settings = calendar_models.clinic_settings(conn, record["organisation_id"],
                                                       record["clinic_id"])
        return views.appointment(record, settings)

    def client_appointments(self, principal, client_id, query, upcoming_only=False, now=None):
        client_id = str(client_id)
        principal.require_own_record(client_id)
        with self.store.read() as conn:
            client = principal.require_visible(client_models.client_row(conn, client_id),
                                               "client")
            org, clinic = client["organisation_id"], client["clinic_id"]
            # The client's appointments in the stored organisation, at clinics the
            # token sees: nothing the caller sends widens it.
            statement = select(appointments).where(appointments.c.client_id == client_id,
                                                   appointments.c.organisation_id == org)
            if principal.clinic_filter() is not None:
                statement = statement.where(
                    appointments.c.clinic_id.in_(principal.clinic_filter()))
            if upcoming_only:
                statement = statement.where(appointments.c.end > (now or utc_now()),
                                            appointments.c.status.in_(booking.OPEN))
            rows = paging.fetch_page(conn, statement.order_by(
                appointments.c.start, appointments.c.appointment_id), query)
            settings = calendar_models.clinic_settings(conn, org, clinic)
            policy = cadence_models.effective_policy(conn, org, clinic, client_id)
            cadence = cadence_models.cadence(conn, client_id)
            episode_id = client_models.open_episode_id(conn, client_id)
        result = paging.offset_page(
            "appointments", [views.appointment(r._asdict(), settings) for r in rows],
            query["limit"], query["offset"], client_id=client_id,
            time_zone=settings.time_zone, episode_id=episode_id)
        if not upcoming_only:
            due = cadence.due(policy, now or utc_now())
            result["reassessment"] = {
                "every_sessions": policy.every_sessions, "every_days": policy.every_days,
                "last_assessment_id": cadence.last_assessment_id,
                "last_assessed_at": iso(cadence.last_assessed_at)
                if cadence.last_assessed_at else None,
                "sessions_since_assessment": cadence.sessions_since_assessment,
                "due": due is not None, "due_at": iso(due[0]) if due else None}
        return result

    def _calendar_clinic(self, conn, principal, clinician_id, clinic_id):
        """The clinic of the clinician's calendar asked for: the one named, else the
        first of the profile's the token sees. The clinician must be known there in
        the token's organisation (a profile or an appointment): else 404."""
        organisation_id = principal.organisation_id
        profile = calendar_models.clinician_profile(conn, organisation_id, clinician_id)
        profile_clinics = list(profile.clinic_ids) if profile else []
        known = set(profile_clinics) | calendar_models.clinician_appointment_clinics(
            conn, organisation_id, clinician_id)
        visible = [c for c in known if principal.sees(organisation_id, c)]
        if clinic_id is not None:
            principal.require_clinic(organisation_id, clinic_id)
        elif not visible:
            pass  # 404 below
        elif any(c in visible for c in profile_clinics):
            clinic_id = next(c for c in profile_clinics if c in visible)
        elif principal.clinic_filter() and len(principal.clinic_ids) == 1:
            clinic_id = principal.clinic_ids[0]
        else:
            raise InvalidInput("which clinic's calendar?",
                               {"clinic_id": ["required: the clinic whose calendar"]})
        if clinic_id not in visible:
            raise NotFound("clinician not found")
        return clinic_id

    def _names(self, conn, settings, client_ids):
        if not settings.calendar_shows_client_names:
            return {}
        names = {}
        for client_id in set(client_ids):
            names[client_id] = client_models.display_name(
                client_models.client_row(conn, client_id))
        return names

    def clinician_calendar(self, principal, clinician_id, day, days, clinic_id=None,
                           include_cancelled=False):
        """A clinician's appointments at one clinic over `days` local days from `day`,
        laid out per local day in the clinic's time zone."""
        principal.require_role(*STAFF)
        with self.store.read() as conn:
            clinic_id = self._calendar_clinic(conn, principal, clinician_id, clinic_id)
            settings = calendar_models.clinic_settings(conn, principal.organisation_id,
                                                       clinic_id)
            start, end = settings.day_bounds(day, days)
            query = select(appointments).where(
                appointments.c.organisation_id == principal.organisation_id,
                appointments.c.clinic_id == clinic_id,
                appointments.c.clinician_id == clinician_id,
                appointments.c.start < end, appointments.c.end > start)
            if not include_cancelled:
                query = query.where(appointments.c.status != "cancelled")
            rows = [r._asdict() for r in conn.execute(
                query.order_by(appointments.c.start, appointments.c.appointment_id))]
            names = self._names(conn, settings, [r["client_id"] for r in rows])
            team = care_team.client_ids(conn, principal)
        layout = []
        for offset in range(days):
            date = day + timedelta(days=offset)
            first, last = settings.day_bounds(date)
            items = [views.for_reader(views.appointment(r, settings, names.get(r["client_id"])),
                                      team)
                     for r in rows if aware(r["start"]) < last and aware(r["end"]) > first]
            layout.append({"date": date.isoformat(), "start": iso(first), "end": iso(last),
                           "hours": (last - first).total_seconds() / 3600,
                           "booked_minutes": sum(a["duration_minutes"] for a in items
                                                 if a["status"] != "cancelled"),
                           "appointments": items})
        return {"clinician_id": clinician_id, "clinic_id": clinic_id,
                "time_zone": settings.time_zone, "from": day.isoformat(),
                "to": (day + timedelta(days=days - 1)).isoformat(), "days": layout}

    def room_occupancy(self, principal, clinic_id, room_id, day, days):
        principal.require_role(*STAFF)
        principal.require_clinic(principal.organisation_id, clinic_id)
        with self.store.read() as conn:
            room = conn.execute(select(rooms).where(
                rooms.c.organisation_id == principal.organisation_id,
                rooms.c.clinic_id == clinic_id, rooms.c.room_id == room_id)).first()
            if room is None:
                raise NotFound("room not found")
            settings = calendar_models.clinic_settings(conn, principal.organisation_id,
                                                       clinic_id)
            start, end = settings.day_bounds(day, days)
            rows = [r._asdict() for r in conn.execute(select(appointments).where(
                appointments.c.organisation_id == principal.organisation_id,
                appointments.c.clinic_id == clinic_id, appointments.c.room_id == room_id,
                appointments.c.status != "cancelled",
                appointments.c.start < end, appointments.c.end > start)
                .order_by(appointments.c.start, appointments.c.appointment_id))]
            names = self._names(conn, settings, [r["client_id"] for r in rows])
            team = care_team.client_ids(conn, principal)
        layout = []
        for offset in range(days):
            date = day + timedelta(days=offset)
            first, last = settings.day_bounds(date)
            items = [r for r in rows if aware(r["start"]) < last and aware(r["end"]) > first]
            occupied = sum(
                (min(aware(r["end"]), last) - max(aware(r["start"]), first)).total_seconds()
                for r in items) / 60
            layout.append({"date": date.isoformat(), "occupied_minutes": int(occupied),
                           "occupancy": round(occupied / ((last - first).total_seconds() / 60),
                                              4),
                           "appointments": [views.for_reader(
                               views.appointment(r, settings, names.get(r["client_id"])), team)
                               for r in items]})
        return {"clinic_id": clinic_id, "room_id": room_id, "name": room.name,
                "time_zone": settings.time_zone, "days": layout}

    def attendance(self, principal, clinic_id, first_day, last_day, clinician_id=None):
        """Held, cancelled, late-cancelled and no-show counts and rates per clinician
        and for the clinic, over appointments starting on those local days."""
        principal.require_role("admin", "clinician", "front_desk", "billing")
        principal.require_clinic(principal.organisation_id, clinic_id)
        if last_day < first_day:
            raise InvalidInput("to is before from", {"to": ["must be on or after from"]})
        with self.store.read() as conn:
            settings = calendar_models.clinic_settings(conn, principal.organisation_id,
                                                       clinic_id)
            start, _ = settings.day_bounds(first_day)
            _, end = settings.day_bounds(last_day)
            query = select(appointments.c.clinician_id, appointments.c.status,
                           appointments.c.late, appointments.c.cancelled_by).where(
                appointments.c.organisation_id == principal.organisation_id,
                appointments.c.clinic_id == clinic_id,
                appointments.c.start >= start, appointments.c.start < end)
            if clinician_id:
                query = query.where(appointments.c.clinician_id == clinician_id)
            rows = conn.execute(query).all()

        def empty():
            return {"held": 0, "cancelled": 0, "late_cancelled": 0, "no_show": 0, "open": 0,
                    "cancelled_by": {"client": 0, "clinician": 0, "clinic": 0}}
        clinic_counts, per_clinician = empty(), {}
        for row in rows:
            if row.status == "cancelled":
                key = "late_cancelled" if row.late else "cancelled"
            elif row.status in booking.OPEN:
                key = "open"
            else:
                key = row.status
            for counts in (clinic_counts, per_clinician.setdefault(row.clinician_id, empty())):
                counts[key] += 1
                if row.status == "cancelled":
                    counts["cancelled_by"][row.cancelled_by] += 1
        return {"clinic_id": clinic_id, "time_zone": settings.time_zone,
                "from": first_day.isoformat(), "to": last_day.isoformat(),
                "clinic": views.attendance(clinic_counts),
                "clinicians": [{"clinician_id": c, **views.attendance(per_clinician[c])}
                               for c in sorted(per_clinician)]}

    def reassessments(self, principal, clinic_id, query, now=None):
        """Clients whose reassessment is due and not yet done, oldest first; overdue
        when it has waited more than `overdue_after_days`. A page holds both."""
        overdue_after_days = query["overdue_after_days"]
        principal.require_role("admin", "clinician", "front_desk")
        principal.require_clinic(principal.organisation_id, clinic_id)
        now = now or utc_now()
        with self.store.read() as conn:
            cycles = cadence_models.open_cycles(conn, principal.organisation_id, clinic_id)
            cared_for = care_team.client_ids(conn, principal)  # None: the role sees all
            if cared_for is not None:
                cycles = [c for c in cycles if str(c["client_id"]) in cared_for]
            cycles, more = paging.trimmed(
                cycles[query["offset"]:query["offset"] + query["limit"] + 1], query["limit"])
            current = {c["client_id"]: cadence_models.cadence(conn, c["client_id"])
                       for c in cycles}
        due, overdue = [], []
        for cycle in cycles:
            due_at = aware(cycle["due_at"])
            waited = now - due_at
            item = {"client_id": cycle["client_id"],
                    "last_assessment_id": cycle["last_assessment_id"],
                    "due_at": iso(due_at), "due_by": cycle["due_by"], "reason": cycle["reason"],
                    "days_waiting": max(0, waited.days),
                    "sessions_since_assessment":
                        current[cycle["client_id"]].sessions_since_assessment}
            (overdue if waited > timedelta(days=overdue_after_days) else due).append(item)
        return {"clinic_id": clinic_id, "overdue_after_days": overdue_after_days,
                "due": due, "overdue": overdue, "limit": query["limit"],
                "offset": query["offset"],
                "next": query["offset"] + len(cycles) if more else None}

    # -- calendar feeds ------------------------------------------------------------
    def _feed_owner(self, principal, clinician_id):
        """The clinician's profile, for the clinician themself or an admin: 404 for a
        clinician the token cannot see, 403 for anybody else."""
        principal.require_role("admin", "clinician")
        profile = self.clinician(principal, clinician_id)
        feeds.require_may_manage(principal.role, principal.user_id, clinician_id)
        return profile

    def issue_calendar_feed(self, principal, correlation_id, clinician_id,
                            days=feeds.DEFAULT_LIFETIME_DAYS, now=None):
        """A new feed: its secret is in this answer and nowhere else, ever."""
        profile = self._feed_owner(principal, clinician_id)
        now = now or utc_now()
        organisation_id = principal.organisation_id
        clinic_id = next(c for c in profile["clinic_ids"]
                         if principal.sees(organisation_id, c))
        feed_id, secret = str(uuid.uuid4()), feeds.new_secret()
        new_events = feeds.issue(feed_id, secret, clinician_id, principal.clinic_ids,
                                 principal.user_id, now, days)
        context = Context(organisation_id, clinic_id, correlation_id, actor=principal.user_id)
        with self.store.unit_of_work() as uow:
            uow.append(feeds.feed_stream(feed_id), 0, context, new_events)
            record = feed_models.feed_row(uow.conn, feed_id)
        return {**views.calendar_feed(record, now), "feed_token": secret,
                "path": f"/clinicians/{clinician_id}/calendar.ics?feed_token={secret}"}

    def calendar_feeds(self, principal, clinician_id, now=None):
        self._feed_owner(principal, clinician_id)
        now = now or utc_now()
        with self.store.read() as conn:
            rows = feed_models.clinician_feeds(conn, principal.organisation_id, clinician_id)
        return {"clinician_id": clinician_id,
                "feeds": [views.calendar_feed(r, now) for r in rows]}

    def revoke_calendar_feed(self, principal, correlation_id, clinician_id, feed_id,
                             now=None):
        self._feed_owner(principal, clinician_id)
        now = now or utc_now()
        with self.store.unit_of_work() as uow:
            record = feed_models.feed_row(uow.conn, feed_id)
            if record is None or (record["organisation_id"], record["clinician_id"]) \
                    != (principal.organisation_id, clinician_id):
                raise NotFound("calendar feed not found")
            stream = feeds.feed_stream(feed_id)
            feed = feeds.Feed.from_events(feed_id, uow.load(stream))
            context = Context(record["organisation_id"], record["clinic_id"], correlation_id,
                              actor=principal.user_id)
            uow.append(stream, feed.version, context,
                       feeds.revoke(feed, principal.user_id, now))
            record = feed_models.feed_row(uow.conn, feed_id)
        return views.calendar_feed(record, now)

    def calendar_ics(self, secret, clinician_id, now=None):
        """The .ics the feed's secret opens: the clinician's appointments at the
        clinics stored with the feed, in the feed's organisation."""
        now = now or utc_now()
        if not secret:
            raise Unauthorized("missing feed_token (POST /clinicians/{id}/calendar-feeds "
                               "issues a feed's URL)")
        with self.store.read() as conn:
            record = feed_models.feed_by_digest(conn, feeds.digest(secret))
        feeds.require_usable(record and feeds.Feed(
            record["feed_id"], clinician_id=record["clinician_id"],
            expires_at=aware(record["expires_at"]), revoked_at=aware(record["revoked_at"])),
            clinician_id, now)
        return self._feed_calendar(record["organisation_id"], record["clinic_ids"],
                                   clinician_id, now)

    def _feed_calendar(self, organisation_id, clinic_ids, clinician_id, now):
        """The .ics of a clinician's appointments at those clinics ("*": all)."""
        with self.store.read() as conn:
            query = select(appointments).where(
                appointments.c.organisation_id == organisation_id,
                appointments.c.clinician_id == clinician_id,
                appointments.c.start >= now - FEED_HISTORY)
            if "*" not in clinic_ids:
                query = query.where(appointments.c.clinic_id.in_(clinic_ids))
            rows = [r._asdict() for r in conn.execute(
                query.order_by(appointments.c.start, appointments.c.appointment_id))]
            clinics = {r["clinic_id"] for r in rows}
            settings = {c: calendar_models.clinic_settings(conn, organisation_id, c)
                        for c in clinics}
            names = {}
            for clinic_id in clinics:
                names.update(self._names(conn, settings[clinic_id],
                                         [r["client_id"] for r in rows
                                          if r["clinic_id"] == clinic_id]))
            room_names = {(c, r["room_id"]): r["name"] for c in clinics
                          for r in calendar_models.room_rows(conn, organisation_id, c)}
            profile = calendar_models.clinician_row(conn, organisation_id, clinician_id)
        return calendar_feed.clinician_calendar(
            clinician_id, profile["name"] if profile else None, rows, settings, names,
            room_names)


def monday_of(day):
    return day - timedelta(days=day.weekday())
