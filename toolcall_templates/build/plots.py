"""The card's plots, ``images/*.png``, drawn with matplotlib from the per-source statistics.

Reproducible bytes: figures are drawn with matplotlib's object API on the Agg canvas (no pyplot state, no GUI
backend), under matplotlib's default style whatever the user's ``matplotlibrc`` says, with a fixed size and dpi and
no ``Software`` metadata, so a rebuild with the same matplotlib writes the same bytes.
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .stats import SourceStats

IMAGE_DIR = "images"
WIDTH_INCHES = 9.0
DPI = 100
TOP_CATEGORIES = 7
"""Languages and formats beyond the most frequent ones are drawn together as "other"."""


@dataclass(frozen=True)
class Plot:
    """One image of the card: its file (relative to the dataset folder) and what it shows."""

    file: str
    title: str


def write_plots(root: Path, stats: list[SourceStats], *, tokenizer_name: str | None = None) -> list[Plot]:
    """Draw every plot into ``root/images``; the tokens-per-row plot only when token counts were sampled."""
    import matplotlib.style
    from matplotlib import rc_context

    labels = [f"{s.config} (eval)" if s.eval else s.config for s in stats]
    drawings = [
        ("turns_per_conversation", "Assistant turns per conversation (share of rows)",
         lambda ax: _stacked(ax, labels, [_buckets(s.turns_per_row, 6) for s in stats], "rows")),
        ("calls_per_assistant_turn", "Tool calls per assistant turn (share of assistant turns)",
         lambda ax: _stacked(ax, labels, [_buckets(s.calls_per_turn, 4) for s in stats], "assistant turns")),
        ("parallel_call_share", "Parallel-call share (tool-calling turns with several calls)",
         lambda ax: _bars(ax, labels, [100 * s.parallel_share for s in stats])),
        ("languages_per_source", "Languages per source (share of rows)",
         lambda ax: _stacked(ax, labels, _top([s.languages for s in stats]), "rows")),
        ("formats_per_source", "Source formats per source (share of rows)",
         lambda ax: _stacked(ax, labels, _top([s.formats for s in stats]), "rows")),
    ]
    if any(s.token_counts for s in stats):
        drawings.insert(3, ("tokens_per_row", f"Tokens per row under {tokenizer_name} (sampled rows)",
                            lambda ax: _boxes(ax, labels, [s.token_counts for s in stats])))
    folder = root / IMAGE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    plots = []
    with warnings.catch_warnings(), matplotlib.style.context("default"), rc_context({"svg.hashsalt": "toolcall"}):
        warnings.simplefilter("ignore")  # glyphs a config name uses that the bundled font lacks
        for name, title, draw in drawings:
            _save(folder / f"{name}.png", title, len(labels), draw)
            plots.append(Plot(f"{IMAGE_DIR}/{name}.png", title))
    return plots


def _save(path: Path, title: str, rows: int, draw) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_INCHES, 1.6 + 0.38 * rows), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    draw(axes)
    axes.set_title(title, loc="left", fontsize=11)
    axes.invert_yaxis()  # the first source on top, as in the statistics table
    figure.savefig(path, format="png", dpi=DPI, metadata={"Software": None})


def _buckets(counter: Counter, last: int) -> dict[str, int]:
    """Counts of 0, 1, ... ``last - 1`` and ``last+`` (an integer-valued counter as ordered buckets)."""
    buckets = {str(value): counter.get(value, 0) for value in range(last)}
    buckets[f"{last}+"] = sum(count for value, count in counter.items() if value >= last)
    return buckets


def _top(counters: list[Counter]) -> list[dict[str, int]]:
    """Per source, the counts of the most frequent categories overall (the rest as ``other``)."""
    overall = sum(counters, Counter())
    keep = [name for name, _ in sorted(overall.items(), key=lambda item: (-item[1], item[0]))[:TOP_CATEGORIES]]
    rows = []
    for counter in counters:
        row = {name: counter.get(name, 0) for name in keep}
        other = sum(count for name, count in counter.items() if name not in keep)
        if other or len(overall) > len(keep):
            row["other"] = other
        rows.append(row)
    return rows


def _stacked(axes, labels: list[str], rows: list[dict[str, int]], unit: str) -> None:
    """One 100% bar per source, split by category."""
    categories = list(rows[0]) if rows else []
    colors = _colors(len(categories))
    left = [0.0] * len(labels)
    for index, category in enumerate(categories):
        shares = [100 * row[category] / max(sum(row.values()), 1) for row in rows]
        axes.barh(labels, shares, left=left, color=colors[index], label=category, height=0.7)
        left = [a + b for a, b in zip(left, shares)]
    axes.set_xlim(0, 100)
    axes.set_xlabel(f"% of {unit}")
    axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)


def _bars(axes, labels: list[str], values: list[float]) -> None:
    axes.barh(labels, values, color=_colors(1)[0], height=0.7)
    for position, value in enumerate(values):
        axes.annotate(f"{value:.1f}%", (value, position), xytext=(3, 0), textcoords="offset points", va="center",
                      fontsize=8)
    axes.set_xlim(0, max(100.0, *values) if values else 100.0)
    axes.set_xlabel("% of tool-calling assistant turns")


def _boxes(axes, labels: list[str], samples: list[list[int]]) -> None:
    present = [(label, sample) for label, sample in zip(labels, samples) if sample]
    axes.boxplot([sample for _, sample in present], orientation="horizontal", tick_labels=[l for l, _ in present],
                 showfliers=False, widths=0.6)
    axes.set_xlabel("tokens per row (chat template with tools)")


def _colors(count: int) -> list:
    from matplotlib import colormaps

    palette = colormaps["tab10" if count <= 10 else "tab20"]
    return [palette(index % palette.N) for index in range(count)]
