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


def _entry(key: str, ref: dict[str, Any]) -> str:
    csl_type = ref.get("type", "article")
    venue = ref.get("container-title") or ""
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
    url = (
        f"https://doi.org/{ref['DOI']}"
        if ref.get("DOI")
        else f"https://arxiv.org/abs/{ref['arxiv']}"
        if ref.get("arxiv")
        else ref.get("URL")
    )
    if url:
        fields.append(("url", _verbatim(url)))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@{entry_type}{{{_key(key)},\n{body}\n}}"


def render_bibtex(data: dict[str, Any]) -> str:
    """Every work the report cites, as BibTeX entries in citation order."""
    refs = data.get("references") or {}
    head = f"% Works cited in: {' '.join(str(data.get('title', '')).split())}\n% Written by green-dl-advisor.\n"
    head = re.sub(r"[@{}]", " ", head)  # outside an entry, '@' would start one
    return head + "\n" + "\n\n".join(_entry(k, r) for k, r in refs.items()) + ("\n" if refs else "")
