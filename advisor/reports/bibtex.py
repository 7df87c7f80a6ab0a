"""The cited works as BibTeX: one entry per reference, keyed by the catalog's reference id."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["bib_escape", "render_bibtex"]

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
    if "family" in a:
        family = bib_escape(a["family"])
        if " " in a["family"]:  # 'de Jong': keep the particle with the family name
            family = "{" + family + "}"
        return f"{family}, {bib_escape(a['given'])}" if a.get("given") else family
    return "{" + bib_escape(a.get("literal", "?")) + "}"


def _date(value: Any) -> str | None:
    """A CSL date ({date-parts: [[y, m, d]]}) as ISO text (YYYY, YYYY-MM or YYYY-MM-DD), or None."""
    parts = (value or {}).get("date-parts") if isinstance(value, dict) else None
    if not parts or not parts[0] or not all(isinstance(x, int) for x in parts[0]):
        return None
    return "-".join(f"{x:02d}" if i else str(x) for i, x in enumerate(parts[0][:3]))


def _url_fields(ref: dict[str, Any]) -> list[tuple[str, str]]:
    """The link (DOI, else arXiv, else the page's URL) and, for documentation, urldate and an 'Accessed' note."""
    if ref.get("DOI"):
        url = f"https://doi.org/{ref['DOI']}"
    elif ref.get("arxiv"):
        url = f"https://arxiv.org/abs/{ref['arxiv']}"
    else:
        url = ref.get("URL")
    fields = [("url", _verbatim(url))] if url else []
    accessed = _date(ref.get("accessed"))
    if accessed:
        fields += [("urldate", accessed), ("note", f"Accessed {accessed}")]
    return fields


def _entry(key: str, ref: dict[str, Any]) -> str:
    csl_type = ref.get("type", "article")
    venue = ref.get("container-title") or (ref.get("publisher") if csl_type in ("webpage", "software") else "") or ""
    if csl_type in _TYPES:
        entry_type, venue_field = _TYPES[csl_type]
    elif venue and "arxiv" not in venue.lower():
        entry_type, venue_field = "article", "journal"
    else:
        entry_type, venue_field = "misc", "howpublished"
    parts = (ref.get("issued") or {}).get("date-parts") or [[None]]
    year = parts[0][0] if parts and parts[0] else None
    fields: list[tuple[str, str]] = [
        ("title", "{" + bib_escape(ref.get("title", "")) + "}"),  # double braces keep the capitals
        ("author", " and ".join(_author(a) for a in ref.get("author") or [])),
    ]
    if venue:
        fields.append((venue_field, bib_escape(venue)))
    if year:
        fields.append(("year", str(year)))
    for csl, bib in (("volume", "volume"), ("issue", "number"), ("page", "pages")):
        if ref.get(csl):
            fields.append((bib, bib_escape(str(ref[csl]).replace("-", "--") if csl == "page" else ref[csl])))
    if ref.get("DOI"):
        fields.append(("doi", _verbatim(ref["DOI"])))
    if ref.get("arxiv"):
        fields += [("eprint", _verbatim(ref["arxiv"])), ("archiveprefix", "arXiv")]
    if ref.get("publisher") and venue_field != "publisher" and ref["publisher"] != venue:
        fields.append(("publisher" if entry_type != "misc" else "organization", bib_escape(ref["publisher"])))
    fields += _url_fields(ref)
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@{entry_type}{{{_key(key)},\n{body}\n}}"


def render_bibtex(data: dict[str, Any]) -> str:
    """Every work the report cites, as BibTeX entries in citation order."""
    refs = data.get("references") or {}
    head = f"% Works cited in: {' '.join(str(data.get('title', '')).split())}\n% Written by green-dl-advisor.\n"
    head = re.sub(r"[@{}]", " ", head)  # outside an entry, '@' would start one
    return head + "\n" + "\n\n".join(_entry(k, r) for k, r in refs.items()) + ("\n" if refs else "")
