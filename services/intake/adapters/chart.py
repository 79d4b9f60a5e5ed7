"""The outcome trajectory of one instrument as a chart a clinician can read:
scores over time, severity bands shaded, the clinical cut-off, the baseline
and the reliable-change band around it, each reassessment marked by its
change category. SVG or PNG, drawn by matplotlib's Agg backend (no display)."""
import io
import os
import tempfile
from datetime import timedelta

os.environ.setdefault("MPLCONFIGDIR", os.path.join(tempfile.gettempdir(), "praxis-matplotlib"))

import matplotlib  # noqa: E402

matplotlib.use("Agg")

from matplotlib.dates import AutoDateLocator, ConciseDateFormatter  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402  (no pyplot: no global state)
from werkzeug.wrappers import Response  # noqa: E402

from shared.timeutil import parse_time  # noqa: E402

from ..domain.change import (  # noqa: E402
    NO_RELIABLE_CHANGE, RECOVERED, RELIABLY_DETERIORATED, RELIABLY_IMPROVED)

MIMETYPES = {"svg": "image/svg+xml", "png": "image/png"}
# Band shading from the least to the most severe (lightest to strongest).
BAND_COLOURS = ("#e8f5e9", "#fffde7", "#fff3e0", "#ffe0b2", "#ffcdd2", "#ef9a9a", "#e57373")
MARKERS = {
    None: ("o", "#455a64", "baseline"),
    RECOVERED: ("*", "#1b5e20", "recovered"),
    RELIABLY_IMPROVED: ("v", "#2e7d32", "reliably improved"),
    NO_RELIABLE_CHANGE: ("o", "#757575", "no reliable change"),
    RELIABLY_DETERIORATED: ("^", "#c62828", "reliably deteriorated"),
}


def render(course, fmt="svg"):
    """A werkzeug Response holding the chart of one instrument's course.

    Totals are whole numbers: a band [low, high] is shaded from low up to
    high + 1, so every boundary (and the cut-off, the first total of the
    clinical range, or of the non-clinical one when higher is better) sits on
    the value that begins what lies above it.
    """
    # Constrained layout sizes the plot around title, labels and the legend
    # below it: no empty margin. SVG text stays text (searchable, testable).
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        figure = Figure(figsize=(8, 4.5), dpi=100, layout="constrained")
        axes = figure.add_subplot()
        _draw(axes, course)
        if course.get("alliance"):
            _draw_alliance(axes, course["alliance"])
        figure.legend(loc="outside lower center", ncol=2, fontsize=7, frameon=False)
        buffer = io.BytesIO()
        figure.savefig(buffer, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    return Response(buffer.getvalue(), mimetype=MIMETYPES[fmt])


def _draw(axes, course):
    low, high = course["min_total"], course["max_total"]
    bottom, top = low - 0.5, high + 0.5
    bands = course["bands"] if course["higher_is_worse"] else list(reversed(course["bands"]))
    for index, band in enumerate(bands):
        colour = BAND_COLOURS[min(index, len(BAND_COLOURS) - 1)]
        start = band["low"] if band["low"] > low else bottom
        end = band["high"] + 1 if band["high"] < high else top
        axes.axhspan(start, end, color=colour, linewidth=0, zorder=0, gid=f"band-{band['low']}")
        axes.text(1.01, (start + end) / 2, band["label"], fontsize=7, va="center",
                  transform=axes.get_yaxis_transform(), color="#546e7a")

    times = [parse_time(p["assessed_at"]) for p in course["points"]]
    totals = [p["total"] for p in course["points"]]
    baseline = course["baseline"]["total"]
    threshold = course["reliable_change_threshold"]
    # Within the band a change is not reliable; its edges are the first reliable totals.
    axes.axhspan(max(bottom, baseline - threshold), min(top, baseline + threshold),
                 facecolor=(0.10, 0.31, 0.55, 0.22), edgecolor="#1a4f8b", linewidth=1.0,
                 zorder=1, gid="reliable-change-band",
                 label=f"no reliable change (< {threshold} points from the baseline)")
    axes.axhline(baseline, color="#37474f", linestyle=":", linewidth=1.2, zorder=2,
                 gid="baseline", label=f"baseline {baseline}")
    cut_off = course["cut_off"]
    clinical = f"{cut_off} and above" if course["higher_is_worse"] else f"below {cut_off}"
    axes.axhline(cut_off, color="#b71c1c", linestyle="--", linewidth=1.2, zorder=2,
                 gid="cut-off", label=f"clinical cut-off {cut_off} ({clinical}: clinical)")
    axes.plot(times, totals, color="#263238", linewidth=1.5, zorder=3)
    seen = set()
    for when, point in zip(times, course["points"]):
        marker, colour, label = MARKERS.get(point["category"], MARKERS[NO_RELIABLE_CHANGE])
        axes.scatter([when], [point["total"]], marker=marker, s=90 if marker == "*" else 55,
                     color=colour, edgecolors="white", linewidths=0.8, zorder=4,
                     label=None if label in seen else label)
        seen.add(label)
        if point["rci"] is not None:
            axes.annotate(f"RCI {point['rci']:+.2f}", (when, point["total"]),
                          textcoords="offset points", xytext=(0, 9), ha="center", fontsize=7)
    axes.set_ylim(bottom, top)
    if min(times) == max(times):  # one date: a fortnight around it, not a zero-width axis
        axes.set_xlim(min(times) - timedelta(days=7), max(times) + timedelta(days=7))
    # Ticks where the bands begin, so the cut-off and the boundaries can be read off.
    axes.set_yticks(sorted({low, high, cut_off} | {b["low"] for b in course["bands"]}))
    locator = AutoDateLocator(maxticks=8)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    axes.set_ylabel(f"{course['instrument']} total")
    axes.set_title(f"{course['instrument']} ({course['name']}): change against the baseline",
                   fontsize=10)
    axes.grid(axis="y", color="white", linewidth=0.6)


def _draw_alliance(axes, points):
    """The alliance ratings on a second axis, with the measure's concern line: a falling
    or low alliance beside a stalled outcome is what the overlay is for."""
    twin = axes.twinx()
    times = [parse_time(p["rated_at"]) for p in points]
    totals = [p["total"] for p in points]
    twin.plot(times, totals, color="#6a1b9a", linewidth=1.2, linestyle="-", marker="D",
              markersize=4, zorder=5, gid="alliance", label=f"alliance ({points[-1]['instrument']})")
    concern = points[-1]["concern_below"]
    if concern is not None:
        twin.axhline(concern, color="#6a1b9a", linestyle=":", linewidth=1.0, gid="alliance-concern",
                     label=f"alliance concern below {concern}")
    highest = points[-1]["highest_total"]
    if highest is not None:
        twin.set_ylim(0, highest + 0.5)
    twin.set_ylabel(f"{points[-1]['instrument']} total (alliance)", color="#6a1b9a")
