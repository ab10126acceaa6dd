"""Self-checking exercises: one module of checkers per notebook, on a shared core.

The checkers of ``notebooks/NN_topic.ipynb`` are ``nbNN_topic.py`` here (a module name cannot start
with a digit), as its key terms are ``glossary/terms/NN_topic.tsv`` and its teaching notes
``docs/instructor/NN_topic.md``. In a notebook::

    from lmcourse.exercises import nb00_welcome as ex
    ex.check_count_pairs(count_pairs)   # prints ✔ or a specific hint

The shared core (:mod:`lmcourse.exercises.checking`) is what a new checker is built from.
"""

from .checking import Case, Mistake, Result, Rule, check_function, check_rules, check_value, probed, same  # noqa: F401
