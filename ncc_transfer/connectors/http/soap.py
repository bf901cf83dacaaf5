"""SOAP over the shared session, for Bromcom's ASMX Read-Only Data Service.

* Envelopes for SOAP 1.1 (https://www.w3.org/TR/2000/NOTE-SOAP-20000508/: ``text/xml`` and a ``SOAPAction``
  header) and SOAP 1.2 (https://www.w3.org/TR/soap12-part1/: ``application/soap+xml`` with the action as a
  media-type parameter, RFC 3902).
* ``SoapBodyCredentials``: credentials inside every SOAP body, none in a header.
* ``soap_call``: one call; HTML pages, truncated bodies and SOAP Faults (SOAP 1.1 §4.4, SOAP 1.2 Part 1
  §5.4) become ``VendorError``s naming the faultcode only. XML is parsed with a parser that resolves no
  entities, loads no DTD and touches no network (OWASP XML External Entity Prevention Cheat Sheet;
  https://lxml.de/FAQ.html#how-do-i-use-lxml-safely-as-a-web-service-endpoint).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from lxml import etree

from .auth import AuthStrategy
from .errors import VendorError, _path_of, _short_code, status_problem

if TYPE_CHECKING:
    from .session import VendorSession

SOAP11, SOAP12 = "1.1", "1.2"
SOAP_ENVELOPE_NS = {SOAP11: "http://schemas.xmlsoap.org/soap/envelope/",
                    SOAP12: "http://www.w3.org/2003/05/soap-envelope"}
# Fault texts that no retry will fix [GUESS: Bromcom's wording is not published; ASMX wraps every
# exception as "Server was unable to process request. ---> <message>" with a Server/Receiver faultcode].
_AUTH_FAULT = re.compile(r"log ?in|password|user ?name|credential|authenticat|unauthori[sz]|not authori[sz]ed", re.I)
_PERMISSION_FAULT = re.compile(r"permission|access (is )?denied|not (allowed|permitted)|forbidden", re.I)
_QUERY_FAULT = re.compile(r"syntax|invalid column|invalid object name|conversion failed|entity .*not (found|exist)",
                          re.I)
_CALLER_FAULT_CODES = {"Client", "Sender", "VersionMismatch", "MustUnderstand", "DataEncodingUnknown"}


class SoapBodyCredentials(AuthStrategy):
    """Credentials that travel inside every SOAP body (Bromcom's Read-Only Data Service), never in a header.

    ``operation(name, params)`` builds the operation element for an envelope: the school id first, the
    call's own parameters in order, then the username and password (ASMX reads parameters in the WSDL's
    sequence order). Every value is set as element text with lxml, so it is XML-escaped; no untrusted
    value is ever formatted into markup.
    """

    def __init__(self, username: str, password: str, school_id: str | int, *, namespace: str = "http://tempuri.org/",
                 fields: tuple[str, str, str] = ("schoolID", "username", "password"), name: str | None = None) -> None:
        self._username = username
        self._password = password
        self.school_id = str(school_id)
        self.namespace = namespace
        self.fields = fields
        self.name = name

    def apply(self, headers: Any, session: "VendorSession") -> Any:
        return None  # nothing in the headers: the credentials are in the body

    def operation(self, name: str, params: list[tuple[str, str | None]] | tuple = ()) -> etree._Element:
        """``<name xmlns=namespace><schoolID/>params...<username/><password/></name>``."""
        school_field, user_field, password_field = self.fields
        element = etree.Element(f"{{{self.namespace}}}{name}", nsmap={None: self.namespace})
        values = [(school_field, self.school_id), *params, (user_field, self._username),
                  (password_field, self._password)]
        for field_name, value in values:
            child = etree.SubElement(element, f"{{{self.namespace}}}{field_name}")
            try:
                child.text = "" if value is None else str(value)
            except ValueError:  # a control character lxml refuses; the value itself is never shown
                raise ValueError(f"SOAP parameter {field_name} holds characters XML cannot carry") from None
        return element

    def __repr__(self) -> str:
        return f"SoapBodyCredentials(name={self.name!r}, school_id={self.school_id!r}, secret=<redacted>)"


def soap_envelope(operation: etree._Element, version: str = SOAP12) -> bytes:
    """An envelope around one operation element, as UTF-8 bytes with an XML declaration."""
    ns = SOAP_ENVELOPE_NS[version]
    envelope = etree.Element(f"{{{ns}}}Envelope", nsmap={"soap": ns})
    etree.SubElement(envelope, f"{{{ns}}}Body").append(operation)
    return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")


def soap_headers(action: str, version: str = SOAP12) -> dict[str, str]:
    """SOAP 1.1: ``text/xml`` and a ``SOAPAction`` header; SOAP 1.2: the action inside the content type."""
    if version == SOAP11:
        return {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action}"'}
    return {"Content-Type": f'application/soap+xml; charset=utf-8; action="{action}"'}


def safe_xml_parser() -> etree.XMLParser:
    """A parser for untrusted XML: no entity resolution, no DTD loading, no network, libxml2's size limits."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_comments=True, remove_pis=True)


