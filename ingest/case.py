"""Case folders: a ``case.yaml`` naming the evidence tables and the mapping of each.

::

    name: strikeback-demo
    default_region: PH        # optional; for mappings that set no source.default_region
    tables:
      - file: exhibits.csv
        mapping: mappings/exhibits.yaml
        grading: A1           # optional; overrides the mapping's source.grading
      - file: aleph-export.ftm.json
        format: ftm           # FollowTheMoney entities: no mapping (docs/ftm.md)
        grading: B2

Paths are relative to the case folder and must stay inside it: a table or mapping that
resolves (symlinks followed) outside the folder, or is not a regular file, is refused. A
mapping's own ``source.default_region`` wins over the case's, which only fills in where a
mapping is silent (and so takes part in its digest).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ringmap.errors import InputError, MappingError
from ringmap.fileio import input_file
from ringmap.graphs.model import Grading
from ringmap.ingest.ftm import FtmFormat
from ringmap.ingest.mapping import (
    Mapping,
    format_validation_error,
    load_yaml,
    parse_grading,
    phone_region,
)
from ringmap.ingest.readers import load_mapping_for
from ringmap.ingest.run import IngestTask

__all__ = ["CASE_FILE", "CaseSpec", "TableSpec", "load_case"]

CASE_FILE = "case.yaml"


class TableSpec(BaseModel):
    """One evidence table of a case."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str
    mapping: str | None = None
    format: Literal["table", "ftm"] = "table"
    grading: Grading | None = None

    @field_validator("grading", mode="before")
    @classmethod
    def _grading_text(cls, value: Any) -> Any:
        return parse_grading(value)

    @model_validator(mode="after")
    def _mapping_for_tables(self) -> TableSpec:
        if (self.mapping is None) != (self.format == "ftm"):
            raise ValueError("a table needs a mapping; FtM entities (format: ftm) take none")
        return self


class CaseSpec(BaseModel):
    """A case folder's ``case.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    default_region: str | None = None
    tables: list[TableSpec] = Field(min_length=1)

    _region = field_validator("default_region")(phone_region)


def load_case(case_dir: str | Path) -> list[IngestTask]:
    """The tables of a case folder as ingest tasks, every mapping loaded and validated.

    Raises
    ------
    InputError
        ``case.yaml``, a table's file or a mapping is missing, outside the case folder or not a
        regular file (every such file named).
    MappingError
        ``case.yaml`` or a mapping does not validate (every problem, of every file, at once).
    """
    case_dir = Path(case_dir)
    case_file = case_dir / CASE_FILE
    if not case_file.is_file():
        raise InputError(f"{case_dir} is not a case folder: no {CASE_FILE}")
    data = load_yaml(input_file(case_file, within=case_dir))
    try:
        case = CaseSpec.model_validate(data)
    except ValidationError as exc:
        raise MappingError([f"{case_file}: {p}" for p in format_validation_error(exc)]) from None
    refused: list[str] = []
    for i, table in enumerate(case.tables):
        for what, name in (("file", table.file), ("mapping", table.mapping)):
            if name is None:
                continue
            try:
                input_file(case_dir / name, within=case_dir)
            except InputError as exc:
                refused.append(f"tables[{i}].{what}: {exc}")
    if refused:
        raise InputError(f"{case_file}: {'; '.join(refused)}")
    mappings: dict[str, Mapping] = {}
    problems: list[str] = []
    for table in case.tables:
        if table.mapping is None or table.mapping in mappings:
            continue
        try:
            mappings[table.mapping] = load_mapping_for(
                case_dir / table.mapping, case_dir / table.file).with_default_region(
                case.default_region)
        except MappingError as exc:
            problems.extend(exc.problems)
    if problems:
        raise MappingError(problems)
    ftm = FtmFormat().with_default_region(case.default_region)
    return [IngestTask(case_dir / t.file, ftm if t.mapping is None else mappings[t.mapping],
                       t.grading) for t in case.tables]
