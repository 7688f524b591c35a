"""bcdesktop: malignancy estimates from the nine Wisconsin cytology scores.

Research and education use only; not a medical device.
"""

__version__ = "0.1.0"

DISCLAIMER = "For research and education use only. Not a medical device; not for diagnosis."
