"""XML from users, refused when it declares a DTD or entities, wherever the declaration is and whatever the
encoding.

Looking for "<!DOCTYPE" in the first kilobytes of the raw bytes misses a declaration after padding, or one written
in UTF-16. Here expat itself reads the whole document (it decodes by the BOM or the XML declaration, as every XML
parser downstream will) and reports a DOCTYPE or an entity declaration as it meets it; text inside comments or
CDATA sections is not a declaration and passes. When expat cannot decode the declared encoding (GBK, say), the
whole text is decoded with Python's codec and searched instead.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable
from xml.parsers import expat

_CHUNK = 1 << 20
_DECLARED = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_MARKERS = ("<!DOCTYPE", "<!ENTITY")


class DTDFound(ValueError):
    """The document declares a DTD or an entity."""


class NotWellFormed(ValueError):
    """expat cannot read the document; `line` is where it stopped."""

    def __init__(self, message: str, line: int):
        super().__init__(message)
        self.line = line


def _found(*_args) -> None:
    raise DTDFound("DTD or entity declaration")


def refuse_dtd(chunks: Iterable[bytes]) -> None:
    """Read the whole document in `chunks`; DTDFound at a DTD or entity declaration, NotWellFormed when it is not
    XML that expat can read."""
    chunks = iter(chunks)
    head: list[bytes] = []
    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = _found
    parser.EntityDeclHandler = _found
    try:
        for chunk in chunks:
            if len(head) < 1:
                head.append(chunk)
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except expat.ExpatError as exc:
        if exc.code == expat.errors.codes[expat.errors.XML_ERROR_UNKNOWN_ENCODING]:
            _search_decoded(b"".join(head), chunks)
            return
        raise NotWellFormed(expat.errors.messages[exc.code], exc.lineno) from None
    except ValueError as exc:           # pyexpat's own refusal of multi-byte encodings (GBK, Shift-JIS, …)
        if "encoding" not in str(exc):
            raise
        _search_decoded(b"".join(head), chunks)


def _search_decoded(first: bytes, rest: Iterable[bytes]) -> None:
    """The fallback for encodings expat does not know: decode everything with Python's codec and search."""
    declared = _DECLARED.match(first)
    try:
        decoder = codecs.getincrementaldecoder(declared.group(1).decode("ascii") if declared else "utf-8")("replace")
    except LookupError:
        raise NotWellFormed("unknown encoding", 1) from None
    tail = ""
    for chunk in (first, *rest):
        text = tail + decoder.decode(chunk)
        if any(marker in text for marker in _MARKERS):
            raise DTDFound("DTD or entity declaration")
        tail = text[-len(_MARKERS[0]):]
    if any(marker in tail + decoder.decode(b"", final=True) for marker in _MARKERS):
        raise DTDFound("DTD or entity declaration")


def file_chunks(path, size: int = _CHUNK) -> Iterable[bytes]:
    """A file's bytes in chunks for refuse_dtd, so a large document is never held in memory whole."""
    with open(path, "rb") as fh:
        while chunk := fh.read(size):
            yield chunk
