"""Errors and the build report shared by the dataset builders."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path


class DatasetNotFoundError(FileNotFoundError):
    """The data folder does not hold any supported layout of the dataset."""


class AnnotationError(ValueError):
    """A bad annotation row or image: names the file, the line and the offending value."""


@dataclass(frozen=True)
class SkippedRow:
    """One annotation row left out of the dataset because it was bad."""

    split: str
    """Split the row belonged to, or ``'unassigned'`` when that could not be told."""
    file: str
    line: int | None
    image_id: str | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.reason}"


@dataclass
class BuildReport:
    """What a builder read, skipped and filtered out by design, per split.

    For every split ``len(dataset[split]) == rows_read[split] - skipped_in(split)
    - sum(filtered[split].values())``: no row disappears without being counted.
    """

    rows_read: dict[str, int] = field(default_factory=dict)
    skipped: list[SkippedRow] = field(default_factory=list)
    filtered: dict[str, dict[str, int]] = field(default_factory=dict)
    """Rows dropped by design (AffectNet codes 8-10, contempt for 7 classes), by reason."""

    def count_read(self, split: str, n: int = 1) -> None:
        self.rows_read[split] = self.rows_read.get(split, 0) + n

    def count_filtered(self, split: str, reason: str) -> None:
        per_split = self.filtered.setdefault(split, {})
        per_split[reason] = per_split.get(reason, 0) + 1

    def skipped_in(self, split: str) -> int:
        return sum(1 for row in self.skipped if row.split == split)

    def expected_rows(self, split: str) -> int:
        """Rows the split must hold: read minus skipped minus filtered."""
        return (
            self.rows_read.get(split, 0)
            - self.skipped_in(split)
            - sum(self.filtered.get(split, {}).values())
        )

    def summary(self) -> str:
        parts = []
        for split, n in self.rows_read.items():
            filtered = sum(self.filtered.get(split, {}).values())
            parts.append(
                f"{split}: {n} rows read, {self.skipped_in(split)} skipped, {filtered} filtered by design"
            )
        return "; ".join(parts)

    def save(self, path: str | os.PathLike) -> None:
        """Write as JSON, atomically."""
        from ..io import write_text

        write_text(path, json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, path: str | os.PathLike) -> BuildReport:
        raw = json.loads(Path(path).read_text())
        return cls(
            rows_read=raw["rows_read"],
            skipped=[SkippedRow(**row) for row in raw["skipped"]],
            filtered=raw["filtered"],
        )
