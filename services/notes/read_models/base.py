"""What every read-model module shares: the metadata, the projection, small helpers."""
import json

from sqlalchemy import MetaData, delete, insert

from shared import care_team
from shared.projection import Projection

metadata = MetaData()
projection = Projection(metadata)
care_team.include(projection)  # who reaches which client (shared/care_team.py)


def replace(conn, table, key, values):
    """Put the row with this key, whatever was there: applying twice is harmless."""
    column = table.c[key]
    conn.execute(delete(table).where(column == values[key]))
    conn.execute(insert(table).values(**values))


def tenancy(event):
    """Every row carries the tenancy of the event that made it."""
    return {"organisation_id": event.organisationid, "clinic_id": event.clinicid}


def to_json(value):
    return None if value is None else json.dumps(value, sort_keys=True, separators=(",", ":"))


def from_json(value):
    return None if value is None else json.loads(value)
