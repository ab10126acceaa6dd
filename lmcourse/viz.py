"""Plots with one look across the course: style, labelled heatmaps, and a live loss plot.

Chinese labels need a CJK font. :func:`cjk_font` finds one that is installed (WenQuanYi
Micro Hei, Noto Sans CJK, PingFang, Microsoft YaHei, …) and adds it as a fallback, so Latin
text keeps the course font and Chinese characters still render. Where none is installed it
uses the one the course ships, ``fonts/wqy-microhei-gb2312.ttf``: WenQuanYi Micro Hei cut to
the 7,000-odd characters of everyday simplified Chinese (GB 2312), 2 MB instead of 5. A rarer
character drawn with it shows as a box and matplotlib warns "Glyph … missing"; installing a
full CJK font fixes that (:data:`INSTALL_HINT`). Only if even that file is gone are labels
shown as ``U+6211``-style codes, with a warning: never empty boxes.
"""

from __future__ import annotations

import functools
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib import font_manager
from matplotlib.figure import Figure

CMAP = "viridis"  # one colour map for every heatmap in the course
_CJK_FAMILIES = (
    "WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "PingFang SC",
    "Hiragino Sans GB", "Microsoft YaHei", "SimHei", "Heiti SC", "Arial Unicode MS",
)
_CJK_FILES = ("wqy-microhei", "wqy-zenhei", "notosanscjk", "notosanssc", "sourcehansans", "pingfang",
              "msyh", "simhei")
COURSE_FONT = Path(__file__).with_name("fonts") / "wqy-microhei-gb2312.ttf"  # Apache-2.0, see fonts/README.md
INSTALL_HINT = ("install a CJK font, e.g. `sudo apt-get install fonts-wqy-microhei` or `fonts-noto-cjk` "
                "(Debian/Ubuntu); macOS and Windows already have one")


@functools.lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The family name of a font that can draw Chinese: an installed one, else the course's own."""
    have = {f.name for f in font_manager.fontManager.ttflist}
    for family in _CJK_FAMILIES:
        if family in have:
            return family
    # Fonts installed after matplotlib built its cache are not in ttflist yet: register them.
    for path in font_manager.findSystemFonts():
        if any(key in path.lower().replace("-", "").replace("_", "") or key in path.lower()
               for key in _CJK_FILES):
            try:
                font_manager.fontManager.addfont(path)
                return font_manager.FontProperties(fname=path).get_name()
            except (OSError, RuntimeError, ValueError):
                continue
    if COURSE_FONT.exists():
        font_manager.fontManager.addfont(str(COURSE_FONT))
        return font_manager.FontProperties(fname=COURSE_FONT).get_name()
    return None


def _has_cjk(text: str) -> bool:
    return any("\u2e80" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" or "\uff00" <= ch <= "\uffef"
               for ch in text)


def safe_label(text: str) -> str:
    """``text`` itself when it can be drawn; CJK characters as ``U+XXXX`` when no CJK font exists."""
    text = str(text)
    if not _has_cjk(text) or cjk_font():
        return text
    warnings.warn(f"no CJK font found, Chinese labels are shown as code points; {INSTALL_HINT}",
                  stacklevel=3)
    return "".join(f"U+{ord(ch):04X}" if _has_cjk(ch) else ch for ch in text)


def _course_rc() -> dict:
    fonts = ["DejaVu Sans"] + ([cjk_font()] if cjk_font() else [])
    return {
        "figure.figsize": (7.0, 4.0),
        "figure.dpi": 100,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titlesize": "large",
        "figure.constrained_layout.use": True,
        "image.cmap": CMAP,
        "font.family": fonts,  # a list: matplotlib falls back glyph by glyph
        "axes.unicode_minus": False,
    }


def use_course_style() -> None:
    """Apply the course's matplotlib style (sizes, grid, fonts with a CJK fallback) globally.

    The helpers below use it anyway; call this so your own plots match them.
    """
    matplotlib.rcParams.update(_course_rc())
    _show_figures_inline()


def heatmap(matrix, x_labels: Sequence[str] | None = None, y_labels: Sequence[str] | None = None, *,
            ax=None, title: str | None = None, xlabel: str = "key", ylabel: str = "query",
            annotate: bool | None = None, vmin: float | None = None, vmax: float | None = None,
            colorbar: bool = True, cmap: str = CMAP, fmt: str = ".2f"):
    """Draw a 2-D matrix (e.g. attention weights, shape (T_q, T_k)) with token labels.

    ``matrix`` may be a tensor or array; ``x_labels`` name its columns (keys) and
    ``y_labels`` its rows (queries). Values are written in the cells when the matrix is
    small (``annotate=None`` decides), formatted with ``fmt`` (``"d"`` for counts such as a
    confusion matrix). Returns the matplotlib ``Axes``.
    """
    data = matrix.detach().cpu().float().numpy() if hasattr(matrix, "detach") else np.asarray(matrix, float)
    if data.ndim != 2:
        raise ValueError(f"matrix must be 2-D (rows, columns); got shape {tuple(data.shape)}")
    rows, cols = data.shape
    for name, labels, n in (("x_labels", x_labels, cols), ("y_labels", y_labels, rows)):
        if labels is not None and len(labels) != n:
            raise ValueError(f"{name} must have {n} entries to match the matrix; got {len(labels)}")
    _show_figures_inline()
    with matplotlib.rc_context(_course_rc()):
        if ax is None:
            fig = Figure(figsize=(max(3.5, 0.5 * cols + 2), max(3.0, 0.45 * rows + 1.5)))
            ax = fig.add_subplot()
        _draw_heatmap(ax, data, x_labels, y_labels, title, xlabel, ylabel, annotate, vmin, vmax,
                      colorbar, cmap, fmt)
    return ax


