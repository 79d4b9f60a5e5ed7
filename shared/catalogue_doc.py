"""The event catalogue as Markdown: `python -m shared.catalogue_doc [--write README.md]`.

The README's catalogue is this output (between its catalogue markers); a unit
test keeps the two in step, and `make catalogue` rewrites it.
"""
import sys

from marshmallow import fields

from . import readme_blocks
from .envelope import event_type
from .events import catalogue


def _field(field):
    kind = type(field).__name__
    if isinstance(field, fields.List):
        kind = f"List[{type(field.inner).__name__}]"
    if isinstance(field, fields.Nested):
        kind = "{" + ", ".join(field.schema.fields) + "}"
    if field.allow_none:
        kind += " or null"
    return kind if field.required else f"{kind} (optional)"


def markdown():
    lines = ["Routing key: `<organisation id>.<name>` (e.g. `org-1.SessionHeld`); bind "
             "`*.<name>` for every organisation, `<organisation id>.*` for one.", "",
             "| type | routing key | exchange | data | meaning |", "|---|---|---|---|---|"]
    for spec in catalogue.specs():
        if spec.private:
            continue
        data = ", ".join(f"`{name}`: {_field(field)}"
                         for name, field in spec.schema.fields.items())
        lines.append(f"| `{event_type(spec.service, spec.name, spec.version)}` "
                     f"| `<organisation>.{spec.name}` | `{spec.service}.events` | {data} | "
                     f"{spec.description} |")
    private = [f"`{s.service}.{s.name}`" for s in catalogue.specs() if s.private]
    if private:
        lines += ["", "Kept inside their service and never published: " + ", ".join(private) + "."]
    return "\n".join(lines)


def embedded(readme_text):
    return readme_blocks.embedded(readme_text, "catalogue")


def write(path):
    readme_blocks.write(path, "catalogue", markdown())


if __name__ == "__main__":
    if sys.argv[1:2] == ["--write"]:
        write(sys.argv[2])
    else:
        print(markdown())
