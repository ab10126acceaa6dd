"""Self-checking exercises: one module of checkers per notebook, on a shared core.

In a notebook::

    from lmcourse.exercises import nb00_welcome as ex
    ex.check_count_pairs(count_pairs)   # prints ✔ or a specific hint

The shared core (:mod:`lmcourse.exercises.checking`) is what a new checker is built from.
"""

from .checking import Case, Mistake, Result, check_function, check_value, same

__all__ = ["Case", "Mistake", "Result", "check_function", "check_value", "same"]
