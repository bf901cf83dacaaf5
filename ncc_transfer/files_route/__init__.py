"""The ``files`` route: a school's landing folder of CTFs and CSV extracts → raw frames (docs/files_route.md)."""

from .errors import ExtractFileError, ExtractWarning
from .folder import RawExtract, read_school_folder

__all__ = ["ExtractFileError", "ExtractWarning", "RawExtract", "read_school_folder"]
