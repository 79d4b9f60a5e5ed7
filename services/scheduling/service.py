"""Scheduling's nameko service: maps HTTP, RPC, events and the timer onto
SchedulingApplication."""
import logging

from nameko.extensions import DependencyProvider
from nameko.timer import timer
from werkzeug.wrappers import Response

from shared.consumer import subscribers
from shared.paging import PageQuery
from shared.runtime import CommonEndpoints, Praxis, TokenVerifier, rpc
from shared.web import caller_of, http, load_body, load_query, principal_of

from .adapters.mail import SmtpSender
from .application import SchedulingApplication
from .domain import feeds
from .domain.calendar import monday_of
from .schemas import (
    BookAppointmentSchema, BookSeriesSchema, CalendarQuery, CancelSchema, ClinicianProfileSchema,
    ClinicSchema, DateRangeQuery, EndSeriesSchema, FeedQuery, HoldSessionSchema,
    IssueFeedSchema, OccupancyQuery, ReassessmentPolicySchema, ReassessmentsQuery,
    RescheduleSchema, RoomSchema,
)

log = logging.getLogger(__name__)
REASSESSMENT_CHECK_SECONDS = 60
REMINDER_RUN_SECONDS = 60


class FeedLifetime(DependencyProvider):
    """How many days a new calendar feed lives (PRAXIS_CALENDAR_FEED_DAYS)."""

    def get_dependency(self, worker_ctx):
        return self.container.config.get("PRAXIS_CALENDAR_FEED_DAYS",
                                         feeds.DEFAULT_LIFETIME_DAYS)


class ReminderSender(DependencyProvider):
    """The mail relay reminders go through (PRAXIS_SMTP_*); None sends none."""

    def setup(self):
        self.sender = SmtpSender.from_config(self.container.config.get("PRAXIS_SMTP"))

    def get_dependency(self, worker_ctx):
        return self.sender


