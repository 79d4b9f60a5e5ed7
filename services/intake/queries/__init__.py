"""Intake's read side: views over the read models, scoped by token.

Clinical views (outcomes, charts, risk flags, alerts) are for admins and
clinicians; the directory and pending reassessments also for the front desk.
Another organisation's or clinic's record reads as 404; naming another
clinic's list is 403.
"""
import json
from collections import defaultdict
from datetime import datetime, time, timedelta, timezone

from sqlalchemy import func, or_, select

from shared import care_team, paging
from shared.errors import Forbidden, InvalidInput, NotFound
from shared.fhir import searchset
from shared.limits import like_literal
from shared.timeutil import iso

from .. import domain
from ..adapters import fhir
from ..adapters.fhir_alliance import alliance_resources
from ..domain.alliance import BUILT_IN as alliance_measures, ClientAlliance
from ..domain.change import IMPROVEMENTS, RECOVERED, RELIABLY_DETERIORATED
from .flags import clinic_flags
from .outcomes_by import alliance_trajectory, breakdowns
from ..read_models import (
    assessments, break_glass_grants, clients, consent_history, consents, episodes,
    instrument_definitions, not_on_track_rules, outcome_alerts, pending_reassessments, risk_flags)

CLINICAL = ("admin", "clinician")
STAFF = ("admin", "clinician", "front_desk")


