"""marshmallow schema -> JSON Schema (draft-07, which AsyncAPI's schemas extend).

Only the field types and validators the event catalogue uses; anything else
raises TypeError, so a new kind of field cannot slip into the contract
unconverted. Nested schemas are inlined (the files stand alone). Unknown
properties stay allowed: consumers ignore fields they do not know.
"""
from marshmallow import Schema, fields, validate

DIALECT = "http://json-schema.org/draft-07/schema#"


def _base(field):
    # Subclasses first: Email and UUID are Strings, Date is a DateTime.
    if isinstance(field, fields.Nested):
        schema = field.schema
        if getattr(field, "many", False):
            return {"type": "array", "items": object_schema(schema)}
        return object_schema(schema)
    if isinstance(field, fields.List):
        return {"type": "array", "items": field_schema(field.inner)}
    if isinstance(field, fields.Dict):
        out = {"type": "object"}
        if field.key_field is not None:
            keys = field_schema(field.key_field)
            keys.pop("type", None)  # property names are strings already
            if keys:
                out["propertyNames"] = keys
        if field.value_field is not None:
            out["additionalProperties"] = field_schema(field.value_field)
        return out
    if isinstance(field, fields.Email):
        return {"type": "string", "format": "email"}
    if isinstance(field, fields.UUID):
        return {"type": "string", "format": "uuid"}
    if isinstance(field, fields.String):
        return {"type": "string"}
    if isinstance(field, fields.Boolean):
        return {"type": "boolean"}
    if isinstance(field, fields.Integer):
        return {"type": "integer"}
    if isinstance(field, (fields.Float, fields.Decimal)):
        return {"type": "number"}
    if isinstance(field, fields.Date):
        return {"type": "string", "format": "date"}
    if isinstance(field, fields.DateTime):
        return {"type": "string", "format": "date-time"}
    raise TypeError(f"no JSON Schema for marshmallow field {type(field).__name__}")


def _constrain(out, validator):
    if isinstance(validator, validate.Length):
        low, high = ("minItems", "maxItems") if out.get("type") == "array" else (
            "minLength", "maxLength")
        if validator.equal is not None:
            out[low] = out[high] = validator.equal
        if validator.min is not None:
            out[low] = validator.min
        if validator.max is not None:
            out[high] = validator.max
    elif isinstance(validator, validate.Range):
        if validator.min is not None:
            out["minimum" if validator.min_inclusive else "exclusiveMinimum"] = validator.min
        if validator.max is not None:
            out["maximum" if validator.max_inclusive else "exclusiveMaximum"] = validator.max
    elif isinstance(validator, validate.OneOf):
        out["enum"] = list(validator.choices)
    elif isinstance(validator, validate.Regexp):
        out["pattern"] = validator.regex.pattern
    elif isinstance(validator, validate.Email):
        pass  # fields.Email's own: format "email"
    else:
        raise TypeError(f"no JSON Schema for marshmallow validator {type(validator).__name__}")


def field_schema(field):
    """The JSON Schema of one field's value (its being required is the object's)."""
    out = _base(field)
    for validator in field.validators:
        _constrain(out, validator)
    if field.allow_none:
        out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = out["enum"] + [None]
    return out


def object_schema(schema):
    """A marshmallow Schema (class or instance) -> an object schema, in field order."""
    if isinstance(schema, type) and issubclass(schema, Schema):
        schema = schema()
    properties, required = {}, []
    for name, field in schema.fields.items():
        key = field.data_key or name
        properties[key] = field_schema(field)
        if field.required:
            required.append(key)
    out = {"type": "object", "properties": properties}
    if required:
        out["required"] = required
    return out
