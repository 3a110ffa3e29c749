"""One exception type for expected failures, so stages print one line and exit non-zero."""


class StageError(Exception):
    """A stage cannot go on: bad input, bad params, or a failed check. The message is for users."""