def parse_soap(data: bytes) -> tuple[etree._Element, str]:
    """The envelope's root and SOAP version; ``etree.XMLSyntaxError`` when not well-formed, ``ValueError``
    when it holds a DTD or is not a SOAP envelope."""
    root = etree.fromstring(data, safe_xml_parser())
    info = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None or any(True for _ in root.iter(etree.Entity)):
        raise ValueError("a DTD or entity in a SOAP message")
    for version, ns in SOAP_ENVELOPE_NS.items():
        if root.tag == f"{{{ns}}}Envelope" and root.find(f"{{{ns}}}Body") is not None:
            return root, version
    raise ValueError("not a SOAP envelope")


def soap_fault(root: etree._Element, version: str) -> tuple[str, str] | None:
    """(faultcode, fault text) of a Fault in the envelope's Body, or None. The code is e.g. ``soap:Server``
    (1.1) or ``soap:Receiver`` (1.2)."""
    ns = SOAP_ENVELOPE_NS[version]
    fault = root.find(f"{{{ns}}}Body/{{{ns}}}Fault")
    if fault is None:
        return None
    if version == SOAP11:
        code, reason = fault.findtext("faultcode"), fault.findtext("faultstring")
    else:
        code = fault.findtext(f"{{{ns}}}Code/{{{ns}}}Value")
        reason = " ".join(t.text or "" for t in fault.iterfind(f"{{{ns}}}Reason/{{{ns}}}Text"))
    return (code or "").strip(), reason or ""


def classify_fault(code: str, reason: str) -> tuple[str, bool]:
    """(what kind of fault, transient?) from a Fault's code and text; the text is read, never repeated.

    Authentication, permission and query faults, and faults blaming the caller (Client/Sender), are not
    transient: a retry sends the same request. Any other server fault (an exception inside the service,
    e.g. a database timeout) is transient: tomorrow, or the run's retry, may succeed. [GUESS: ASMX gives
    both a Server/Receiver code; the text decides.]
    """
    if _AUTH_FAULT.search(reason):
        return "authentication refused: check the Third Party user's username and password", False
    if _PERMISSION_FAULT.search(reason):
        return "permission refused: the school must grant the Third Party user read access", False
    if _QUERY_FAULT.search(reason):
        return "the entity or its filter was rejected", False
    if code.rpartition(":")[2] in _CALLER_FAULT_CODES:
        return "request rejected", False
    return "server fault", True


def soap_call(session: VendorSession, path: str, action: str, operation: etree._Element, *,
              version: str = SOAP12, label: str | None = None) -> etree._Element:
    """POST one SOAP call and return the Body's first element (the operation's response element).

    Retries (429/5xx as the session's ``Retry`` allows) happen in the adapter. Then: an HTML page ->
    transient; a body that is not well-formed XML (a truncated response) -> transient; a SOAP Fault (ASMX
    answers every fault with HTTP 500) -> ``classify_fault``, named by its faultcode only; a 500 without a
    Fault -> transient. ``label`` (e.g. the operation and entity) prefixes the problem; the message never
    holds the body, the fault text or a credential.
    """
    prefix = f"{label}: " if label else ""
    response = session.request("POST", path, data=soap_envelope(operation, version),
                               headers=soap_headers(action, version))
    status = response.status_code
    where = {"method": "POST", "path": _path_of(response.url or session.url_for(path))}

    def error(problem: str, transient: bool) -> VendorError:
        return VendorError(session.route, prefix + problem, status, transient, **where)

    try:
        if "text/html" in (response.headers.get("Content-Type") or "").lower():
            raise error("HTML page instead of a SOAP response (maintenance page?)", True)
        if status in (200, 500):
            try:
                root, got = parse_soap(response.content)
            except etree.XMLSyntaxError:
                if status == 200:
                    raise error("body is not well-formed XML (truncated response?)", True) from None
                root = None
            except ValueError as exc:
                if status == 200:
                    raise error(f"unexpected response ({exc})", False) from None
                root = None
            fault = soap_fault(root, got) if root is not None else None
            if fault is not None:
                kind, transient = classify_fault(*fault)
                raise error(f"SOAP Fault {_short_code(fault[0]) or '(no code)'} ({kind})", transient)
            if status == 200:
                body = root.find(f"{{{SOAP_ENVELOPE_NS[got]}}}Body")
                answer = next(iter(body), None)
                if answer is None:
                    raise error("empty SOAP Body", False)
                return answer
        if status == 500 and status not in session.retry.status_forcelist:
            raise error("server error without a SOAP Fault", True)
        raise error(*status_problem(status, retries=session.retry.total, retrying=session.retry.status_forcelist))
    finally:
        response.close()
