"""The ``files`` route (design §3.2): a school's landing folder of CTFs and CSV extracts → raw frames."""

from .errors import ExtractFileError
from .folder import RawExtract, read_school_folder

__all__ = ["ExtractFileError", "RawExtract", "read_school_folder"]
