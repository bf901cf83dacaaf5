"""The ``files`` route: a school's landing folder of CTFs and CSV extracts → raw frames (docs/files_route.md)."""

from .errors import ExtractFileError
from .folder import RawExtract, read_school_folder

__all__ = ["ExtractFileError", "RawExtract", "read_school_folder"]
