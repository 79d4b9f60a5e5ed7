"""One page shape for every list (README: Paging).

A list answers `{<items>: [...], "limit": n, "next": ..., "total": n}`: `limit` is
the page size asked for (bounded by each query schema), `next` what to ask for to
get the page after this one (the `offset` of an offset list, the `after` position
or `cursor` of a positional one), null on the last page; `total` where counting
is cheap. A query asks for one row more than the page (`limit + 1`) so that
`next` is known without a count.

A list with no position of its own pages by offset with `PageQuery` (a query schema
of its own inherits from it) and `fetch_page`.
"""
from marshmallow import Schema, fields, validate

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_OFFSET = 10 ** 6


class PageQuery(Schema):
    """`limit` and `offset` of an offset-paged list.

    A list of one client's or one clinic's records is where that client or clinic is:
    an `organisation_id` or `clinic_id` the request names is taken and is no filter
    (tenancy comes from the stored records), as on the routes' other reads. A query
    where they do filter declares them itself."""
    limit = fields.Integer(load_default=DEFAULT_LIMIT,
                           validate=validate.Range(min=1, max=MAX_LIMIT))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_OFFSET))
    organisation_id = fields.String(load_default=None, validate=validate.Length(max=64),
                                    metadata={"description": "taken, not a filter"})
    clinic_id = fields.String(load_default=None, validate=validate.Length(max=64),
                              metadata={"description": "taken, not a filter"})


def list_page(key, items, query, total=None, **more):
    """A page of a list built in memory (a client's homework; a clinic's due work)."""
    start = query["offset"]
    return offset_page(key, items[start:start + query["limit"] + 1], query["limit"], start,
                       total, **more)


def every_item(key, fetch):
    """Every item of an offset-paged list, page by page: fetch(query) answers the page
    of `query` (limit and offset), as the list's route would."""
    items, offset = [], 0
    while offset is not None:
        page = fetch({"limit": MAX_LIMIT, "offset": offset})
        items += page[key]
        offset = page["next"]
    return items


def fetch_page(conn, statement, query):
    """The rows of one page of `statement` (ordered to the last column, so pages do
    not overlap), fetched with limit + 1 for `offset_page`."""
    return conn.execute(statement.limit(query["limit"] + 1).offset(query["offset"])).all()


def page(key, items, limit, next, total=None, **more):
    """The response of one page of a list named `key`."""
    body = {key: items, "limit": limit, "next": next}
    if total is not None:
        body["total"] = total
    body.update(more)
    return body


def trimmed(rows, limit):
    """(the page, whether more follow) of rows fetched with limit + 1."""
    return rows[:limit], len(rows) > limit


def offset_page(key, rows, limit, offset, total=None, **more):
    """A page of an offset list fetched with limit + 1 rows: `next` the offset after it."""
    items, more_follow = trimmed(rows, limit)
    return page(key, items, limit, offset + len(items) if more_follow else None, total,
                offset=offset, **more)


def position_page(key, rows, limit, position_of, **more):
    """A page of a list ordered by a position fetched with limit + 1 rows: `next` the
    last item's position (ask for what comes after it), null at the end."""
    items, more_follow = trimmed(rows, limit)
    return page(key, items, limit, position_of(items[-1]) if more_follow else None, **more)
