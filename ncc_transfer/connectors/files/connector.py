"""The files route as a connector: the school's landing folder -> ``RawExtract`` (docs/files_route.md).

The reading itself is ``ncc_transfer.files_route.read_school_folder``; this class gives the files route
the same ``fetch`` as the vendor connectors, so the route registry answers for it like any other.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from ncc_transfer.config import ncc_home
from ncc_transfer.connectors.base import Capabilities
from ncc_transfer.extract import RawExtract
from ncc_transfer.files_route import read_school_folder
from ncc_transfer.registry import School


class FilesConnector:
    route = "files"
    capabilities = Capabilities()

    def __init__(self, home: Path | None = None, **options: Any) -> None:
        self.home = Path(home) if home is not None else None
        self.options = options

    def fetch(self, school: School, *, as_of: date, state: Any = None) -> RawExtract:
        """The extract read from the school's landing folder (relative paths from ``home``, default NCC_HOME)."""
        folder = school.landing_folder(self.home or ncc_home())
        return read_school_folder(folder, school.laestab, as_of=as_of, urn=school.urn)
