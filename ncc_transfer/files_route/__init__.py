"""The ``files`` route: a school's landing folder of CTFs and CSV extracts → raw frames (docs/files_route.md)."""

from ..extract import ExtractFileError, ExtractWarning, RawExtract
from .folder import read_school_folder

__all__ = ["ExtractFileError", "ExtractWarning", "RawExtract", "read_school_folder"]
