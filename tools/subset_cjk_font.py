"""Make lmcourse/fonts/wqy-microhei-gb2312.ttf: WenQuanYi Micro Hei cut down to everyday Chinese.

The subset keeps printable ASCII, every character of GB 2312 (the 6,763 hanzi and 682 symbols of
everyday simplified Chinese) and every CJK character the course's own files use, drops the
OpenType layout and vertical-metrics tables (matplotlib uses neither) and renames the family
to "WenQuanYi Micro Hei GB2312", so it is never mistaken for the full font. It goes from 5.2 MB
to about 2 MB. Source: Debian's fonts-wqy-microhei (0.2.0-beta), used under Apache-2.0.

    apt-get download fonts-wqy-microhei && dpkg-deb -x fonts-wqy-microhei_*.deb wqy
    python tools/subset_cjk_font.py wqy/usr/share/fonts/truetype/wqy/wqy-microhei.ttc
"""

import re
import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "lmcourse" / "fonts" / "wqy-microhei-gb2312.ttf"
FAMILY = "WenQuanYi Micro Hei GB2312"
CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]")


def gb2312() -> set[str]:
    chars = set()
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.add(bytes([hi, lo]).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    return chars


def course_characters() -> set[str]:
    chars = set()
    for folder in ("lmcourse", "notebooks", "docs"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in {".py", ".ipynb", ".tsv", ".md", ".txt", ".json"} and "vendor" not in path.parts:
                chars |= set(CJK.findall(path.read_text(encoding="utf-8", errors="ignore")))
    return chars


def main(source: str) -> None:
    font = TTCollection(source).fonts[0]  # WenQuanYi Micro Hei (index 1 is its Mono face)
    options = subset.Options()
    options.layout_features = []
    options.drop_tables += ["vhea", "vmtx", "FFTM"]
    options.name_IDs = ["*"]
    subsetter = subset.Subsetter(options)
    chars = {chr(c) for c in range(0x20, 0x7F)} | gb2312() | course_characters()
    subsetter.populate(unicodes=sorted(map(ord, chars)))
    subsetter.subset(font)
    for record in font["name"].names:
        if record.nameID in (1, 4, 16, 18):  # family, full name, typographic and Mac family
            record.string = FAMILY
        elif record.nameID == 10:            # description: say what was changed (Apache-2.0, 4b)
            record.string = (f"{FAMILY}: WenQuanYi Micro Hei 0.2.0-beta, subset by lmcourse to ASCII, "
                             "GB 2312 and the course's own characters, layout tables removed.")
        elif record.nameID == 6:             # PostScript name
            record.string = FAMILY.replace(" ", "")
        elif record.nameID == 3:             # unique id
            record.string = f"{FAMILY}; subset for lmcourse"
    OUT.parent.mkdir(exist_ok=True)
    font.save(OUT)
    print(f"{OUT.relative_to(ROOT)}: {len(chars)} characters, {OUT.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main(sys.argv[1])
