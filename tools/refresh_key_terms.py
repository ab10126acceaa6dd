"""Re-render the stored output of each notebook's key-terms cell from lmcourse.glossary.

The cell is `glossary.key_terms("NN")`; its output is deterministic, so it is rewritten in place
(text/html and text/plain) without running the notebook. Nothing else in the notebook changes,
and each file is replaced whole (written beside it, then renamed).

    python tools/refresh_key_terms.py notebooks/*.ipynb        # rewrite
    python tools/refresh_key_terms.py --check notebooks/*.ipynb  # exit 1 if any is stale
"""

import argparse
import re
import sys

import nbformat

from lmcourse import glossary
from lmcourse._files import atomic_write

KEY_TERMS = re.compile(r"""glossary\.key_terms\(\s*["'](\d+)["']\s*\)""")


def refresh(nb: nbformat.NotebookNode) -> int:
    """Rewrite the key-terms outputs of ``nb`` in place; the number of outputs that changed."""
    changed = 0
    for cell in nb.cells:
        match = cell.cell_type == "code" and KEY_TERMS.search(cell.source)
        if not match:
            continue
        table = glossary.key_terms(match.group(1))
        fresh = {"text/html": table._repr_html_(), "text/plain": str(table)}
        for output in cell.outputs:
            if output.output_type == "execute_result" and dict(output.data) != fresh:
                output.data = nbformat.from_dict(fresh)
                changed += 1
    return changed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+")
    parser.add_argument("--check", action="store_true", help="only report stale outputs")
    args = parser.parse_args(argv)
    stale = 0
    for path in args.notebooks:
        nb = nbformat.read(path, as_version=4)
        changed = refresh(nb)
        stale += changed
        if changed and not args.check:
            atomic_write(path, lambda tmp, nb=nb: nbformat.write(nb, tmp))
        print(f"{path}: {changed} key-terms output(s) {'stale' if args.check else 'rewritten'}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
