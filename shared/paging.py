"""One page shape for every list (README: Paging).

A list answers `{<items>: [...], "limit": n, "next": ..., "total": n}`: `limit` is
the page size asked for (bounded by each query schema), `next` what to ask for to
get the page after this one (the `offset` of an offset list, the `after` position
or `cursor` of a positional one), null on the last page; `total` where counting
is cheap. A query asks for one row more than the page (`limit + 1`) so that
`next` is known without a count.
"""


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
