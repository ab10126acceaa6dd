"""Notebook 10's checkers beyond their Mistakes: the package's schedule, unfinished and non-callable answers."""

from lmcourse.exercises import nb10_training_like_the_pros as ex
from lmcourse.schedules import warmup_cosine_lambda


def test_the_package_schedule_scaled_to_max_lr_passes():
    assert ex.check_lr_at(lambda s, hi, lo, w, t: hi * warmup_cosine_lambda(w, t, lo / hi)(s)).passed
