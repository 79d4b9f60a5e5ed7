"""Every field a request can send is bounded (issue 12): a string or list no longer
than the column or array it ends in, a number inside what the database holds and a
sane business range. Walks every schema of the four services, so a field added
without a bound fails here, not in a 500 or a dead-lettered event."""
import importlib
import inspect
import re._parser as regex_parser

import pytest
from marshmallow import Schema, fields, validate
from sqlalchemy import String

from shared import runtime

SERVICES = ("intake", "scheduling", "notes", "billing")

# Same column name, another meaning: these request fields do not end in that column.
HOMONYMS = {
    ("intake", "reason", "episodes"),  # the discharge reason is a code
    ("intake", "reason", "pending_reassessments"),  # why a reassessment is due
}


def schemas_of(module):
    return [cls for _, cls in inspect.getmembers(module, inspect.isclass)
            if issubclass(cls, Schema) and cls.__module__ == module.__name__]


def all_schemas():
    found = [(service, cls) for service in SERVICES
             for cls in schemas_of(importlib.import_module(f"services.{service}.schemas"))]
    return found + [("kernel", cls) for cls in schemas_of(runtime)]


def leaves(path, field, seen):
    """(path, field) of every value field under `field`, nested schemas walked."""
    if isinstance(field, fields.Nested):
        schema = field.schema
        if type(schema) in seen:
            return
        seen.add(type(schema))
        for name, inner in schema.fields.items():
            yield from leaves(f"{path}.{name}", inner, seen)
        return
    yield path, field
    if isinstance(field, fields.List):
        yield from leaves(path + "[]", field.inner, seen)
    if isinstance(field, fields.Dict):
        if field.key_field is not None:
            yield from leaves(path + "{key}", field.key_field, seen)
        if field.value_field is not None:
            yield from leaves(path + "{}", field.value_field, seen)


def every_field():
    for service, cls in all_schemas():
        seen = {cls}
        for name, field in cls().fields.items():
            for path, leaf in leaves(f"{cls.__name__}.{name}", field, seen):
                yield service, path, leaf


def longest(field):
    """The longest value the field's validators admit, or None if unbounded."""
    bounds = []
    for validator in field.validators:
        if isinstance(validator, validate.Length) and validator.max is not None:
            bounds.append(validator.max)
        elif isinstance(validator, validate.Equal):
            bounds.append(len(str(validator.comparable)))
        elif isinstance(validator, validate.OneOf):
            bounds.append(max(len(str(choice)) for choice in validator.choices))
        elif isinstance(validator, validate.Regexp):
            width = regex_parser.parse(validator.regex.pattern).getwidth()[1]
            if width < regex_parser.MAXREPEAT:
                bounds.append(width)
    return min(bounds) if bounds else None


def bounded_range(field):
    return any(isinstance(v, validate.Range) and v.min is not None and v.max is not None
               for v in field.validators)


# Types whose values have a length of their own making.
SELF_BOUNDED = (fields.UUID, fields.Date, fields.DateTime, fields.Time, fields.Boolean,
                fields.TimeDelta)
TEXT = (fields.String,)
NUMBERS = (fields.Integer, fields.Float, fields.Decimal)


def test_the_walk_finds_the_schemas():
    paths = {path for _, path, _ in every_field()}
    assert "RegisterClientSchema.name" in paths
    assert "PaymentSchema.amount_cents" in paths or any(p.startswith("PaymentSchema.")
                                                         for p in paths)
    assert len(paths) > 150


def unbounded():
    found = []
    for service, path, field in every_field():
        if isinstance(field, SELF_BOUNDED) or isinstance(field, fields.Raw) and \
                type(field) is fields.Raw:
            continue
        if isinstance(field, (fields.List, fields.Dict)) or isinstance(field, TEXT):
            if longest(field) is None:
                found.append(f"{service} {path}: no maximum length")
        elif isinstance(field, NUMBERS):
            if not bounded_range(field):
                found.append(f"{service} {path}: no Range(min, max)")
    return found


def test_every_string_list_dict_and_number_is_bounded():
    assert unbounded() == []


def service_columns(service):
    module = importlib.import_module(f"services.{service}.read_models")
    tables = module.metadata.tables.values()
    columns = {}
    for table in tables:
        for column in table.c:
            if isinstance(column.type, String) and column.type.length:
                columns.setdefault(column.name, []).append((table.name, column.type.length))
    return columns


@pytest.mark.parametrize("service", SERVICES)
def test_no_field_is_longer_than_its_services_column_of_that_name(service):
    """Where a request field and a read-model column share a name, the field fits."""
    columns = service_columns(service)
    too_long = []
    for owner, path, field in every_field():
        name = path.rsplit(".", 1)[-1].rstrip("[]{}")
        if owner != service or not isinstance(field, TEXT) or name not in columns:
            continue
        limit = longest(field)
        for table, length in columns[name]:
            if (service, name, table) not in HOMONYMS and limit is not None and limit > length:
                too_long.append(f"{path} admits {limit}, {table}.{name} holds {length}")
    assert too_long == []


@pytest.mark.parametrize("service", SERVICES)
def test_identifiers_fit_every_service_that_keeps_them(service):
    """Ids travel in events into the other services' tables: a clinician or clinic id
    one service accepts must fit every service's column of that name."""
    shortest = {}
    for other in SERVICES:
        for name, places in service_columns(other).items():
            if name.endswith("_id"):
                shortest[name] = min([shortest.get(name, 10**6)] + [n for _, n in places])
    too_long = [f"{path} admits {longest(field)}, a column holds {shortest[name]}"
                for owner, path, field in every_field()
                for name in [path.rsplit(".", 1)[-1].rstrip("[]{}")]
                if owner == service and isinstance(field, TEXT) and name in shortest
                and longest(field) is not None and longest(field) > shortest[name]]
    assert too_long == []
