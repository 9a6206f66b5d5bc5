"""Progress bars for the steps that can take minutes (uploads, tree builds, bench runs, reading
weights back). They go to stderr, never stdout (which may be JSON), and only to a terminal: under
--json, in pipes and in tests they stay silent and the command's final summary says it all."""

from __future__ import annotations

import sys
from typing import IO

from tqdm import tqdm


def bar(total: int, what: str, unit: str, enabled: bool = True, stream: IO[str] | None = None) -> tqdm:
    """A tqdm bar over ``total`` ``unit``s, shown only when ``enabled`` and ``stream`` (default
    stderr) is a terminal; a disabled bar accepts the same calls and prints nothing."""
    stream = stream if stream is not None else sys.stderr
    shown = enabled and bool(getattr(stream, "isatty", lambda: False)())
    return tqdm(
        total=total, desc=what, unit=unit, file=stream, disable=not shown, leave=False, dynamic_ncols=True
    )


def say(line: str, stream: IO[str] | None = None) -> None:
    """Print a line to stderr without tearing a bar that is being drawn."""
    tqdm.write(line, file=stream if stream is not None else sys.stderr)
