"""The connection a rebuild's handlers run on (shared.projection.BatchedReplay), on
both engines: inserts held and written together, reads kept until a write, and every
statement still answering as it would on the plain connection."""
import pytest
from sqlalchemy import (Column, ForeignKey, MetaData, String, Table, bindparam, event, func,
                        insert, select, text, update)

from shared.projection import BatchedReplay
from shared.store import make_engine

pytestmark = pytest.mark.integration

metadata = MetaData()
# Declared child first: the held rows must still go parents first.
visits = Table("replay_visits", metadata,
               Column("visit_id", String(36), primary_key=True),
               Column("client_id", String(36), ForeignKey("replay_clients.client_id"),
                      nullable=False))
clients = Table("replay_clients", metadata,
                Column("client_id", String(36), primary_key=True),
                Column("name", String(200), nullable=False))

NAME = select(clients.c.name).where(clients.c.client_id == bindparam("client_id"))
VISITS = (select(func.count()).select_from(visits)
          .where(visits.c.client_id == bindparam("client_id")))


@pytest.fixture
def replay(database_url):
    engine = make_engine(database_url)
    metadata.create_all(engine)
    with engine.connect() as conn:
        with conn.begin():
            writes = BatchedReplay(conn, metadata)
            yield writes
            writes.flush()
    engine.dispose()


def statements_sent(replay):
    sent = []
    event.listen(replay.conn, "before_cursor_execute", lambda *args: sent.append(args[2]))
    return sent


def test_a_held_insert_is_seen_by_the_next_read_of_its_table(replay):
    assert replay.execute(insert(clients), {"client_id": "c1", "name": "Ada"}) is None
    assert replay.execute(NAME, {"client_id": "c1"}).scalar() == "Ada"
    assert replay.execute(select(clients.c.name).where(clients.c.client_id == "c1")
                          ).scalar_one() == "Ada"


def test_held_rows_are_written_parents_first_whatever_order_they_came_in(replay):
    replay.execute(insert(clients), {"client_id": "c0", "name": "n0"})
    assert replay.execute(NAME, {"client_id": "c0"}).scalar() == "n0"  # written
    replay.execute(insert(visits), {"visit_id": "v0", "client_id": "c0"})  # held first
    for number in (1, 2):
        replay.execute(insert(clients), {"client_id": f"c{number}", "name": f"n{number}"})
        replay.execute(insert(visits), {"visit_id": f"v{number}", "client_id": f"c{number}"})
    replay.execute(insert(visits), {"visit_id": "v9", "client_id": "c0"})
    assert replay.execute(VISITS, {"client_id": "c0"}).scalar() == 2
    assert replay.execute(select(func.count()).select_from(clients)).scalar() == 3


def test_a_kept_read_is_forgotten_when_its_table_changes(replay):
    replay.execute(insert(clients), {"client_id": "c1", "name": "Ada"})
    assert replay.execute(NAME, {"client_id": "c1"}).scalar() == "Ada"
    sent = statements_sent(replay)
    assert replay.execute(NAME, {"client_id": "c1"}).first().name == "Ada"  # kept
    assert sent == []
    replay.execute(update(clients).where(clients.c.client_id == "c1").values(name="Bea"))
    assert replay.execute(NAME, {"client_id": "c1"}).scalar() == "Bea"
    assert replay.execute(VISITS, {"client_id": "c1"}).scalar() == 0
    replay.execute(insert(visits), {"visit_id": "v1", "client_id": "c1"})  # held
    assert replay.execute(VISITS, {"client_id": "c1"}).scalar() == 1
    assert replay.execute(NAME, {"client_id": "c2"}).first() is None


def test_sql_it_cannot_read_sees_every_held_row(replay):
    replay.execute(insert(clients), {"client_id": "c1", "name": "Ada"})
    assert replay.execute(text("SELECT count(*) FROM replay_clients")).scalar() == 1
    replay.execute(insert(clients), {"client_id": "c2", "name": "Bea"})
    assert replay.exec_driver_sql("SELECT count(*) FROM replay_clients").scalar() == 2
    replay.execute(text("UPDATE replay_clients SET name = 'Cy'"))
    assert replay.execute(NAME, {"client_id": "c1"}).scalar() == "Cy"


def test_an_insert_with_its_own_values_goes_at_once(replay):
    replay.execute(insert(clients).values(client_id="c1", name="Ada"))
    assert replay.conn.execute(NAME, {"client_id": "c1"}).scalar() == "Ada"
