"""The outcome trajectory of one instrument as a chart a clinician can read:
scores over time, severity bands shaded, the clinical cut-off, the baseline
and the reliable-change band around it, each reassessment marked by its
change category. SVG or PNG, drawn by matplotlib's Agg backend (no display)."""
import io
import os
import tempfile

os.environ.setdefault("MPLCONFIGDIR", os.path.join(tempfile.gettempdir(), "praxis-matplotlib"))

import matplotlib  # noqa: E402

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402  (no pyplot: no global state)
from werkzeug.wrappers import Response  # noqa: E402

from shared.timeutil import parse_time  # noqa: E402

MIMETYPES = {"svg": "image/svg+xml", "png": "image/png"}
# Band shading from the least to the most severe (lightest to strongest).
BAND_COLOURS = ("#e8f5e9", "#fffde7", "#fff3e0", "#ffe0b2", "#ffcdd2", "#ef9a9a", "#e57373")
MARKERS = {
    None: ("o", "#455a64", "baseline"),
    "recovered": ("*", "#1b5e20", "recovered"),
    "reliably_improved": ("v", "#2e7d32", "reliably improved"),
    "no_reliable_change": ("o", "#757575", "no reliable change"),
    "reliably_deteriorated": ("^", "#c62828", "reliably deteriorated"),
}


def render(course, fmt="svg"):
    """A werkzeug Response holding the chart of one instrument's course."""
    figure = Figure(figsize=(8, 4.5), dpi=100)
    axes = figure.add_subplot()
    low, high = course["min_total"], course["max_total"]
    bands = course["bands"] if course["higher_is_worse"] else list(reversed(course["bands"]))
    for index, band in enumerate(bands):
        colour = BAND_COLOURS[min(index, len(BAND_COLOURS) - 1)]
        axes.axhspan(band["low"] - 0.5 if band["low"] > low else low,
                     band["high"] + 0.5 if band["high"] < high else high,
                     color=colour, zorder=0)
        axes.text(1.01, (band["low"] + band["high"]) / 2, band["label"], fontsize=7,
                  va="center", transform=axes.get_yaxis_transform(), color="#546e7a")

    times = [parse_time(p["assessed_at"]) for p in course["points"]]
    totals = [p["total"] for p in course["points"]]
    baseline = course["baseline"]["total"]
    threshold = course["reliable_change_threshold"]
    axes.axhspan(max(low, baseline - threshold + 0.5), min(high, baseline + threshold - 0.5),
                 color="#90a4ae", alpha=0.18, zorder=1,
                 label=f"no reliable change (< {threshold} points)")
    axes.axhline(baseline, color="#37474f", linestyle=":", linewidth=1.2, zorder=2,
                 label=f"baseline {baseline}")
    axes.axhline(course["cut_off"] - 0.5,  # between the last total outside and the first inside
                 color="#b71c1c", linestyle="--", linewidth=1.2, zorder=2,
                 label=f"clinical cut-off {course['cut_off']}")
    axes.plot(times, totals, color="#263238", linewidth=1.5, zorder=3)
    seen = set()
    for when, point in zip(times, course["points"]):
        marker, colour, label = MARKERS.get(point["category"], MARKERS["no_reliable_change"])
        axes.scatter([when], [point["total"]], marker=marker, s=90 if marker == "*" else 55,
                     color=colour, edgecolors="white", linewidths=0.8, zorder=4,
                     label=None if label in seen else label)
        seen.add(label)
        if point["rci"] is not None:
            axes.annotate(f"RCI {point['rci']:+.2f}", (when, point["total"]),
                          textcoords="offset points", xytext=(0, 9), ha="center", fontsize=7)
    axes.set_ylim(low - 0.5, high + 0.5)
    axes.set_ylabel(f"{course['instrument']} total")
    axes.set_title(f"{course['instrument']} ({course['name']}): change against the baseline",
                   fontsize=10)
    axes.grid(axis="y", color="white", linewidth=0.6)
    axes.legend(loc="upper left", bbox_to_anchor=(0, -0.30), ncol=3, fontsize=7, frameon=False)
    figure.autofmt_xdate(rotation=25)
    figure.subplots_adjust(right=0.84, bottom=0.40)
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    return Response(buffer.getvalue(), mimetype=MIMETYPES[fmt])
