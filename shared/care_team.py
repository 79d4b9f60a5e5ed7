"""Care teams: which clinicians care for which client, and break-glass access.

A clinician reaches a client's records only when they care for the client: as
primary clinician (intake's ClientRegistered, ClientDetailsUpdated), through
a session booked or held with them (scheduling's AppointmentBooked,
SessionHeld), because an admin added them (CareTeamMemberAdded, until
CareTeamMemberRemoved), as supervisor of any of those (notes'
ClinicianSupervisionSet), or under break-glass until it expires
(BreakGlassAccessGranted). Everybody else in the clinic gets 404 for the
client's records and does not see the client in lists. Other roles keep what
their role sees (shared/access.py).

Every service's projection includes these tables (`include`), fed by the
events it receives. The rows are deterministic functions of the events, in
whatever order they arrive: a break-glass row keeps the event's expires_at and
reads compare it with now; who is primary, who an admin added and who
supervises whom is the latest word by the producer's stream sequence, so a
late older event changes nothing.

`Principal.require_visible`, which every load by id passes, calls `require`;
lists filter with `visible`.
"""
from sqlalchemy import (
    Column, DateTime, Integer, MetaData, String, Table, and_, bindparam, delete, insert, or_,
    select, true, update,
)

from . import audit
from .errors import NotFound
from .timeutil import aware, parse_time, utc_now

CLINICIAN = "clinician"
PRIMARY, SESSION, ADDED, SUPERVISION, BREAK_GLASS = (
    "primary", "session", "added", "supervision", "break_glass")

_metadata = MetaData()

care_team = Table(
    "care_team", _metadata,
    Column("organisation_id", String(64), primary_key=True),
    Column("client_id", String(36), primary_key=True),
    Column("clinician_id", String(200), primary_key=True),
    Column("why", String(20), primary_key=True),  # primary, session, added, break_glass
    Column("clinic_id", String(64), nullable=False),
    Column("until", DateTime(timezone=True)),  # break-glass: the grant's expires_at
)

# Who supervises whom: a supervisor cares for their supervisees' clients. A row
# with no supervisor remembers the sequence of the event that ended supervision.
care_team_supervision = Table(
    "care_team_supervision", _metadata,
    Column("organisation_id", String(64), primary_key=True),
    Column("clinician_id", String(200), primary_key=True),
    Column("supervisor_id", String(200)),
    Column("clinic_id", String(64), nullable=False),
    Column("sequence", Integer, nullable=False),  # in notes' supervision stream
)

# The latest word on a client's primary clinician (clinician_id "") and on each
# clinician an admin added, by sequence in intake's client stream: present or not.
care_team_changes = Table(
    "care_team_changes", _metadata,
    Column("organisation_id", String(64), primary_key=True),
    Column("client_id", String(36), primary_key=True),
    Column("why", String(20), primary_key=True),  # primary, added
    Column("clinician_id", String(200), primary_key=True),
    Column("sequence", Integer, nullable=False),
    Column("member", String(200)),  # the clinician in the team by it; None: nobody
)


# -- the projection ------------------------------------------------------------
def include(projection):
    """Add the care-team tables and their handlers to a service's projection."""
    for table in (care_team, care_team_supervision, care_team_changes):
        table.to_metadata(projection.metadata)
    projection.on("ClientRegistered")(_registered)
    projection.on("ClientDetailsUpdated")(_details_updated)
    projection.on("AppointmentBooked", "SessionHeld")(_session)
    projection.on("CareTeamMemberAdded")(_added)
    projection.on("CareTeamMemberRemoved")(_removed)
    projection.on("BreakGlassAccessGranted")(_break_glass)
    projection.on("ClinicianSupervisionSet")(_supervision)


def _key(event, client_id, clinician_id, why):
    return {"organisation_id": event.organisationid, "client_id": str(client_id),
            "clinician_id": clinician_id, "why": why}