# Other services' events: a handler per producer, from its subscription table.
class Service(CommonEndpoints, subscribers(SchedulingApplication.subscriptions)):
    name = "scheduling"
    praxis = Praxis(SchedulingApplication)
    verify = TokenVerifier()
    feed_days = FeedLifetime()
    reminder_sender = ReminderSender()

    # -- clinics, rooms, clinicians ---------------------------------------------
    @http("GET", "/clinics/<clinic_id>", resource="clinic_settings")
    def get_clinic(self, request, clinic_id):
        return self.praxis.clinic(principal_of(request), clinic_id)

    @http("PUT", "/clinics/<clinic_id>", resource="clinic_settings")
    def configure_clinic(self, request, clinic_id):
        command = load_body(request, ClinicSchema())
        return self.praxis.configure_clinic(caller_of(request), clinic_id, command)

    @http("POST", "/clinics/<clinic_id>/rooms", resource="clinic_settings")
    def add_room(self, request, clinic_id):
        command = load_body(request, RoomSchema())
        return 201, self.praxis.add_room(caller_of(request), clinic_id, command)

    @http("GET", "/clinics/<clinic_id>/rooms/<room_id>/occupancy", resource="calendar")
    def room_occupancy(self, request, clinic_id, room_id):
        query = load_query(request, OccupancyQuery())
        return self.praxis.room_occupancy(principal_of(request), clinic_id, room_id,
                                          query["date"], query["days"])

    @http("GET", "/clinicians/<clinician_id>", resource="clinician_profile")
    def get_clinician(self, request, clinician_id):
        return self.praxis.clinician(principal_of(request), clinician_id)

    @http("PUT", "/clinicians/<clinician_id>", resource="clinician_profile")
    def set_clinician_profile(self, request, clinician_id):
        command = load_body(request, ClinicianProfileSchema())
        return self.praxis.set_clinician_profile(caller_of(request), clinician_id, command)

    @http("GET", "/clinicians/<clinician_id>/day", resource="calendar")
    def clinician_day(self, request, clinician_id):
        query = load_query(request, CalendarQuery())
        return self.praxis.clinician_calendar(principal_of(request), clinician_id,
                                              query["date"], 1, query.get("clinic_id"),
                                              query["include_cancelled"])

    @http("GET", "/clinicians/<clinician_id>/week", resource="calendar")
    def clinician_week(self, request, clinician_id):
        query = load_query(request, CalendarQuery())
        return self.praxis.clinician_calendar(principal_of(request), clinician_id,
                                              monday_of(query["date"]), 7,
                                              query.get("clinic_id"),
                                              query["include_cancelled"])

    # Its answer carries the feed's secret, which no table may keep: no Idempotency-Key.
    @http("POST", "/clinicians/<clinician_id>/calendar-feeds", resource="calendar",
          action="issue_feed", idempotent=False)
    def issue_calendar_feed(self, request, clinician_id):
        command = load_body(request, IssueFeedSchema()) if request.get_data() else {}
        return 201, self.praxis.issue_calendar_feed(
            caller_of(request), clinician_id, command.get("expires_in_days", self.feed_days))

    @http("GET", "/clinicians/<clinician_id>/calendar-feeds", resource="calendar")
    def calendar_feeds(self, request, clinician_id):
        return self.praxis.calendar_feeds(principal_of(request), clinician_id)

    @http("DELETE", "/clinicians/<clinician_id>/calendar-feeds/<uuid:feed_id>",
          resource="calendar", action="issue_feed")
    def revoke_calendar_feed(self, request, clinician_id, feed_id):
        return self.praxis.revoke_calendar_feed(caller_of(request), clinician_id, str(feed_id))

    @http("GET", "/clinicians/<clinician_id>/calendar.ics", public=True)
    def calendar_ics(self, request, clinician_id):
        # The secret rides in the query: the request log names the route template only.
        query = load_query(request, FeedQuery())
        body = self.praxis.calendar_ics(query["feed_token"], clinician_id)
        return Response(body, mimetype="text/calendar",
                        headers={"Content-Disposition":
                                 f'inline; filename="{clinician_id}.ics"',
                                 "Cache-Control": "private, max-age=300"})

    # -- appointments ---------------------------------------------------------------
    @http("POST", "/appointments", resource="appointment")
    def book_appointment(self, request):
        command = load_body(request, BookAppointmentSchema())
        return 201, self.praxis.book_appointment(caller_of(request), command)

    @http("GET", "/appointments/<uuid:appointment_id>", resource="appointment")
    def get_appointment(self, request, appointment_id):
        return self.praxis.appointment(principal_of(request), str(appointment_id))

    @http("POST", "/appointments/<uuid:appointment_id>/reschedule", resource="appointment")
    def reschedule(self, request, appointment_id):
        command = load_body(request, RescheduleSchema())
        return self.praxis.reschedule_appointment(caller_of(request), str(appointment_id), command)

    @http("POST", "/appointments/<uuid:appointment_id>/cancel", resource="appointment", action="cancel")
    def cancel(self, request, appointment_id):
        command = load_body(request, CancelSchema())
        return self.praxis.cancel_appointment(caller_of(request), str(appointment_id), command)

    @http("POST", "/appointments/<uuid:appointment_id>/check-in", resource="appointment")
    def check_in(self, request, appointment_id):
        return self.praxis.check_in(caller_of(request), str(appointment_id))

    @http("POST", "/appointments/<uuid:appointment_id>/no-show", resource="appointment")
    def no_show(self, request, appointment_id):
        return self.praxis.record_no_show(caller_of(request), str(appointment_id))

    @http("POST", "/appointments/<uuid:appointment_id>/held", resource="appointment")
    def hold_session(self, request, appointment_id):
        command = load_body(request, HoldSessionSchema())
        return 201, self.praxis.hold_session(
            caller_of(request), str(appointment_id), command)

    @http("POST", "/series", resource="appointment_series")
    def book_series(self, request):
        command = load_body(request, BookSeriesSchema())
        return 201, self.praxis.book_series(caller_of(request), command)

    @http("GET", "/series/<uuid:series_id>", resource="appointment_series")
    def get_series(self, request, series_id):
        return self.praxis.series(principal_of(request), str(series_id))

    @http("POST", "/series/<uuid:series_id>/end", resource="appointment_series")
    def end_series(self, request, series_id):
        command = load_body(request, EndSeriesSchema())
        return self.praxis.end_series(caller_of(request), str(series_id), command)

    @http("GET", "/clients/<uuid:client_id>/appointments", resource="appointment")
    def client_appointments(self, request, client_id):
        return self.praxis.client_appointments(principal_of(request), str(client_id),
                                               load_query(request, PageQuery()))

    @http("GET", "/fhir/Patient/<uuid:client_id>/$everything", resource="fhir_record")
    def fhir_everything(self, request, client_id):
        return self.praxis.fhir_everything(principal_of(request), str(client_id))

    @http("GET", "/clients/<uuid:client_id>/appointments/upcoming", resource="appointment")
    def client_upcoming(self, request, client_id):
        return self.praxis.client_appointments(principal_of(request), str(client_id),
                                               load_query(request, PageQuery()),
                                               upcoming_only=True)

    # -- attendance and the reassessment cadence ---------------------------------------
    @http("GET", "/clinics/<clinic_id>/attendance", resource="attendance")
    def attendance(self, request, clinic_id):
        query = load_query(request, DateRangeQuery())
        return self.praxis.attendance(principal_of(request), clinic_id, query["from_"],
                                      query["to"], query.get("clinician_id"))

    @http("GET", "/clinics/<clinic_id>/reassessments", resource="reassessment")
    def reassessments(self, request, clinic_id):
        return self.praxis.reassessments(principal_of(request), clinic_id,
                                         load_query(request, ReassessmentsQuery()))

    @http("GET", "/clinics/<clinic_id>/reassessment-policy", resource="reassessment_policy")
    def get_reassessment_policy(self, request, clinic_id):
        return self.praxis.reassessment_policy(principal_of(request), clinic_id)

    @http("PUT", "/clinics/<clinic_id>/reassessment-policy", resource="reassessment_policy")
    def set_reassessment_policy(self, request, clinic_id):
        command = load_body(request, ReassessmentPolicySchema())
        return self.praxis.set_reassessment_policy(
            caller_of(request), clinic_id, command)

    @http("GET", "/clients/<uuid:client_id>/reassessment-policy", resource="client.reassessment_policy")
    def get_client_reassessment_policy(self, request, client_id):
        return self.praxis.client_reassessment_policy(principal_of(request), str(client_id))

    @http("PUT", "/clients/<uuid:client_id>/reassessment-policy", resource="client.reassessment_policy")
    def set_client_reassessment_policy(self, request, client_id):
        command = load_body(request, ReassessmentPolicySchema())
        return self.praxis.set_client_reassessment_policy(
            caller_of(request), str(client_id), command)

    @timer(interval=REASSESSMENT_CHECK_SECONDS)
    def check_reassessments_due(self):
        """Cycles that come due by time alone (every D days since the last assessment)."""
        due = self.praxis.check_reassessments_due()
        if due:
            log.info("reassessments came due by time: %d", len(due))

    @timer(interval=REMINDER_RUN_SECONDS)
    def send_reminders(self):
        """Appointment reminders whose slot came (the clinic's reminder_hours_before)."""
        done = self.praxis.send_due_reminders(self.reminder_sender)
        if done:
            log.info("reminder events appended: %d", len(done))

    # -- RPC ---------------------------------------------------------------------------
    @rpc(resource="appointment")
    def appointment(self, token, appointment_id):
        """RPC twin of GET /appointments/<id>, for other systems inside the cluster."""
        return self.praxis.appointment(self.verify(token), str(appointment_id))
