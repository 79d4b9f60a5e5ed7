"""The clinic outcomes summary broken down (issue 17 item 5): by the approach the
treatment plan names (notes' TreatmentApproachSet), by the client's primary clinician,
and by alliance band (clients ever in alliance concern up to the period's end, or never).

Each group has the summary's rates over its clients' measured courses, plus dropout:
of the group's episodes discharged in the period, those ended `dropped_out`. A client
with two approaches counts under each; one with none under `unrecorded`.
"""
from collections import defaultdict

from sqlalchemy import select

from shared.timeutil import iso

from ..domain import alliance
from ..read_models import alliance_concerns, alliance_ratings, clients, episodes
from ..read_models.therapy import client_approaches

UNRECORDED = "unrecorded"
EVER_IN_CONCERN, NEVER_IN_CONCERN = "ever_in_concern", "never_in_concern"


def _in_range(column, start, end):
    where = []
    if start is not None:
        where.append(column >= start)
    if end is not None:
        where.append(column < end)
    return where


def breakdowns(conn, organisation_id, clinic_id, judged, start, end, rates):
    """{by_approach, by_clinician, by_alliance}: group -> rates(judged of the group) with
    `discharged`, `dropped_out` and `dropout_rate`. `judged` are the summary's courses
    (rows with client_id, category, ...), `rates(rows)` its rates."""
    tenancy = (clients.c.organisation_id == organisation_id, clients.c.clinic_id == clinic_id)
    clinician_of = dict(conn.execute(select(clients.c.client_id, clients.c.primary_clinician_id)
                                     .where(*tenancy)).all())
    # Only the clinic's clients: the organisation's other clinics are not grouped here.
    of_clinic = select(clients.c.client_id).where(*tenancy)
    approaches_of = {row.client_id: row.approaches.split(",") for row in conn.execute(
        select(client_approaches.c.client_id, client_approaches.c.approaches).where(
            client_approaches.c.organisation_id == organisation_id,
            client_approaches.c.client_id.in_(of_clinic)))}
    concern = select(alliance_concerns.c.client_id).where(
        alliance_concerns.c.organisation_id == organisation_id,
        alliance_concerns.c.client_id.in_(of_clinic),
        *_in_range(alliance_concerns.c.flagged_at, None, end))
    in_concern = {row.client_id for row in conn.execute(concern)}
    ended = conn.execute(select(episodes.c.client_id, episodes.c.reason).where(
        episodes.c.organisation_id == organisation_id, episodes.c.clinic_id == clinic_id,
        episodes.c.discharged_at.is_not(None),
        *_in_range(episodes.c.discharged_at, start, end))).all()

    groupings = {
        "by_approach": lambda c: approaches_of.get(c) or [UNRECORDED],
        "by_clinician": lambda c: [clinician_of.get(c) or UNRECORDED],
        "by_alliance": lambda c: [EVER_IN_CONCERN if c in in_concern else NEVER_IN_CONCERN],
    }
    answer = {}
    for name, groups_of in groupings.items():
        courses, discharges = defaultdict(list), defaultdict(list)
        for row in judged:
            for group in groups_of(row.client_id):
                courses[group].append(row)
        for row in ended:
            for group in groups_of(row.client_id):
                discharges[group].append(row.reason)
        groups = sorted(set(courses) | set(discharges))
        if name == "by_alliance":  # both bands always show, so an empty one reads 0
            groups = [EVER_IN_CONCERN, NEVER_IN_CONCERN]
        answer[name] = {group: {**rates(courses[group]), **_dropout(discharges[group])}
                        for group in groups}
    return answer


def _dropout(reasons):
    dropped = sum(1 for reason in reasons if reason == "dropped_out")
    return {"discharged": len(reasons), "dropped_out": dropped,
            "dropout_rate": round(dropped / len(reasons), 3) if reasons else None}


def alliance_trajectory(conn, client_id):
    """The client's alliance ratings in session order, for the outcome chart's overlay:
    [{session_number, rated_at, instrument, total, concern_below, highest_total}]."""
    rows = conn.execute(select(alliance_ratings).where(
        alliance_ratings.c.client_id == client_id)
        .order_by(alliance_ratings.c.session_number, alliance_ratings.c.rated_at)).all()
    points = []
    for row in rows:
        measure = alliance.BUILT_IN.get(row.instrument)
        points.append({"session_number": row.session_number, "rated_at": iso(row.rated_at),
                       "instrument": row.instrument, "total": row.total,
                       "concern_below": measure.concern_below if measure else None,
                       "highest_total": measure.highest * measure.item_count if measure else None})
    return points
