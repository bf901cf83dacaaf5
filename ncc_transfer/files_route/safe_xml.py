"""Reading untrusted landing files safely: no entity expansion, no network, bounded sizes.

The parser settings follow lxml's guidance on untrusted input (https://lxml.de/FAQ.html, "How do I use
lxml safely as a web-service endpoint?") and OWASP's XML External Entity Prevention Cheat Sheet
(https://cheatsheetseries.owasp.org/cheatsheets/XML_External_Entity_Prevention_Cheat_Sheet.html).

* :func:`read_start` reads only the first bytes of a file (a CTF's Header, see ``ctf_kinds``) and
  :func:`safe_pull_parser` parses them incrementally with the same protections.
* :func:`read_bounded` reads a regular file whose size is checked first (``NCC_MAX_FILE_MB``,
  default 256), refusing symbolic links at open time and never reading more than the limit.
* :func:`parse_xml` parses bytes with an lxml parser that resolves no entities, loads no DTD,
  touches no network and keeps libxml2's tree-size limits on; any document with a DOCTYPE or an
  entity declaration is refused outright (a CTF never needs one).

Every failure is an :class:`ExtractFileError` whose message holds no content of the file.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from lxml import etree

from ..config import setting
from ..extract import ExtractFileError

MAX_FILE_MB_ENV = "NCC_MAX_FILE_MB"

DTD_REFUSED = "DTDs and entity declarations are not allowed in a CTF"

_DTD_PATTERN = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_LOCATION_SUFFIX = re.compile(r",?\s*line \d+,\s*column \d+\s*$")


def max_file_bytes() -> int:
    """The largest landing file accepted, in bytes (``NCC_MAX_FILE_MB``, megabytes, may be fractional)."""
    raw = setting(MAX_FILE_MB_ENV)
    try:
        megabytes = float(raw)
    except ValueError:
        raise ValueError(f"{MAX_FILE_MB_ENV} must be a number of megabytes, e.g. 256") from None
    if not megabytes > 0:
        raise ValueError(f"{MAX_FILE_MB_ENV} must be greater than 0")
    return max(1, int(megabytes * 1024 * 1024))


def _describe_size(n_bytes: int) -> str:
    if n_bytes >= 1024 * 1024:
        return f"{n_bytes / (1024 * 1024):.1f} MB"
    return f"{n_bytes} bytes"


def _too_big(file_name: str, size: int | None, limit: int) -> ExtractFileError:
    size_text = f"is {_describe_size(size)}" if size is not None else "is larger than the limit"
    return ExtractFileError(
        file_name,
        None,
        f"the file {size_text}, over the {_describe_size(limit)} limit ({MAX_FILE_MB_ENV}): "
        "split the export or ask the LA to raise the limit",
    )


def read_bounded(path: Path, file_name: str) -> bytes:
    """Read a regular file (not a symbolic link) of at most :func:`max_file_bytes` bytes."""
    limit = max_file_bytes()
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise ExtractFileError(file_name, None, "the file disappeared before it could be read") from None
    except PermissionError:
        raise ExtractFileError(file_name, None, "the file cannot be read: permission denied") from None
    except OSError as exc:
        if path.is_symlink():
            raise ExtractFileError(file_name, None, "symbolic links are not allowed in a school's folder") from None
        raise ExtractFileError(file_name, None, f"the file cannot be opened ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ExtractFileError(file_name, None, "not a regular file")
        if info.st_size > limit:
            raise _too_big(file_name, info.st_size, limit)
        data = handle.read(limit + 1)  # the file may grow after the stat: never read past the limit
    if len(data) > limit:
        raise _too_big(file_name, None, limit)
    return data


def declares_dtd(data: bytes) -> bool:
    """The bytes hold a DOCTYPE or an entity declaration (refused in a CTF)."""
    return bool(_DTD_PATTERN.search(data))


def read_start(path: Path, file_name: str, n_bytes: int) -> bytes:
    """The first ``n_bytes`` of a regular file (not a symbolic link): enough to read a CTF's Header."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        raise ExtractFileError(file_name, None, "the file cannot be opened") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise ExtractFileError(file_name, None, "not a regular file")
        return handle.read(n_bytes)


# No entity expansion, no DTD, no network, no huge trees (the "billion laughs" and XXE defences): one set
# of protections for both parsers.
_PROTECTIONS = dict(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                    huge_tree=False, remove_comments=True, remove_pis=True)


def safe_pull_parser() -> etree.XMLPullParser:
    """An incremental parser with the same protections as :func:`parse_xml` (entities, DTDs, network)."""
    return etree.XMLPullParser(events=("end",), **_PROTECTIONS)


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(**_PROTECTIONS)


def _clean_syntax_message(message: str) -> str:
    """libxml2's message without any excerpt of the content (``Bytes: 0x..``) or the position."""
    text = (message or "").splitlines()[0] if message else ""
    text = text.split("Bytes:")[0]
    text = _LOCATION_SUFFIX.sub("", text).strip().rstrip(",;:!").strip()
    if len(text) > 160:
        text = text[:160] + "..."
    return text or "malformed XML"


def parse_xml(data: bytes, file_name: str) -> etree._ElementTree:
    """Parse untrusted XML bytes into a tree, refusing DTDs/entities and reporting syntax errors by line."""
    if declares_dtd(data):
        raise ExtractFileError(file_name, None, DTD_REFUSED)
    if not data.strip():
        raise ExtractFileError(file_name, None, "the file is empty")
    try:
        root = etree.fromstring(data, _safe_parser())
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if isinstance(exc.lineno, int) and exc.lineno > 0 else None
        problem = f"not well-formed XML ({_clean_syntax_message(exc.msg)})"
        if "encoding" in problem.lower() or "utf-8" in problem.lower():
            problem += ": check the file is saved in the encoding its XML declaration names (normally UTF-8)"
        else:
            problem += ": the file may be truncated or damaged; export it again"
        raise ExtractFileError(file_name, f"line {line}" if line else None, problem) from None
    except (ValueError, etree.LxmlError):
        raise ExtractFileError(file_name, None, "not well-formed XML: export it again") from None
    if root is None:
        raise ExtractFileError(file_name, None, "the file holds no XML element")
    tree = root.getroottree()
    info = tree.docinfo
    # Catches documents whose encoding (e.g. UTF-16) hid the DOCTYPE from the byte scan above.
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None or info.system_url:
        raise ExtractFileError(file_name, None, DTD_REFUSED)
    for _ in root.iter(etree.Entity):
        raise ExtractFileError(file_name, None, DTD_REFUSED)
    return tree


def parse_xml_file(path: Path, file_name: str) -> etree._ElementTree:
    """:func:`read_bounded` then :func:`parse_xml`."""
    return parse_xml(read_bounded(path, file_name), file_name)
