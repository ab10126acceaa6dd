import io
import warnings

import matplotlib
import pytest
import torch

from lmcourse import viz


def test_heatmap_labels_both_axes_and_annotates_small_matrices():
    ax = viz.heatmap(torch.tensor([[0.2, 0.8], [0.6, 0.4]]), ["cat", "sat"], ["the", "cat"], title="attention")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "sat"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["the", "cat"]
    assert ax.get_title() == "attention" and ax.get_xlabel() == "key" and ax.get_ylabel() == "query"
    assert sorted(t.get_text() for t in ax.texts) == ["0.20", "0.40", "0.60", "0.80"]
    assert ax.images[0].get_cmap().name == viz.CMAP


def test_heatmap_writes_counts_as_integers():
    ax = viz.heatmap([[19, 1], [3, 17]], ["pos", "neg"], ["pos", "neg"], fmt="d")
    assert sorted(t.get_text() for t in ax.texts) == ["1", "17", "19", "3"]


def test_heatmap_skips_numbers_on_big_matrices():
    ax = viz.heatmap(torch.rand(20, 20))
    assert len(ax.texts) == 0


@pytest.mark.parametrize("matrix, kwargs, message", [
    (torch.rand(2, 2, 2), {}, "matrix must be 2-D"),
    (torch.rand(2, 3), {"x_labels": ["a", "b"]}, "x_labels must have 3 entries"),
    (torch.rand(2, 3), {"y_labels": ["a"]}, "y_labels must have 2 entries"),
])
def test_heatmap_rejects_mismatched_input(matrix, kwargs, message):
    with pytest.raises(ValueError, match=message):
        viz.heatmap(matrix, **kwargs)


@pytest.mark.skipif(viz.cjk_font() is None, reason="no CJK font installed on this machine")
def test_chinese_labels_render_with_a_cjk_font_and_no_missing_glyphs():
    ax = viz.heatmap([[1.0, 0.0], [0.0, 1.0]], ["我", "爱"], ["I", "love"], title="对齐 alignment")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph … missing" when it would draw boxes
        ax.figure.savefig(io.BytesIO(), format="png")  # a real render: a bare Figure's canvas.draw() draws nothing
    assert [t.get_text() for t in ax.get_xticklabels()] == ["我", "爱"]


def test_without_a_cjk_font_labels_become_code_points_with_a_warning(monkeypatch):
    monkeypatch.setattr(viz, "cjk_font", lambda: None)
    with pytest.warns(UserWarning, match="no CJK font found"):
        assert viz.safe_label("我 love") == "U+6211 love"
    assert viz.safe_label("plain") == "plain"


def test_live_loss_plot_prints_lines_outside_a_notebook(capsys):
    plot = viz.LiveLossPlot(notebook=False)
    plot.update(10, train=2.5, val=2.75)
    plot.update(20, train=2.0)
    out = capsys.readouterr().out.splitlines()
    assert out == ["step     10 | train 2.5000 | val 2.7500", "step     20 | train 2.0000"]
    assert plot.history["train"] == ([10.0, 20.0], [2.5, 2.0])
    ax = plot.figure().axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["training batches (mean since last point)", "validation"]
    assert ax.get_title() == "training loss"


def test_live_loss_plot_legend_spells_other_series_names_with_spaces():
    plot = viz.LiveLossPlot(notebook=False)
    plot.update(1, held_out=3.0, not_copyable=2.0)
    assert [line.get_label() for line in plot.figure().axes[0].get_lines()] == ["held out", "not copyable"]


def test_live_loss_plot_needs_a_value():
    with pytest.raises(ValueError, match="update needs at least one named value"):
        viz.LiveLossPlot(notebook=False).update(1)


def test_course_style_uses_the_course_colour_map():
    viz.use_course_style()
    assert matplotlib.rcParams["image.cmap"] == viz.CMAP
