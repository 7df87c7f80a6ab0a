"""The cited works as BibTeX: one entry per reference, keyed by the catalog's reference id."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["bib_escape", "bibliography", "render_bibtex"]

_LATEX = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_LATEX_RE = re.compile("|".join(re.escape(k) for k in _LATEX))
_TYPES = {
    "paper-conference": ("inproceedings", "booktitle"),
    "article-journal": ("article", "journal"),
    "chapter": ("incollection", "booktitle"),
    "book": ("book", "publisher"),
    "report": ("techreport", "institution"),
    "thesis": ("phdthesis", "school"),
    "webpage": ("misc", "howpublished"),  # documentation pages and vendor blogs (no DOI, no arXiv id)
    "software": ("misc", "howpublished"),  # a project's README or benchmark file
}


def bib_escape(text: str) -> str:
    """Escape LaTeX's special characters (braces included) so any text is a valid BibTeX value."""
    return _LATEX_RE.sub(lambda m: _LATEX[m.group(0)], " ".join(str(text).split()))


def _verbatim(text: str) -> str:
    """DOIs and URLs keep their characters, but braces and backslashes could break the entry."""
    return re.sub(r"[{}\\\s%]", lambda m: f"%{ord(m.group(0)):02X}", str(text))


def _key(ref_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_:.\-+/]", "-", ref_id)


def _author(a: dict[str, str]) -> str:
    """One CSL name object (``family``/``given`` or ``literal``) as a BibTeX name."""
    if "family" in a:
        family = bib_escape(a["family"])
        if " " in a["family"]:  # 'de Jong': keep the particle with the family name
            family = "{" + family + "}"
        return f"{family}, {bib_escape(a['given'])}" if a.get("given") else family
    return "{" + bib_escape(a.get("literal", "?")) + "}"


def _date(value: dict[str, list[list[int]]] | None) -> str | None:
    """A CSL date ({date-parts: [[y, m, d]]}) as ISO text (YYYY, YYYY-MM or YYYY-MM-DD), or None."""
    parts = (value or {}).get("date-parts")
    if not parts or not parts[0] or not all(isinstance(x, int) for x in parts[0]):
        return None
    return "-".join(f"{x:02d}" if i else str(x) for i, x in enumerate(parts[0][:3]))


def _url_fields(ref: Any) -> list[tuple[str, str]]:
    """The link (DOI, else arXiv, else the page's URL) and, for documentation, urldate and an 'Accessed' note."""
    if ref.DOI:
        url = f"https://doi.org/{ref.DOI}"
    elif ref.arxiv:
        url = f"https://arxiv.org/abs/{ref.arxiv}"
    else:
        url = ref.URL
    fields = [("url", _verbatim(url))] if url else []
    accessed = _date(ref.accessed)
    if accessed:
        fields += [("urldate", accessed), ("note", f"Accessed {accessed}")]
    return fields


def _entry(key: str, ref: Any) -> str:
    """One BibTeX entry of a :class:`advisor.catalog.schema.Reference`."""
    csl_type = ref.type
    venue = ref.container_title or (ref.publisher if csl_type in ("webpage", "software") else "") or ""
    if csl_type in _TYPES:
        entry_type, venue_field = _TYPES[csl_type]
    elif venue and "arxiv" not in venue.lower():
        entry_type, venue_field = "article", "journal"
    else:
        entry_type, venue_field = "misc", "howpublished"
    fields: list[tuple[str, str]] = [
        ("title", "{" + bib_escape(ref.title) + "}"),  # double braces keep the capitals
        ("author", " and ".join(_author(a) for a in ref.author)),
    ]
    if venue:
        fields.append((venue_field, bib_escape(venue)))
    if ref.year:
        fields.append(("year", str(ref.year)))
    extra = ref.model_extra or {}  # CSL fields beyond the schema's (volume, issue, page)
    for csl, bib in (("volume", "volume"), ("issue", "number"), ("page", "pages")):
        if extra.get(csl):
            fields.append((bib, bib_escape(str(extra[csl]).replace("-", "--") if csl == "page" else extra[csl])))
    if ref.DOI:
        fields.append(("doi", _verbatim(ref.DOI)))
    if ref.arxiv:
        fields += [("eprint", _verbatim(ref.arxiv)), ("archiveprefix", "arXiv")]
    if ref.publisher and venue_field != "publisher" and ref.publisher != venue:
        fields.append(("publisher" if entry_type != "misc" else "organization", bib_escape(ref.publisher)))
    fields += _url_fields(ref)
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@{entry_type}{{{_key(key)},\n{body}\n}}"


def bibliography(title: str, references: dict[str, Any]) -> str:
    """Works (key -> :class:`advisor.catalog.schema.Reference`) as BibTeX entries, in order, under a comment."""
    head = f"% Works cited in: {' '.join(str(title).split())}\n% Written by green-dl-advisor.\n"
    head = re.sub(r"[@{}]", " ", head)  # outside an entry, '@' would start one
    entries = "\n\n".join(_entry(k, r) for k, r in references.items())
    return head + "\n" + entries + ("\n" if references else "")


def render_bibtex(data: Any) -> str:
    """Every work the report (a :class:`ReportData`) cites, as BibTeX entries in citation order."""
    return bibliography(data.title, data.references)
