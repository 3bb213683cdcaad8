"""When progress bars are drawn: the one rule every bar of the project follows."""

from __future__ import annotations

import sys


def live_bar(progress: bool) -> bool:
    """True when a progress bar should be drawn: progress is wanted and stderr is a terminal.
    Logs (stderr a file or a pipe) get no carriage-return frames; the commands print their
    own summary lines (the trainer one line per epoch) either way."""
    return progress and sys.stderr.isatty()
