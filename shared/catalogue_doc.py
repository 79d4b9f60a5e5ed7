"""Print the event catalogue as Markdown: `python -m shared.catalogue_doc`.

The README's catalogue is this output; a unit test keeps the two in step.
"""
from marshmallow import fields

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
    lines = ["| type (routing key) | exchange | data | meaning |", "|---|---|---|---|"]
    for spec in catalogue.specs():
        data = ", ".join(f"`{name}`: {_field(field)}"
                         for name, field in spec.schema.fields.items())
        lines.append(f"| `{event_type(spec.service, spec.name, spec.version)}` "
                     f"(`{spec.name}`) | `{spec.service}.events` | {data} | "
                     f"{spec.description} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown())