class IntakeQueries:
    """Mixed into IntakeApplication (which provides self.store)."""

    # -- clients -----------------------------------------------------------
    def reach_client(self, principal, client_id, named=()):
        """Tenancy before anything else a request carries is looked at: 403 when it
        names (`named`: [(organisation_id or clinic_id, value)]) an organisation or
        clinic the token lacks, else 404 unless the stored client is within the
        token's reach and in every clinic named."""
        _require_named(principal, named)
        with self.store.read() as conn:
            record = visible_client(conn, principal, client_id)
        if any(name == "clinic_id" and value != record["clinic_id"] for name, value in named):
            raise NotFound("client not found")

    def reach_clinic(self, principal, clinic_id, named=()):
        """For a clinic's list, before its parameters are read: 403 for the path's
        clinic or a named one the token lacks; 422 for a named clinic not the path's."""
        _require_named(principal, named)
        principal.require_clinic(principal.organisation_id, clinic_id)
        if any(name == "clinic_id" and value != clinic_id for name, value in named):
            raise InvalidInput(f"clinic_id differs from the clinic {clinic_id!r} of the path",
                               {"clinic_id": [f"not {clinic_id}, the clinic of the path"]})

    def client(self, principal, client_id):
        with self.store.read() as conn:
            record = visible_client(conn, principal, client_id)
            rows = conn.execute(select(assessments)
                                .where(assessments.c.client_id == record["client_id"])
                                .order_by(assessments.c.sequence)).all()
            consent_rows = conn.execute(select(consents).where(
                consents.c.client_id == record["client_id"]).order_by(consents.c.kind)).all()
            episode_rows = self._episodes(conn, record)
        return {**client_view(record),
                "episode": episode_rows[-1] if episode_rows else None,
                "episodes": episode_rows,
                "consents": [consent_view(r._asdict()) for r in consent_rows],
                "assessments": [assessment_view(r._asdict()) for r in rows]}

    def _episodes(self, conn, record):
        rows = conn.execute(select(episodes).where(episodes.c.client_id == record["client_id"])
                            .order_by(episodes.c.opened_at, episodes.c.episode_id)).all()
        views = [{"episode_id": r.episode_id, "opened_at": iso(r.opened_at),
                  "discharged_at": iso(r.discharged_at) if r.discharged_at else None,
                  "discharge_reason": r.reason,
                  "status": "open" if r.discharged_at is None else "discharged"} for r in rows]
        if not any(v["episode_id"] == record["episode_id"] for v in views):
            # The implicit episode of a client registered before episodes were recorded.
            views.append({"episode_id": record["episode_id"],
                          "opened_at": iso(record["registered_at"]), "discharged_at": None,
                          "discharge_reason": None, "status": record["episode_status"]})
        return views

    def directory(self, principal, query):
        principal.require_role(*STAFF)
        principal.require_clinic(principal.organisation_id, query["clinic_id"])
        where = [clients.c.organisation_id == principal.organisation_id,
                 clients.c.clinic_id == query["clinic_id"],
                 care_team.visible(principal, clients.c.client_id)]
        if query["name"]:
            # % and _ in a search are letters, not wildcards
            pattern = f"%{like_literal(query['name'])}%"
            where.append(or_(clients.c.name.ilike(pattern, escape="\\"),
                             clients.c.preferred_name.ilike(pattern, escape="\\")))
        if query["status"]:
            where.append(clients.c.episode_status == query["status"])
        statement = (select(clients).where(*where)
                     .order_by(clients.c.name, clients.c.client_id)
                     .limit(query["limit"]).offset(query["offset"]))
        with self.store.read() as conn:
            rows = conn.execute(statement).all()
            total = conn.execute(select(func.count()).select_from(clients).where(*where)).scalar()
        following = query["offset"] + len(rows)
        following = following if following < total else None
        return paging.page("clients", [client_view(r._asdict()) for r in rows],
                           query["limit"], following, total, offset=query["offset"],
                           next_offset=following)

    def consents(self, principal, client_id):
        with self.store.read() as conn:
            record = visible_client(conn, principal, client_id)
            current = conn.execute(select(consents).where(
                consents.c.client_id == record["client_id"]).order_by(consents.c.kind)).all()
            history = conn.execute(select(consent_history).where(
                consent_history.c.client_id == record["client_id"])
                .order_by(consent_history.c.sequence)).all()
        return {"client_id": record["client_id"],
                "consents": [consent_view(r._asdict()) for r in current],
                "history": [{"kind": r.kind, "action": r.action,
                             "document_version": r.document_version, "at": iso(r.at),
                             "recorded_by": r.recorded_by} for r in history]}

    # -- care team and break-glass -------------------------------------------
    def care_team(self, principal, client_id):
        with self.store.read() as conn:
            record = visible_client(conn, principal, client_id)
            team = care_team.members(conn, record["organisation_id"], record["client_id"])
        return {"client_id": record["client_id"], "care_team": [
            {**member, "until": iso(member["until"]) if member["until"] else None}
            for member in team]}

    def break_glass_grants(self, principal, clinic_id, query):
        """The clinic's break-glass grants, newest first, for its privacy officer."""
        principal.require_clinic(principal.organisation_id, clinic_id)
        with self.store.read() as conn:
            rows = paging.fetch_page(conn, (
                select(break_glass_grants)
                .where(break_glass_grants.c.organisation_id == principal.organisation_id,
                       break_glass_grants.c.clinic_id == clinic_id)
                .order_by(break_glass_grants.c.granted_at.desc(),
                          break_glass_grants.c.event_id)), query)
        return paging.offset_page("break_glass", [{
            "client_id": r.client_id, "clinician_id": r.clinician_id, "reason": r.reason,
            "granted_at": iso(r.granted_at), "expires_at": iso(r.expires_at)} for r in rows],
            query["limit"], query["offset"], clinic_id=clinic_id)

    # -- clinic lists ------------------------------------------------------
    def pending_reassessments(self, principal, clinic_id, query):
        principal.require_role(*STAFF)
        principal.require_clinic(principal.organisation_id, clinic_id)
        with self.store.read() as conn:
            rows = paging.fetch_page(conn, (
                select(pending_reassessments)
                .where(pending_reassessments.c.organisation_id == principal.organisation_id,
                       pending_reassessments.c.clinic_id == clinic_id,
                       care_team.visible(principal, pending_reassessments.c.client_id))
                .order_by(pending_reassessments.c.due_at, pending_reassessments.c.client_id,
                          pending_reassessments.c.instrument)), query)
        return paging.offset_page("pending", [{
            "client_id": r.client_id, "instrument": None if r.instrument == "*" else r.instrument,
            "due_at": iso(r.due_at), "reason": r.reason,
            "sessions_since_assessment": r.sessions_since_assessment,
            "last_assessment_id": r.last_assessment_id} for r in rows],
            query["limit"], query["offset"])

    def risk_flags(self, principal, clinic_id, query):
        """The clinic's risk list: open flags until a clinician acknowledges them."""
        principal.require_role(*CLINICAL)
        principal.require_clinic(principal.organisation_id, clinic_id)
        return clinic_flags(self.store, principal, clinic_id, query, risk_flags,
                            risk_flags.c.raised_at, "risk_flags", risk_flag_view)

    def alerts(self, principal, clinic_id, query):
        """Reliable deteriorations and not-on-track flags of the clinic's clients."""
        principal.require_role(*CLINICAL)
        principal.require_clinic(principal.organisation_id, clinic_id)
        start, end = _range(query)
        statement = (select(outcome_alerts, clients.c.name)
                     .join(clients, clients.c.client_id == outcome_alerts.c.client_id)
                     .where(outcome_alerts.c.organisation_id == principal.organisation_id,
                            outcome_alerts.c.clinic_id == clinic_id,
                            care_team.visible(principal, outcome_alerts.c.client_id))
                     .order_by(outcome_alerts.c.at, outcome_alerts.c.client_id,
                               outcome_alerts.c.sequence))
        if start is not None:
            statement = statement.where(outcome_alerts.c.at >= start)
        if end is not None:
            statement = statement.where(outcome_alerts.c.at < end)
        if query["instrument"]:
            statement = statement.where(outcome_alerts.c.instrument == query["instrument"])
        with self.store.read() as conn:
            rows = paging.fetch_page(conn, statement, query)
        return paging.offset_page("alerts", [{
            "alert_id": r.alert_id, "kind": r.kind, "client_id": r.client_id,
            "client_name": r.name, "episode_id": r.episode_id, "instrument": r.instrument,
            "assessment_id": r.assessment_id, "rci": r.rci, "rule": r.rule,
            "reason": r.reason, "at": iso(r.at)} for r in rows], query["limit"], query["offset"])

    # -- outcomes ------------------------------------------------------------
    def trajectory(self, principal, client_id, query):
        """Every score of an episode with band, change category and RCI, per instrument."""
        principal.require_role(*CLINICAL)
        with self.store.read() as conn:
            record = visible_client(conn, principal, client_id)
            episode_id = str(query["episode_id"]) if query.get("episode_id") \
                else record["episode_id"]
            rows = conn.execute(select(assessments).where(
                assessments.c.client_id == record["client_id"],
                assessments.c.episode_id == episode_id).order_by(assessments.c.sequence)).all()
            catalogue = self._catalogue(conn, record["organisation_id"])
            episode_views = self._episodes(conn, record)
        if query.get("episode_id") and not any(e["episode_id"] == episode_id
                                               for e in episode_views):
            raise NotFound("episode not found")
        by_instrument = defaultdict(list)
        for row in rows:
            by_instrument[row.instrument].append(row._asdict())
        return {"client_id": record["client_id"], "episode_id": episode_id,
                "episodes": episode_views,
                "instruments": [_course_view(catalogue, code, points)
                                for code, points in sorted(by_instrument.items())]}

    def chart(self, principal, client_id, code, query):
        """(bytes, mimetype) of the trajectory chart of one instrument."""
        from ..adapters.chart import render  # matplotlib loads only once a chart is asked for

        view = self.trajectory(principal, client_id, query)
        course = next((c for c in view["instruments"] if c["instrument"] == code), None)
        if course is None:
            raise NotFound(f"no {code} assessments in episode {view['episode_id']}")
        if query.get("overlay") == "alliance":
            with self.store.read() as conn:
                course = {**course, "alliance": alliance_trajectory(conn, view["client_id"])}
        return render(course, query["format"])

    def clinic_outcomes(self, principal, clinic_id, query):
        """The clinic's outcomes over a date range (of assessment dates, inclusive).

        - clients_assessed: clients with any assessment in the range;
        - measured: (client, episode, instrument) courses with a reassessment in
          the range, each judged by its latest reassessment in the range;
        - reliable_improvement: recovered or reliably improved, of measured;
        - recovery: recovered, of measured courses whose baseline was in the
          clinical range (as NHS Talking Therapies counts recovery);
        - deterioration: reliably deteriorated, of measured;
        - risk flags open now and raised in the range, pending reassessments now;
        - dropout and the rates by approach, clinician and alliance band (outcomes_by.py).
        """
        principal.require_role(*CLINICAL)
        principal.require_clinic(principal.organisation_id, clinic_id)
        start, end = _range(query)
        where = [assessments.c.organisation_id == principal.organisation_id,
                 assessments.c.clinic_id == clinic_id]
        if start is not None:
            where.append(assessments.c.assessed_at >= start)
        if end is not None:
            where.append(assessments.c.assessed_at < end)
        if query["instrument"]:
            where.append(assessments.c.instrument == query["instrument"])
        with self.store.read() as conn:
            rows = conn.execute(select(assessments).where(*where)
                                .order_by(assessments.c.sequence)).all()
            catalogue = self._catalogue(conn, principal.organisation_id)
            flags = [risk_flags.c.organisation_id == principal.organisation_id,
                     risk_flags.c.clinic_id == clinic_id]
            open_flags = conn.execute(select(func.count()).select_from(risk_flags).where(
                *flags, risk_flags.c.acknowledged_at.is_(None))).scalar()
            raised = select(func.count()).select_from(risk_flags).where(*flags)
            if start is not None:
                raised = raised.where(risk_flags.c.raised_at >= start)
            if end is not None:
                raised = raised.where(risk_flags.c.raised_at < end)
            raised = conn.execute(raised).scalar()
            pending = conn.execute(
                select(func.count(func.distinct(pending_reassessments.c.client_id)))
                .where(pending_reassessments.c.organisation_id == principal.organisation_id,
                       pending_reassessments.c.clinic_id == clinic_id)).scalar()
        latest = {}
        for row in rows:
            if row.category is not None:
                latest[(row.client_id, row.episode_id, row.instrument)] = row
        with self.store.read() as conn:
            broken_down = breakdowns(conn, principal.organisation_id, clinic_id,
                                     list(latest.values()), start, end,
                                     lambda judged: _rates(catalogue, judged))
        by_instrument = defaultdict(list)
        for (_, _, code), row in sorted(latest.items()):
            by_instrument[code].append(row)
        return {
            "clinic_id": clinic_id,
            "from": query["from_"].isoformat() if query["from_"] else None,
            "to": query["to"].isoformat() if query["to"] else None,
            "clients_assessed": len({row.client_id for row in rows}),
            **_rates(catalogue, list(latest.values())),
            "by_instrument": {code: _rates(catalogue, judged)
                              for code, judged in sorted(by_instrument.items())},
            "open_risk_flags": open_flags, "risk_flags_raised": raised,
            "pending_reassessments": pending,
            **broken_down,
        }

    # -- reference data ----------------------------------------------------
    def _catalogue(self, conn, organisation_id):
        rows = conn.execute(select(instrument_definitions.c.definition).where(
            instrument_definitions.c.organisation_id == organisation_id)
            .order_by(instrument_definitions.c.code, instrument_definitions.c.version)).all()
        return domain.InstrumentCatalogue.of_organisation(
            organisation_id, [json.loads(r.definition) for r in rows])

    def instruments(self, principal):
        with self.store.read() as conn:
            catalogue = self._catalogue(conn, principal.organisation_id)
        return {"instruments": [instrument_view(catalogue, i) for i in catalogue.all_latest()]}

    def instrument(self, principal, code, version=None):
        with self.store.read() as conn:
            catalogue = self._catalogue(conn, principal.organisation_id)
        found = catalogue.instrument(code, version) if version else (
            catalogue.latest(code) if code in catalogue.versions else None)
        if found is None:
            raise NotFound(f"instrument {code} not found")
        return instrument_view(catalogue, found)

    def fhir_everything(self, principal, client_id):
        """Intake's part of the client's record as a FHIR searchset Bundle: the client
        view, and the instrument versions they took."""
        view = self.client(principal, client_id)
        with self.store.read() as conn:
            catalogue = self._catalogue(conn, view["organisation_id"])
        instruments = {}
        for assessment in view["assessments"]:
            key = (assessment["instrument"], assessment["instrument_version"])
            found = catalogue.instrument(*key)
            if found is not None:
                instruments[key] = instrument_view(catalogue, found)
        # The alliance ratings as rated (their item scores are in the events only).
        ratings = [e.data for e in self.store.read_stream(
            ClientAlliance.stream_of(view["client_id"])) if e.name == "AllianceRated"]
        measures = {code: m.to_data() for code, m in alliance_measures.items()}
        return searchset(fhir.everything(view, instruments)
                         + alliance_resources(view["client_id"], ratings, measures))

    def not_on_track_rule(self, principal, clinic_id):
        principal.require_clinic(principal.organisation_id, clinic_id)
        with self.store.read() as conn:
            row = conn.execute(select(not_on_track_rules).where(
                not_on_track_rules.c.organisation_id == principal.organisation_id,
                not_on_track_rules.c.clinic_id == clinic_id)).first()
        rule = domain.NotOnTrackRule(principal.organisation_id, clinic_id) if row is None \
            else domain.NotOnTrackRule(principal.organisation_id, clinic_id,
                                       row.reassessments_without_improvement,
                                       row.sessions_without_improvement,
                                       row.on_reliable_deterioration)
        return {"organisation_id": principal.organisation_id, "clinic_id": clinic_id,
                **rule.to_data(), "default": row is None,
                "set_by": row.set_by if row else None,
                "set_at": iso(row.set_at) if row else None}