def _draw_heatmap(ax, data, x_labels, y_labels, title, xlabel, ylabel, annotate, vmin, vmax, colorbar, cmap, fmt):
    rows, cols = data.shape
    image = ax.imshow(data, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.grid(False)
    if x_labels is not None:
        tilt = cols > 10 or max(len(str(t)) for t in x_labels) > 3
        ax.set_xticks(range(cols), [safe_label(t) for t in x_labels], rotation=45 if tilt else 0,
                      ha="right" if tilt else "center")
    if y_labels is not None:
        ax.set_yticks(range(rows), [safe_label(t) for t in y_labels])
    if annotate is None:
        annotate = rows * cols <= 100
    if annotate:
        mid = (np.nanmax(data) + np.nanmin(data)) / 2
        for i in range(rows):
            for j in range(cols):
                value = int(round(data[i, j])) if fmt.endswith("d") else data[i, j]
                ax.text(j, i, f"{value:{fmt}}", ha="center", va="center", fontsize=8,
                        color="black" if data[i, j] > mid else "white")
    ax.set_xlabel(safe_label(xlabel))
    ax.set_ylabel(safe_label(ylabel))
    if title:
        ax.set_title(safe_label(title))
    if colorbar:
        ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)


def _shell():
    ipython = sys.modules.get("IPython")
    return ipython.get_ipython() if ipython else None


def _in_notebook() -> bool:
    return type(_shell()).__name__ == "ZMQInteractiveShell"


@functools.lru_cache(maxsize=1)
def _show_figures_inline() -> None:
    """Let a bare ``Figure`` (as returned here) display as an image in a notebook."""
    if _in_notebook():
        from IPython.core.pylabtools import select_figure_formats

        select_figure_formats(_shell(), {"png"})


class LiveLossPlot:
    """A loss curve that redraws as training goes, in place, in a notebook.

    ``plot.update(step, train=2.1, val=2.3)`` adds points for any named series. In a
    notebook one figure is updated in place; elsewhere (a script, a terminal) each update
    prints one text line instead, so the same training code works in both. The legend
    says what the series of :func:`lmcourse.train.train` are (``LEGEND``); other names are
    shown with spaces for underscores.
    """

    LEGEND = {"train": "training batches (mean since last point)", "val": "validation"}

    def __init__(self, title: str = "training loss", *, xlabel: str = "step", ylabel: str = "loss",
                 logy: bool = False, notebook: bool | None = None):
        self.title, self.xlabel, self.ylabel, self.logy = title, xlabel, ylabel, logy
        self.history: dict[str, tuple[list[float], list[float]]] = {}
        self.notebook = _in_notebook() if notebook is None else notebook
        self._handle = None

    def update(self, step: float, **values: float) -> None:
        """Record ``values`` (name=value, e.g. train=2.1) at ``step`` and redraw."""
        if not values:
            raise ValueError("update needs at least one named value, e.g. update(step, train=2.1)")
        for name, value in values.items():
            xs, ys = self.history.setdefault(name, ([], []))
            xs.append(float(step))
            ys.append(float(value))
        if self.notebook:
            self._draw()
        else:
            print(f"{self.xlabel} {step:>6} | " + " | ".join(f"{k} {float(v):.4f}" for k, v in values.items()),
                  flush=True)

    def figure(self) -> Figure:
        """The current curves as a matplotlib figure."""
        with matplotlib.rc_context(_course_rc()):
            fig = Figure(figsize=(7, 3.5))
            ax = fig.add_subplot()
            self._plot(ax)
        return fig

    def _plot(self, ax) -> None:
        for name, (xs, ys) in self.history.items():
            ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, markersize=3,
                    label=self.LEGEND.get(name, name.replace("_", " ")))
        ax.set(title=self.title, xlabel=self.xlabel, ylabel=self.ylabel)
        if self.logy:
            ax.set_yscale("log")
        if self.history:
            ax.legend()

    def _draw(self) -> None:
        from IPython.display import display

        _show_figures_inline()
        fig = self.figure()
        if self._handle is None:
            self._handle = display(fig, display_id=True)
        else:
            self._handle.update(fig)
