"""The outcome chart read back as a clinician would: where the cut-off line and
the reliable-change band are drawn against the y axis, what the legend says,
and that no band of the image is left empty."""
import io
import re
import xml.etree.ElementTree as ET

from matplotlib.image import imread

from services.intake.adapters.chart import render

SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}"


def point(at, total, category=None, rci=None):
    return {"assessment_id": f"a-{at}", "assessed_at": at, "kind": "reassessment",
            "total": total, "severity": "", "difference": None, "rci": rci,
            "category": category, "response": None, "remission": None}


PHQ9 = {
    "instrument": "PHQ-9", "instrument_version": 1, "name": "Patient Health Questionnaire-9",
    "min_total": 0, "max_total": 27, "higher_is_worse": True, "cut_off": 10,
    "reliable_change_threshold": 6,
    "bands": [{"low": 0, "high": 4, "label": "minimal"}, {"low": 5, "high": 9, "label": "mild"},
              {"low": 10, "high": 14, "label": "moderate"},
              {"low": 15, "high": 19, "label": "moderately severe"},
              {"low": 20, "high": 27, "label": "severe"}],
    "baseline": {"assessment_id": "a-1", "total": 15, "assessed_at": "2026-01-10T10:00:00Z"},
    "latest_category": "recovered",
    "points": [point("2026-01-10T10:00:00Z", 15),
               point("2026-02-10T10:00:00Z", 10, "no_reliable_change", -1.63),
               point("2026-03-10T10:00:00Z", 3, "recovered", -3.92)]}
WELLBEING = {  # higher is better: the clinical range lies below the cut-off
    **PHQ9, "instrument": "WB-4", "name": "Wellbeing", "min_total": 0, "max_total": 40,
    "higher_is_worse": False, "cut_off": 25, "reliable_change_threshold": 10,
    "bands": [{"low": 0, "high": 24, "label": "clinical"},
              {"low": 25, "high": 40, "label": "non-clinical"}],
    "baseline": {"assessment_id": "a-1", "total": 18, "assessed_at": "2026-01-10T10:00:00Z"},
    "points": [point("2026-01-10T10:00:00Z", 18),
               point("2026-03-10T10:00:00Z", 31, "recovered", 2.5)]}


def svg_of(course):
    return ET.fromstring(render(course, "svg").get_data())


def group(root, gid):
    (found,) = [g for g in root.iter(f"{SVG}g") if g.get("id") == gid]
    return found


def ys_of(element):
    """The y coordinates of the points of the first path in an element."""
    d = element.find(f".//{SVG}path").get("d")
    return [float(y) for _, y in re.findall(r"([-\d.]+) ([-\d.]+)", d)]


def total_at(root):
    """y in the SVG -> the total the y axis says is there (from two labelled ticks)."""
    ticks = []
    for g in root.iter(f"{SVG}g"):
        if (g.get("id") or "").startswith("ytick_"):
            y = float(g.find(f".//{SVG}use").get("y"))
            ticks.append((y, float(g.find(f".//{SVG}text").text)))
    (y0, v0), (y1, v1) = ticks[0], ticks[-1]
    return lambda y: v0 + (y - y0) * (v1 - v0) / (y1 - y0)


def legend_texts(root):
    return [t.text for t in root.iter(f"{SVG}text") if t.text]


def test_the_cut_off_line_is_where_its_legend_says_and_where_the_band_changes():
    root = svg_of(PHQ9)
    value = total_at(root)
    (y,) = set(ys_of(group(root, "cut-off")))
    (label,) = [t for t in legend_texts(root) if t.startswith("clinical cut-off")]
    assert label == "clinical cut-off 10 (10 and above: clinical)"
    assert abs(value(y) - 10) < 0.01
    # The moderate band (10-14), the first of the clinical range, begins on the line.
    assert abs(max(ys_of(group(root, "band-10"))) - y) < 0.01


def test_the_cut_off_of_an_instrument_where_higher_is_better():
    root = svg_of(WELLBEING)
    (y,) = set(ys_of(group(root, "cut-off")))
    assert abs(total_at(root)(y) - 25) < 0.01
    assert "clinical cut-off 25 (below 25: clinical)" in legend_texts(root)


def test_the_reliable_change_band_is_visible_labelled_and_as_wide_as_the_threshold():
    root = svg_of(PHQ9)
    value = total_at(root)
    band = group(root, "reliable-change-band")
    edges = sorted(round(value(y), 2) for y in set(ys_of(band)))
    assert edges == [9, 21]  # baseline 15 -/+ 6: the first reliable changes
    style = dict(part.strip().split(": ") for part in
                 band.find(f"{SVG}path").get("style").split(";") if part.strip())
    assert float(style["fill-opacity"]) >= 0.2 and style["stroke"] != "none"
    assert "no reliable change (< 6 points from the baseline)" in legend_texts(root)


def test_no_empty_band_at_the_bottom_of_the_image():
    pixels = imread(io.BytesIO(render(PHQ9, "png").get_data()))
    height = pixels.shape[0]
    blank = [bool((row[:, :3] > 0.98).all()) for row in pixels[height - height // 5:]]
    longest, run = 0, 0
    for is_blank in blank:
        run = run + 1 if is_blank else 0
        longest = max(longest, run)
    assert longest < height * 0.05, f"{longest} blank rows in the bottom fifth"
    assert not all(blank[-height // 10:]), "the last tenth of the image is empty"


def test_a_course_of_one_assessment_still_draws():
    root = svg_of({**PHQ9, "points": PHQ9["points"][:1], "latest_category": None})
    assert group(root, "cut-off") is not None