def visible_client(conn, principal, client_id, care_team=True):
    """The client's row, when the principal may reach it (404 otherwise); commands
    load through it too. care_team=False only where break-glass is asked for."""
    client_id = str(client_id)
    row = conn.execute(select(clients).where(clients.c.client_id == client_id)).first()
    record = principal.require_visible(row._asdict() if row else None, "client",
                                       care_team=care_team)
    principal.require_own_record(client_id)
    return record


def _require_named(principal, named):
    """403 for an organisation or clinic a request names that the token lacks."""
    for name, value in named:
        if name == "organisation_id" and value != principal.organisation_id:
            # The value is not echoed: it is the caller's, of any length.
            raise Forbidden("not allowed to act in that organisation",
                            {"organisation_id": ["not your organisation"]})
        if name == "clinic_id":
            principal.require_clinic(principal.organisation_id, value)


def open_risk_flag_counts(conn):
    """{(organisation, clinic): risk flags not yet acknowledged}."""
    rows = conn.execute(select(risk_flags.c.organisation_id, risk_flags.c.clinic_id, func.count())
                        .where(risk_flags.c.acknowledged_at.is_(None))
                        .group_by(risk_flags.c.organisation_id, risk_flags.c.clinic_id)).all()
    return {(org, clinic): count for org, clinic, count in rows}


