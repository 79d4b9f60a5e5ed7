"""The alliance's read side: a clinic's settings, a client's ratings, the clinic's
alliance concerns (clinicians and admins only: the front desk never sees scores)."""
import json

from sqlalchemy import func, select

from shared.timeutil import iso

from ..domain import alliance
from ..read_models import alliance_concerns, alliance_ratings, alliance_rules
from ..read_models.dropout import dropout_risks, dropout_rules
from .flags import clinic_flags


def dropout_rule_of(conn, organisation_id, clinic_id):
    row = conn.execute(select(dropout_rules).where(
        dropout_rules.c.organisation_id == organisation_id,
        dropout_rules.c.clinic_id == clinic_id)).first()
    return alliance.DropoutRiskRule() if row is None else \
        alliance.DropoutRiskRule(row.misses, row.window_days)

CLINICAL = ("admin", "clinician")


def alliance_rule(conn, organisation_id, clinic_id):
    """(AllianceRule in force, its row or None)."""
    row = conn.execute(select(alliance_rules).where(
        alliance_rules.c.organisation_id == organisation_id,
        alliance_rules.c.clinic_id == clinic_id)).first()
    rule = alliance.AllianceRule(organisation_id, clinic_id)
    if row is not None:
        rule.instrument, rule.every_sessions, rule.drop_points = \
            row.instrument, row.every_sessions, row.drop_points
    return rule, row


class AllianceQueries:
    def alliance_settings(self, principal, clinic_id):
        principal.require_clinic(principal.organisation_id, clinic_id)
        with self.store.read() as conn:
            rule, row = alliance_rule(conn, principal.organisation_id, clinic_id)
            dropout_rule = dropout_rule_of(conn, principal.organisation_id, clinic_id)
        return {"organisation_id": principal.organisation_id, "clinic_id": clinic_id,
                **rule.to_data(), **dropout_rule.to_data(), "default": row is None,
                "set_by": row.set_by if row else None,
                "set_at": iso(row.set_at) if row else None}

    def alliance_rating(self, conn, session_id):
        row = conn.execute(select(alliance_ratings).where(
            alliance_ratings.c.session_id == str(session_id))).one()
        return rating_view(row._asdict())

    def dropout_risks(self, principal, clinic_id, query):
        """The clinic's dropout-risk flags: open ones until a clinician acknowledges them."""
        principal.require_role(*CLINICAL)
        principal.require_clinic(principal.organisation_id, clinic_id)
        return clinic_flags(self.store, principal, clinic_id, query, dropout_risks,
                            dropout_risks.c.flagged_at, "dropout_risks", dropout_risk_view)

    def alliance_concerns(self, principal, clinic_id, query):
        """The clinic's alliance concerns: open ones until a clinician acknowledges them."""
        principal.require_role(*CLINICAL)
        principal.require_clinic(principal.organisation_id, clinic_id)
        return clinic_flags(self.store, principal, clinic_id, query, alliance_concerns,
                            alliance_concerns.c.flagged_at, "alliance_concerns",
                            concern_view)


def open_alliance_concern_counts(conn):
    """{(organisation, clinic): alliance concerns not yet acknowledged}."""
    c = alliance_concerns.c
    rows = conn.execute(select(c.organisation_id, c.clinic_id, func.count())
                        .where(c.acknowledged_at.is_(None))
                        .group_by(c.organisation_id, c.clinic_id)).all()
    return {(org, clinic): count for org, clinic, count in rows}


def rating_view(record):
    return {"session_id": record["session_id"], "client_id": record["client_id"],
            "session_number": record["session_number"], "instrument": record["instrument"],
            "instrument_version": record["instrument_version"], "total": record["total"],
            "subscales": json.loads(record["subscales"]), "rated_by": record["rated_by"],
            "rated_at": iso(record["rated_at"])}


def concern_view(record):
    return {"flag_id": record["flag_id"], "client_id": record["client_id"],
            "client_name": record.get("name"), "session_id": record["session_id"],
            "instrument": record["instrument"], "total": record["total"],
            "rules": record["rules"].split(","), "reason": record["reason"],
            "flagged_at": iso(record["flagged_at"]),
            "status": "open" if record["acknowledged_at"] is None else "acknowledged",
            "acknowledged_by": record["acknowledged_by"],
            "acknowledged_at": iso(record["acknowledged_at"])
            if record["acknowledged_at"] else None,
            "action_taken": record["action_taken"]}


def dropout_risk_view(record):
    return {"flag_id": record["flag_id"], "client_id": record["client_id"],
            "client_name": record.get("name"), "late_cancels": record["late_cancels"],
            "no_shows": record["no_shows"], "window_days": record["window_days"],
            "reason": record["reason"], "flagged_at": iso(record["flagged_at"]),
            "status": "open" if record["acknowledged_at"] is None else "acknowledged",
            "acknowledged_by": record["acknowledged_by"],
            "acknowledged_at": iso(record["acknowledged_at"])
            if record["acknowledged_at"] else None,
            "action_taken": record["action_taken"]}
