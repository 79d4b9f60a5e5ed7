"""Psychotherapy notes as read: only their author lists or reads them.

For anybody else, admins included, a psychotherapy note does not exist (404), and
only the author's own view (read_models.psychotherapy_notes) holds their text.
"""
from sqlalchemy import select

from shared import paging
from shared.errors import NotFound
from shared.timeutil import iso

from ..read_models import authors_psychotherapy_notes as authors_notes
from .common import time_or_none, visible_client

AUTHOR_ROLES = ("clinician",)


class PsychotherapyNoteQueries:
    def psychotherapy_note(self, principal, note_id):
        with self.store.read() as conn:
            return _view(authors_note(conn, principal, note_id))

    def psychotherapy_notes(self, principal, query):
        """The caller's own psychotherapy notes (of one client, or all; of one clinic, or
        every clinic of the token), newest last."""
        principal.require_role(*AUTHOR_ROLES)
        client_id, clinic_id = query["client_id"], query["clinic_id"]
        if clinic_id is not None:
            principal.require_clinic(principal.organisation_id, clinic_id)
        statement = (select(authors_notes)
                     .where(authors_notes.c.author_id == principal.user_id,
                            authors_notes.c.organisation_id == principal.organisation_id)
                     .order_by(authors_notes.c.written_at, authors_notes.c.note_id))
        if client_id is not None:
            statement = statement.where(authors_notes.c.client_id == str(client_id))
        clinics = [clinic_id] if clinic_id is not None else principal.clinic_filter()
        if clinics is not None:
            statement = statement.where(authors_notes.c.clinic_id.in_(clinics))
        with self.store.read() as conn:
            if client_id is not None:
                visible_client(principal, conn, str(client_id))
            rows = paging.fetch_page(conn, statement, query)
        return paging.offset_page("notes", [_view(r._asdict()) for r in rows],
                                  query["limit"], query["offset"])


def authors_note(conn, principal, note_id):
    """The note if the caller wrote it (and still works where it was written); else 404."""
    if principal.role not in AUTHOR_ROLES:
        raise NotFound("psychotherapy note not found")
    row = conn.execute(select(authors_notes).where(
        authors_notes.c.note_id == str(note_id),
        authors_notes.c.author_id == principal.user_id)).first()
    row = row._asdict() if row else None
    return principal.require_visible(row, "psychotherapy note")


def _view(row):
    return {"note_id": row["note_id"], "client_id": row["client_id"], "text": row["text"],
            "author_id": row["author_id"], "written_at": iso(row["written_at"]),
            "revised_at": time_or_none(row["revised_at"]), "revisions": row["revisions"]}