# -- views -------------------------------------------------------------------
def client_view(record):
    details = json.loads(record["details"])
    contact = details.get("contact") or {}
    return {"client_id": record["client_id"], "organisation_id": record["organisation_id"],
            "clinic_id": record["clinic_id"], "name": record["name"],
            "preferred_name": details.get("preferred_name"),
            "pronouns": details.get("pronouns"),
            "date_of_birth": record["date_of_birth"].isoformat(),
            "contact": {"email": contact.get("email"), "phone": contact.get("phone"),
                        "email_ok": contact.get("email_ok"), "text_ok": contact.get("text_ok"),
                        "voicemail_ok": contact.get("voicemail_ok")},
            "no_contact_reason": details.get("no_contact_reason"),
            "guardian": details.get("guardian"),
            "referral_source": details.get("referral_source"),
            "primary_clinician_id": details.get("primary_clinician_id"),
            "payer": details.get("payer") or {"kind": "self_pay"},
            "registered_at": iso(record["registered_at"]),
            "episode_id": record["episode_id"], "episode_status": record["episode_status"]}


def consent_view(record):
    return {"kind": record["kind"], "status": record["status"],
            "document_version": record["document_version"],
            "given_at": iso(record["given_at"]),
            "revoked_at": iso(record["revoked_at"]) if record["revoked_at"] else None,
            "recorded_by": record["recorded_by"]}


