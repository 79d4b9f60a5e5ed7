"""Generated blocks of the README, between `<!-- name:start -->` and
`<!-- name:end -->` markers: read one back (tests compare it with the code) or
rewrite it (`make catalogue`, `make access-table`)."""


def markers(name):
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def embedded(readme_text, name):
    """The block as it stands in the README."""
    start, end = markers(name)
    return readme_text.split(start, 1)[1].split(end, 1)[0].strip()


def write(path, name, body):
    start, end = markers(name)
    with open(path) as handle:
        text = handle.read()
    head, rest = text.split(start, 1)
    tail = rest.split(end, 1)[1]
    with open(path, "w") as handle:
        handle.write(f"{head}{start}\n{body}\n{end}{tail}")
