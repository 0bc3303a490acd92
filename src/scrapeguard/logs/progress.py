"""A progress bar on stderr over the bytes of the input files (rich), for long runs of `analyze`."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class BytesProgress:
    """Bytes read of the inputs and the current phase; does nothing when not `enabled`.

    The total is unknown when standard input is one of the inputs (the bar then only counts).
    """

    def __init__(self, logs: tuple[str, ...], enabled: bool) -> None:
        self.enabled = enabled
        self.total = None if "-" in logs else sum(Path(p).stat().st_size for p in logs)
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> BytesProgress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task("reading", total=self.total)
        return self

    def advance(self, done: int) -> None:
        """`done` bytes of the inputs have been read so far."""
        if self._bar is not None:
            self._bar.update(self._task, completed=done)

    def phase(self, name: str) -> None:
        if self._bar is not None:
            self._bar.update(self._task, description=name)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
