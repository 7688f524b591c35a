"""The two kinds of error the application distinguishes.

A :class:`UserError` carries a plain sentence for a person: what is wrong, where,
and what to do. It is shown as it is, without a traceback. Anything else is a bug:
logged with its traceback, and the person sees "internal error, details in the log".
"""


class UserError(Exception):
    """A problem the user can fix; ``str(exc)`` is the message shown to them."""


class TrainingDiverged(UserError):
    """The loss became NaN or infinite; the message says at which iteration and what to try."""


class Cancelled(Exception):
    """Work stopped early because the user asked it to."""