def assessment_view(record):
    change = None
    if record["category"] is not None:
        change = {key: record[key] for key in ("baseline_assessment_id", "baseline_total",
                                               "difference", "rci", "category", "response",
                                               "remission")}
    return {"assessment_id": record["assessment_id"], "episode_id": record["episode_id"],
            "instrument": record["instrument"],
            "instrument_version": record["instrument_version"], "kind": record["kind"],
            "answers": json.loads(record["answers"]), "total": record["total"],
            "severity": record["severity"], "change": change,
            "assessed_at": iso(record["assessed_at"])}


def risk_flag_view(record):
    return {"flag_id": record["flag_id"], "client_id": record["client_id"],
            "client_name": record.get("name"), "episode_id": record["episode_id"],
            "assessment_id": record["assessment_id"], "instrument": record["instrument"],
            "item": record["item"], "answer": record["answer"], "reason": record["reason"],
            "raised_at": iso(record["raised_at"]),
            "status": "open" if record["acknowledged_at"] is None else "acknowledged",
            "acknowledged_by": record["acknowledged_by"],
            "acknowledged_at": iso(record["acknowledged_at"])
            if record["acknowledged_at"] else None,
            "action_taken": record["action_taken"]}


def instrument_view(catalogue, instrument):
    return {**instrument.to_data(), "built_in": instrument.built_in,
            "item_count": instrument.item_count,
            "total_range": [instrument.min_total, instrument.max_total],
            "reliable_change_points": round(instrument.reliable_change_points, 3),
            "versions": sorted(catalogue.versions[instrument.code])}


