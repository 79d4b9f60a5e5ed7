"""shared/fhir.py: Praxis ids become FHIR ids one to one."""
import re

from hypothesis import given, strategies as st

from shared.fhir import fhir_id, searchset, without_empty

FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
PRAXIS_IDS = st.text(alphabet="abcXYZ019._@:|-", min_size=1, max_size=120)


@given(PRAXIS_IDS, PRAXIS_IDS)
def test_every_praxis_id_is_a_fhir_id_and_distinct_ids_stay_distinct(one, other):
    assert FHIR_ID.fullmatch(fhir_id(one))
    assert (fhir_id(one) == fhir_id(other)) == (one == other)


def test_the_encoding_keeps_plain_ids_and_escapes_the_rest():
    assert fhir_id("6b1f0c8e-0f3a-4d5e") == "6b1f0c8e-0f3a-4d5e"
    assert fhir_id("clinician_1") == "clinician.5F1"
    assert fhir_id("a.b") == "a.2Eb"  # '.' is the escape, so it is escaped too


def test_empty_values_go_and_a_bundle_lists_each_resource():
    assert without_empty({"a": None, "b": [], "c": {"d": ""}, "e": [0, None], "f": False}) \
        == {"e": [0], "f": False}
    bundle = searchset([{"resourceType": "Patient", "id": "p1"}])
    assert bundle["total"] == 1 and bundle["entry"][0]["fullUrl"].endswith("/Patient/p1")


def test_every_item_reads_every_page_of_a_list():
    from shared.paging import MAX_LIMIT, every_item

    items = list(range(2 * MAX_LIMIT + 5))
    asked = []

    def fetch(query):
        asked.append(query["offset"])
        chunk = items[query["offset"]:query["offset"] + query["limit"]]
        following = query["offset"] + len(chunk)
        return {"things": chunk, "next": following if following < len(items) else None}
    assert every_item("things", fetch) == items
    assert asked == [0, MAX_LIMIT, 2 * MAX_LIMIT]
