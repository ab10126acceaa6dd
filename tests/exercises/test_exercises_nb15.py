"""Notebook 15's checkers beyond their Mistakes: malformed answers, and a scrubber that does nothing."""

from lmcourse.exercises import nb15_responsibly as ex


def test_scrub_emails_catches_a_scrubber_that_does_nothing():
    result = ex.check_scrub_emails(lambda t: t)
    assert not result.passed and result.failed_case.startswith("'write to")
