"""Chinese plot labels render on a machine with no CJK font installed, from the font the course ships.

Each check runs in a fresh Python whose matplotlib knows only its own fonts (DejaVu): every
installed font is dropped from the font list and the system search finds nothing, as on a
fresh machine where `apt-get install fonts-wqy-microhei` was never possible.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont

from lmcourse import viz

ROOT = Path(__file__).resolve().parents[2]
NO_INSTALLED_FONTS = """
import json, sys, warnings
import matplotlib
matplotlib.use("Agg")
from pathlib import Path
from matplotlib import font_manager
own = Path(matplotlib.get_data_path(), "fonts")
font_manager.fontManager.ttflist = [f for f in font_manager.fontManager.ttflist if Path(f.fname).is_relative_to(own)]
font_manager.findSystemFonts = lambda *args, **kwargs: []
"""
DRAW_CHINESE = NO_INSTALLED_FONTS + """
import io
from lmcourse import viz
import matplotlib.pyplot as plt
viz.use_course_style()
result = {"font": viz.cjk_font(), "families": plt.rcParams["font.family"]}
for name, xlabel in (("everyday", "词元 token"), ("rare", "我們")):  # 們 (traditional) is not in GB 2312
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ax = viz.heatmap([[1.0, 0.0], [0.0, 1.0]], ["我", "爱"], ["语言", "模型"], title="注意力 attention")
        ax.set_xlabel(xlabel)
        ax.figure.savefig(io.BytesIO(), format="png")  # draws every glyph (the figure has no canvas of its own)
    result[name] = [str(w.message) for w in caught]
print(json.dumps(result))
"""


def _run(code: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def drawn():
    return _run(DRAW_CHINESE)


def test_chinese_labels_render_from_the_course_font_when_none_is_installed(drawn):
    assert drawn["font"] == "WenQuanYi Micro Hei GB2312"
    assert drawn["families"] == ["DejaVu Sans", "WenQuanYi Micro Hei GB2312"]
    assert drawn["everyday"] == []


def test_a_character_outside_the_course_font_gives_matplotlibs_missing_glyph_warning(drawn):
    assert any("Glyph 20497" in w and "missing" in w for w in drawn["rare"]), drawn["rare"]


def test_without_the_course_font_chinese_would_be_missing_glyphs():
    # The same machine with neither an installed CJK font nor the course's: what the course font prevents.
    result = _run(NO_INSTALLED_FONTS + """
import matplotlib.pyplot as plt
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    fig, ax = plt.subplots()
    ax.set_title("注意力")
    fig.canvas.draw()
print(json.dumps({"warnings": [str(w.message) for w in caught]}))
""")
    assert any("Glyph" in w and "missing" in w for w in result["warnings"]), result["warnings"]


def test_the_course_font_covers_every_chinese_character_the_course_uses():
    cmap = TTFont(viz.COURSE_FONT)["cmap"].getBestCmap()
    used = set()
    for path in [*(ROOT / "notebooks").glob("*.ipynb"), *(ROOT / "lmcourse" / "glossary" / "terms").glob("*.tsv")]:
        used |= {ch for ch in path.read_text(encoding="utf-8") if viz._has_cjk(ch)}
    missing = sorted(ch for ch in used if ord(ch) not in cmap)
    assert len(used) > 100 and missing == [], f"rerun tools/subset_cjk_font.py; missing: {''.join(missing)}"
    assert viz.COURSE_FONT.stat().st_size < 2_000_000