def _course_view(catalogue, code, points):
    version = points[-1]["instrument_version"]
    instrument = catalogue.instrument(code, version) or catalogue.latest(code)
    baseline = points[0]
    return {
        "instrument": code, "instrument_version": version, "name": instrument.name,
        "min_total": instrument.min_total, "max_total": instrument.max_total,
        "higher_is_worse": instrument.higher_is_worse, "cut_off": instrument.cut_off,
        "reliable_change_threshold": instrument.reliable_change_threshold,
        "bands": [{"low": b.low, "high": b.high, "label": b.label} for b in instrument.bands],
        "baseline": {"assessment_id": baseline["assessment_id"], "total": baseline["total"],
                     "assessed_at": iso(baseline["assessed_at"])},
        "latest_category": points[-1]["category"],
        "points": [{"assessment_id": p["assessment_id"], "assessed_at": iso(p["assessed_at"]),
                    "kind": p["kind"], "total": p["total"], "severity": p["severity"],
                    "difference": p["difference"], "rci": p["rci"], "category": p["category"],
                    "response": p["response"], "remission": p["remission"]} for p in points],
    }


def _rates(catalogue, judged):
    measured = len(judged)
    improved = sum(1 for r in judged if r.category in IMPROVEMENTS)
    recovered = sum(1 for r in judged if r.category == RECOVERED)
    deteriorated = sum(1 for r in judged if r.category == RELIABLY_DETERIORATED)
    at_caseness = 0
    for row in judged:
        instrument = catalogue.instrument(row.instrument, row.instrument_version) \
            or catalogue.latest(row.instrument)
        at_caseness += instrument.is_clinical(row.baseline_total)
    return {"measured": measured, "reliably_improved": improved, "recovered": recovered,
            "reliably_deteriorated": deteriorated, "at_caseness_at_baseline": at_caseness,
            "reliable_improvement_rate": _share(improved, measured),
            "recovery_rate": _share(recovered, at_caseness),
            "deterioration_rate": _share(deteriorated, measured)}


def _share(part, whole):
    return round(part / whole, 3) if whole else None


def _range(query):
    """[start, end) datetimes in UTC from inclusive `from` and `to` dates."""
    start = end = None
    if query.get("from_"):
        start = datetime.combine(query["from_"], time(), tzinfo=timezone.utc)
    if query.get("to"):
        end = datetime.combine(query["to"] + timedelta(days=1), time(), tzinfo=timezone.utc)
    return start, end