def _where(key):
    return [care_team.c[name] == value for name, value in key.items()]


# Built once, the values given as parameters: a statement built per event (and keyed
# for SQLAlchemy's cache each time) cost most of a session's projection.
_KEYED = [care_team.c[name] == bindparam(f"key_{name}")
          for name in ("organisation_id", "client_id", "clinician_id", "why")]
_UNTIL = select(care_team.c.until).where(*_KEYED)
_EXTEND = update(care_team).where(*_KEYED)


def _put(conn, event, client_id, clinician_id, why, until=None):
    key = _key(event, client_id, clinician_id, why)
    keyed = {f"key_{name}": value for name, value in key.items()}
    row = conn.execute(_UNTIL, keyed).first()
    if row is None:
        conn.execute(insert(care_team), {**key, "clinic_id": event.clinicid, "until": until})
    elif until is not None and row.until is not None and aware(row.until) < until:
        conn.execute(_EXTEND, {**keyed, "until": until})


def _latest_word(conn, event, client_id, why, clinician_id, member):
    """Keep the change unless a later one of intake's is here; True when kept."""
    key = {"organisation_id": event.organisationid, "client_id": str(client_id), "why": why,
           "clinician_id": clinician_id}
    where = [care_team_changes.c[name] == value for name, value in key.items()]
    stored = conn.execute(select(care_team_changes.c.sequence).where(*where)).scalar()
    sequence = event.sequence or 0
    if stored is not None and stored > sequence:
        return False
    conn.execute(delete(care_team_changes).where(*where))
    conn.execute(insert(care_team_changes).values(**key, sequence=sequence, member=member))
    return True


def _primary(conn, event, client_id, clinician_id):
    if not _latest_word(conn, event, client_id, PRIMARY, "", clinician_id):
        return
    conn.execute(delete(care_team).where(
        care_team.c.organisation_id == event.organisationid,
        care_team.c.client_id == str(client_id), care_team.c.why == PRIMARY))
    if clinician_id:
        _put(conn, event, client_id, clinician_id, PRIMARY)


def _registered(conn, event):
    # A registration naming no primary clinician says nothing about who is primary (a
    # client registered again at another clinic keeps theirs); in any order alike.
    if event.data.get("primary_clinician_id"):
        _primary(conn, event, event.data["client_id"], event.data["primary_clinician_id"])


def _details_updated(conn, event):
    changes = event.data["changes"]
    if "primary_clinician_id" in changes:
        _primary(conn, event, event.data["client_id"], changes["primary_clinician_id"])


def _session(conn, event):
    _put(conn, event, event.data["client_id"], event.data["clinician_id"], SESSION)


def _added(conn, event):
    _member_added(conn, event, event.data["client_id"], event.data["clinician_id"], True)


def _removed(conn, event):
    _member_added(conn, event, event.data["client_id"], event.data["clinician_id"], False)


def _member_added(conn, event, client_id, clinician_id, added):
    if not _latest_word(conn, event, client_id, ADDED, clinician_id,
                        clinician_id if added else None):
        return
    conn.execute(delete(care_team).where(*_where(_key(event, client_id, clinician_id, ADDED))))
    if added:
        _put(conn, event, client_id, clinician_id, ADDED)


def _break_glass(conn, event):
    _put(conn, event, event.data["client_id"], event.data["clinician_id"], BREAK_GLASS,
         until=parse_time(event.data["expires_at"]))


def _supervision(conn, event):
    data = event.data
    where = [care_team_supervision.c.organisation_id == event.organisationid,
             care_team_supervision.c.clinician_id == data["clinician_id"]]
    stored = conn.execute(select(care_team_supervision.c.sequence).where(*where)).scalar()
    if stored is not None and stored > (event.sequence or 0):
        return  # a later supervision of notes' is already here
    conn.execute(delete(care_team_supervision).where(*where))
    conn.execute(insert(care_team_supervision).values(
        organisation_id=event.organisationid, clinician_id=data["clinician_id"],
        supervisor_id=data.get("supervisor_id"), clinic_id=event.clinicid,
        sequence=event.sequence or 0))


