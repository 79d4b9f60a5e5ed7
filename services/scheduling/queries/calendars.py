"""A clinician's day or week, a room's occupancy, attendance figures."""
from datetime import timedelta

from sqlalchemy import select

from shared import care_team
from shared.errors import InvalidInput, NotFound
from shared.timeutil import iso

from ..domain import STAFF
from ..domain import appointments as booking
from ..read_models import aware
from ..read_models.calendar import appointments, rooms
from . import records, views


class CalendarQueries:
    def _calendar_clinic(self, conn, principal, clinician_id, clinic_id):
        """The clinic of the clinician's calendar asked for: the one named, else the
        first of the profile's the token sees. The clinician must be known there in
        the token's organisation (a profile or an appointment): else 404."""
        organisation_id = principal.organisation_id
        profile = records.clinician_profile(conn, organisation_id, clinician_id)
        profile_clinics = list(profile.clinic_ids) if profile else []
        known = set(profile_clinics) | records.clinician_appointment_clinics(
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
            names[client_id] = records.display_name(
                records.client_row(conn, client_id))
        return names

    def clinician_calendar(self, principal, clinician_id, day, days, clinic_id=None,
                           include_cancelled=False):
        """A clinician's appointments at one clinic over `days` local days from `day`,
        laid out per local day in the clinic's time zone."""
        principal.require_role(*STAFF)
        with self.store.read() as conn:
            clinic_id = self._calendar_clinic(conn, principal, clinician_id, clinic_id)
            settings = records.clinic_settings(conn, principal.organisation_id, clinic_id)
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
            settings = records.clinic_settings(conn, principal.organisation_id, clinic_id)
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
            settings = records.clinic_settings(conn, principal.organisation_id, clinic_id)
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

