"""bcdesktop: malignancy estimates from the nine Wisconsin cytology scores.

Research and education use only; not a medical device.
"""

__version__ = "0.1.0"

DISCLAIMER = "For research and education use only. Not a medical device; not for diagnosis."


def __getattr__(name):
    """``bcdesktop.predict_frame`` (:func:`bcdesktop.frame.predict_frame`), imported on
    first use, so that ``import bcdesktop`` imports nothing else."""
    if name == "predict_frame":
        from .frame import predict_frame

        return predict_frame
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), "predict_frame"])