# -- reading -------------------------------------------------------------------
def _active(now):
    return or_(care_team.c.until.is_(None), care_team.c.until > now)


def _supervisees(principal):
    return select(care_team_supervision.c.clinician_id).where(
        care_team_supervision.c.organisation_id == principal.organisation_id,
        care_team_supervision.c.supervisor_id == principal.user_id)


def _mine(principal, now, break_glass=True):
    """Care-team rows through which this clinician reaches a client."""
    own = care_team.c.clinician_id == principal.user_id
    if not break_glass:
        own = and_(own, care_team.c.why != BREAK_GLASS)
    # A supervisor reaches what their supervisees reach, never their break-glass.
    supervised = and_(care_team.c.clinician_id.in_(_supervisees(principal)),
                      care_team.c.why != BREAK_GLASS)
    return and_(care_team.c.organisation_id == principal.organisation_id, _active(now),
                or_(own, supervised))


def reasons(conn, principal, client_id, now=None):
    """Why this clinician reaches the client: a set of primary, session, added,
    supervision, break_glass (empty: they do not)."""
    rows = conn.execute(select(care_team.c.clinician_id, care_team.c.why).where(
        _mine(principal, now or utc_now()), care_team.c.client_id == str(client_id))).all()
    return {r.why if r.clinician_id == principal.user_id else SUPERVISION for r in rows}


def require(principal, record):
    """For a record of a client loaded by id (Principal.require_visible): 404 for a
    clinician outside the client's care team; a read through break-glass alone
    marks the request's audit row. Checked for requests the runtime serves (HTTP
    and RPC), in the store their audit rows go to."""
    client_id = record.get("client_id")
    if principal.role != CLINICIAN or client_id is None:
        return
    access = audit.current()
    if access is None or access.store is None:
        return  # not a request (an application driven directly, as in unit tests)
    with access.store.read() as conn:
        why = reasons(conn, principal, client_id)
    if not why:
        raise NotFound("client not found")
    if why == {BREAK_GLASS}:
        audit.mark_break_glass()


def visible(principal, client_column, now=None):
    """A where-clause keeping a list to the clients this clinician cares for (true
    for other roles). Break-glass opens a record, not the lists."""
    if principal.role != CLINICIAN:
        return true()
    return client_column.in_(select(care_team.c.client_id).where(
        _mine(principal, now or utc_now(), break_glass=False)))


def client_ids(conn, principal, now=None):
    """The ids `visible` keeps, for a list built in Python; None for other roles."""
    if principal.role != CLINICIAN:
        return None
    return {r.client_id for r in conn.execute(select(care_team.c.client_id).where(
        _mine(principal, now or utc_now(), break_glass=False)))}


def members(conn, organisation_id, client_id, now=None):
    """The client's care team: [{clinician_id, why, until}] (supervisors included),
    active rows only."""
    now = now or utc_now()
    rows = conn.execute(select(care_team).where(
        care_team.c.organisation_id == organisation_id,
        care_team.c.client_id == str(client_id), _active(now))
        .order_by(care_team.c.clinician_id, care_team.c.why)).all()
    found = [{"clinician_id": r.clinician_id, "why": r.why,
              "until": aware(r.until)} for r in rows]
    carers = {r["clinician_id"] for r in found if r["why"] != BREAK_GLASS}
    if carers:
        supervisors = conn.execute(select(care_team_supervision).where(
            care_team_supervision.c.organisation_id == organisation_id,
            care_team_supervision.c.clinician_id.in_(sorted(carers)),
            care_team_supervision.c.supervisor_id.is_not(None))).all()
        found += [{"clinician_id": s.supervisor_id, "why": SUPERVISION, "until": None,
                   "supervises": s.clinician_id} for s in supervisors]
    return found
