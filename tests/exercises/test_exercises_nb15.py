"""Notebook 15's checkers beyond their Mistakes: malformed answers, and a scrubber that does nothing."""

from lmcourse.exercises import nb15_responsibly as ex


def test_unfinished_and_non_function_answers_fail_without_raising():
    def todo(*args):
        raise NotImplementedError
    assert "not written yet" in ex.check_exposure(todo).message
    result = ex.check_scrub_emails("[EMAIL]")
    assert not result.passed and "without calling it" in result.message


def test_scrub_emails_catches_a_scrubber_that_does_nothing():
    result = ex.check_scrub_emails(lambda t: t)
    assert not result.passed and result.failed_case.startswith("'write to")
