"""Notebook 06's checkers beyond their Mistakes: the package's table and other ways to split heads are right."""

from lmcourse.exercises import nb06_multihead_attention as ex
from lmcourse.positions import sinusoidal_table


def test_package_table_passes_the_sinusoidal_checker():
    assert ex.check_sinusoidal_table(sinusoidal_table).passed


def test_split_heads_by_unflatten_or_view_then_transpose_both_pass():
    assert ex.check_split_heads(lambda x, n: x.unflatten(-1, (n, -1)).transpose(1, 2)).passed
    assert ex.check_split_heads(lambda x, n: x.view(*x.shape[:2], n, -1).transpose(1, 2).contiguous()).passed
