"""Is a change to a published event schema additive? Old JSON Schema vs new.

Within a type and version, the contract may only grow: an event stored or
published under the old schema must still be valid under the new one, and no
field a subscriber reads may disappear or stop being guaranteed. So, breaking:

- a property removed (a rename is a removal and an addition);
- its type changed (only widening is fine: null allowed, integer to number),
  or its format changed;
- a property made required, or a new property that is required;
- a required property made optional (subscribers relied on it);
- an enum narrowed (or added); a pattern changed (or added);
- a bound tightened: maxLength/maxItems/maximum lowered, minLength/minItems/
  minimum raised, or any of them added;
- unknown properties refused (additionalProperties false added).

Anything else (a new optional property, a wider enum, a looser bound, a new
description) is additive. A breaking change is a new version (`.v2`) with an
upcaster from the old one (shared/registry.py); see `version_problems`.
"""

UPPER = ("maxLength", "maxItems", "maximum", "exclusiveMaximum", "maxProperties")
LOWER = ("minLength", "minItems", "minimum", "exclusiveMinimum", "minProperties")
# Widening a type: an old value of the first is a value of the second.
WIDER = {("integer", "number")}


def _types(schema):
    value = schema.get("type")
    if value is None:
        return None  # anything
    return {value} if isinstance(value, str) else set(value)


def breaking_changes(old, new, path="data"):
    """[human-readable breaking change] between two JSON Schemas; [] when additive."""
    found = []
    old_types, new_types = _types(old), _types(new)
    if old_types is None and new_types is not None:
        found.append(f"{path}: retyped from any to {sorted(new_types)}")
    if old_types is not None:
        lost = set() if new_types is None else {
            t for t in old_types
            if t not in new_types and not any((t, w) in WIDER for w in new_types)}
        if lost:
            found.append(f"{path}: retyped from {sorted(old_types)} to {sorted(new_types)}")
    if old.get("format") != new.get("format") and new.get("format") is not None:
        found.append(f"{path}: format changed from {old.get('format')!r} "
                     f"to {new.get('format')!r}")
    if "enum" in new:
        if "enum" not in old:
            found.append(f"{path}: enum added {new['enum']!r}")
        else:
            gone = [v for v in old["enum"] if v not in new["enum"]]
            if gone:
                found.append(f"{path}: enum narrowed, {gone!r} no longer allowed")
    if "const" in new and old.get("const") != new["const"]:
        found.append(f"{path}: const changed to {new['const']!r}")
    if "pattern" in new and old.get("pattern") != new["pattern"]:
        found.append(f"{path}: pattern changed from {old.get('pattern')!r} "
                     f"to {new['pattern']!r}")
    for key in UPPER:
        if key in new and (key not in old or new[key] < old[key]):
            found.append(f"{path}: {key} lowered from {old.get(key, 'none')} to {new[key]}")
    for key in LOWER:
        if key in new and (key not in old or new[key] > old[key]):
            found.append(f"{path}: {key} raised from {old.get(key, 'none')} to {new[key]}")

    old_properties, new_properties = old.get("properties", {}), new.get("properties", {})
    old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
    for name, old_property in old_properties.items():
        where = f"{path}.{name}"
        if name not in new_properties:
            found.append(f"{where}: removed")
            continue
        found += breaking_changes(old_property, new_properties[name], where)
        if name in old_required and name not in new_required:
            found.append(f"{where}: no longer required")
    for name in sorted(new_required - old_required):
        where = f"{path}.{name}"
        if name in old_properties:
            found.append(f"{where}: made required")
        else:
            found.append(f"{where}: added as required (a new field must be optional)")
    if "items" in old and "items" in new:
        found += breaking_changes(old["items"], new["items"], f"{path}[]")
    old_extra, new_extra = old.get("additionalProperties"), new.get("additionalProperties")
    if new_extra is False and old_extra is not False:
        found.append(f"{path}: unknown properties refused")
    elif isinstance(old_extra, dict) and isinstance(new_extra, dict):
        found += breaking_changes(old_extra, new_extra, f"{path}.*")
    elif old_extra is None and isinstance(new_extra, dict):
        found += [f"{path}.*: {change}" for change in breaking_changes({}, new_extra, "")]
    if isinstance(new.get("propertyNames"), dict):
        found += breaking_changes(old.get("propertyNames", {}), new["propertyNames"],
                                  f"{path} keys")
    return found


def version_problems(registry):
    """Every older version of a type needs an upcaster to the next one: without it
    a consumer cannot read the stored events of that version."""
    problems = []
    latest = {}
    for spec in registry.specs():
        latest[(spec.service, spec.name)] = max(latest.get((spec.service, spec.name), 0),
                                                spec.version)
    for (service, name), newest in sorted(latest.items()):
        for version in range(1, newest):
            if not registry.has_version(service, name, version):
                problems.append(f"{service}.{name}.v{version}: missing (versions count "
                                f"up from 1 to v{newest})")
            if not registry.has_upcaster(service, name, version):
                problems.append(f"{service}.{name}.v{version}: no upcaster to "
                                f"v{version + 1}")
    return problems
