"""What a request says about where it acts: the organisation_id and clinic_id it
names in its query string or JSON body. These only ever narrow a request (403
for one the token lacks, 404 for a record elsewhere); the record's own
organisation and clinic always come from intake's store."""
import json

NAMES = ("organisation_id", "clinic_id")


def named_scope(request):
    """[(name, value)] of every organisation_id and clinic_id the request carries."""
    sources = [request.args]
    try:
        body = json.loads(request.get_data(as_text=True) or "null")
    except ValueError:
        body = None  # load_body answers 400 later, once tenancy has been decided
    if isinstance(body, dict):
        sources.append(body)
    return [(name, str(source[name])) for source in sources for name in NAMES
            if source.get(name) is not None]
