"""Clients as scheduling knows them (from intake's events) and their episodes of care."""
from sqlalchemy import Column, DateTime, String, Table, select

from shared.timeutil import parse_time

from .base import metadata, projection, upsert

clients = Table(
    "clients", metadata,
    Column("client_id", String(36), primary_key=True),
    Column("organisation_id", String(64), nullable=False, index=True),
    Column("clinic_id", String(64), nullable=False),
    Column("name", String(200)),
    Column("preferred_name", String(200)),
)

# Opened and closed by intake; a ClientDischarged may arrive before its EpisodeOpened.
episodes = Table(
    "episodes", metadata,
    Column("episode_id", String(36), primary_key=True),
    Column("client_id", String(36), nullable=False, index=True),
    Column("opened_at", DateTime(timezone=True)),
    Column("closed_at", DateTime(timezone=True)),
)


@projection.on("ClientRegistered")
def client_registered(conn, event):
    data = event.data
    upsert(conn, clients, {"client_id": data["client_id"]}, {
        "organisation_id": event.organisationid, "clinic_id": event.clinicid,
        "name": data["name"], "preferred_name": data.get("preferred_name")})


@projection.on("ClientDetailsUpdated")
def client_details_updated(conn, event):
    changes = {k: v for k, v in event.data["changes"].items()
               if k in ("name", "preferred_name")}
    if changes and client_row(conn, event.data["client_id"]) is not None:
        upsert(conn, clients, {"client_id": event.data["client_id"]}, changes)


@projection.on("EpisodeOpened")
def episode_opened(conn, event):
    upsert(conn, episodes, {"episode_id": event.data["episode_id"]}, {
        "client_id": event.data["client_id"], "opened_at": parse_time(event.data["opened_at"])})


@projection.on("ClientDischarged")
def client_discharged(conn, event):
    upsert(conn, episodes, {"episode_id": event.data["episode_id"]}, {
        "client_id": event.data["client_id"],
        "closed_at": parse_time(event.data["discharged_at"])})


# -- what the application reads ----------------------------------------------
def client_row(conn, client_id):
    row = conn.execute(select(clients).where(clients.c.client_id == str(client_id))).first()
    return row._asdict() if row else None


def open_episode_id(conn, client_id):
    """The client's current episode of care (the latest opened, not closed), or None."""
    return conn.execute(
        select(episodes.c.episode_id)
        .where(episodes.c.client_id == str(client_id), episodes.c.closed_at.is_(None),
               episodes.c.opened_at.is_not(None))
        .order_by(episodes.c.opened_at.desc(), episodes.c.episode_id)).scalar()


def display_name(client):
    if client is None:
        return None
    return client.get("preferred_name") or client.get("name")
