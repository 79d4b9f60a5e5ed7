"""The one way to rebuild state from a stream (plain Python, no framework).

An aggregate is what one stream's events say: a client, an appointment, a note.
A subclass names its stream and handles the events it cares about in
`_on_<EventName>(event, data)`; every other event only moves the version on.
The unit of work is its repository (shared/store.py): `uow.get(Type, key)`
loads it, `uow.save(aggregate, context, new_events)` appends what a command
decided at the version it was loaded at, so a concurrent change is a 409
ConcurrencyError rather than a lost update.
"""


class Aggregate:
    STREAM = None  # "client-{}": the stream of the aggregate with this key

    # Set by from_events/the repository: the stream and the version last applied.
    stream_id = None
    version = 0

    @classmethod
    def stream_of(cls, *key):
        return cls.STREAM.format(*key)

    @classmethod
    def new(cls, *key):
        """The state before the stream's first event."""
        return cls(*key)

    @classmethod
    def from_events(cls, key, events):
        """Fold `events` (one stream's, in version order) into a new aggregate."""
        key = key if isinstance(key, tuple) else (key,)
        aggregate = cls.new(*key)
        aggregate.stream_id = cls.stream_of(*key)
        for event in events:
            aggregate.apply(event)
        return aggregate

    def apply(self, event):
        self.version = event.sequence
        handler = getattr(self, f"_on_{event.name}", None)
        if handler is not None:
            handler(event, event.data)

    @property
    def exists(self):
        """Whether the stream has any event yet."""
        return self.version > 0
