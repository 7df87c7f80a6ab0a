"""Carbon accounting: turn measured energy into CO2e with a per-region carbon-intensity table.

``co2e_g = energy_j x pue / 3.6e6 x g_co2e_per_kwh``. The intensities come from
``data/carbon/intensity.csv`` (built from CodeCarbon's datasets by ``data/carbon/build_intensity.py``;
every row has its source and year). The region is always the user's choice (an argument, the
``--region`` flag or the ``GREEN_ADVISOR_REGION`` environment variable): nothing is looked up from the
network. Without a region, CO2e is reported as ``None`` with a note saying how to pass one.

A CO2e figure inherits the method of the energy figure it came from: an estimated energy gives an
estimated CO2e. Intensities are annual averages of the grid, not the marginal or hourly intensity.
"""

from __future__ import annotations

import csv
import difflib
import math
import os
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from advisor._errors import ConstraintError, IntensityTableError

__all__ = [
    "KINDS",
    "REGION_ENV",
    "CarbonSummary",
    "Intensity",
    "IntensityTableError",
    "check_pue",
    "co2e_g",
    "co2e_method_label",
    "default_intensity_path",
    "get_intensity",
    "load_intensities",
    "resolve_region",
    "search_regions",
    "summarize",
    "what_if",
]

REGION_ENV = "GREEN_ADVISOR_REGION"
J_PER_KWH = 3.6e6
KINDS = ("world", "country", "subnational", "grid-zone", "cloud-region")
COLUMNS = ("region", "kind", "name", "iso3", "provider", "g_co2e_per_kwh", "year", "source", "source_url", "note")
REQUIRED = ("region", "kind", "name", "g_co2e_per_kwh", "year", "source", "source_url")
MAX_G_PER_KWH = 2000.0  # above any real grid (coal plants emit roughly 1000 g/kWh): a unit mistake
LIST_HINT = (
    "List the regions with `green-advisor regions --search TEXT` (or advisor.measurement.carbon.search_regions)."
)
NO_REGION_NOTE = (
    "no region given, so CO2e is not computed: pass --region (e.g. FRA, US-CA, gcp:europe-west1), "
    f"region=... in Python, or set {REGION_ENV}; `green-advisor regions` lists them"
)


@dataclass(frozen=True)
class Intensity:
    """The carbon intensity of electricity in one region.

    Attributes:
        region: Table id: ISO3 for a country (``FRA``), ISO 3166-2 for a state or province
            (``US-CA``, ``CN-BJ``), the bidding zone (``SE3``) or ``provider:region`` (``gcp:europe-west1``).
        name: Human-readable name.
        kind: One of :data:`KINDS`.
        g_co2e_per_kwh: Annual average intensity. Units: gCO2e/kWh.
        year: The year the figure describes.
        source: Who published it (and through which dataset it came).
        iso3: ISO3 code of the country the region lies in ("" if none).
        provider: Cloud provider id for cloud regions, else "".
        source_url: Where the figure can be checked (URL or DOI).
        note: Caveats of this row (e.g. CO2 only, a lower bound).
    """

    region: str
    name: str
    kind: str
    g_co2e_per_kwh: float
    year: int
    source: str
    iso3: str = ""
    provider: str = ""
    source_url: str = ""
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


def default_intensity_path() -> Path:
    """Where the shipped table is: ``<data dir>/carbon/intensity.csv``.

    The data dir is :func:`advisor.catalog.default_data_dir` (``GREEN_ADVISOR_DATA``, the wheel's
    ``advisor/_data``, the checkout's ``data/``); a ``GREEN_ADVISOR_DATA`` folder without a ``carbon/``
    table falls back to the shipped one.
    """
    from advisor.catalog import default_data_dir

    first = default_data_dir() / "carbon" / "intensity.csv"
    if first.is_file():
        return first
    for base in (Path(__file__).resolve().parents[1] / "_data", Path(__file__).resolve().parents[2] / "data"):
        if (base / "carbon" / "intensity.csv").is_file():
            return base / "carbon" / "intensity.csv"
    return first


def _problem(where: tuple[str, int], column: str, rule: str, expected: str, got: Any) -> Any:
    """One broken cell: ``where`` is (file, line)."""
    from advisor.catalog.validate import Problem

    text = repr(got)
    return Problem(where[0], f"line {where[1]}", column, rule, expected, text if len(text) <= 80 else text[:77] + "...")


def _parse_row(row: dict[str, str], where: tuple[str, int], seen: dict[str, int], problems: list[Any]) -> Any:
    """The row as an :class:`Intensity`, or None after appending its problems."""
    start = len(problems)
    cell = {k: (row.get(k) or "").strip() for k in COLUMNS}
    for col in REQUIRED:
        if not cell[col]:
            problems.append(_problem(where, col, "required", "a non-empty value", row.get(col)))
    _check_region(cell, where, seen, problems)
    g = _check_intensity(cell, where, problems)
    year = _check_year(cell, where, problems)
    if len(problems) > start:
        return None
    return Intensity(
        cell["region"],
        cell["name"],
        cell["kind"],
        g,
        year,
        cell["source"],
        cell["iso3"],
        cell["provider"],
        cell["source_url"],
        cell["note"],
    )


def _check_region(cell: dict[str, str], where: tuple[str, int], seen: dict[str, int], problems: list[Any]) -> None:
    """Region id unique and well-formed, kind known, country and cloud ids consistent."""
    region, kind = cell["region"], cell["kind"]
    if region:
        key = region.casefold()
        if key in seen:
            problems.append(
                _problem(where, "region", "unique", f"an id not used before (line {seen[key]} has it)", region)
            )
        else:
            seen[key] = where[1]
        if any(c.isspace() for c in region) or "," in region:
            problems.append(_problem(where, "region", "id", "no spaces or commas", region))
    if kind and kind not in KINDS:
        problems.append(_problem(where, "kind", "enum", f"one of {', '.join(KINDS)}", kind))
    if kind == "country" and region and (cell["iso3"] != region or len(region) != 3 or not region.isalpha()):
        problems.append(
            _problem(
                where,
                "iso3",
                "country-id",
                "a country row's region equal to its 3-letter iso3",
                f"region={region!r}, iso3={cell['iso3']!r}",
            )
        )
    if kind == "cloud-region" and (not cell["provider"] or not region.startswith(cell["provider"] + ":")):
        problems.append(
            _problem(
                where,
                "provider",
                "cloud-id",
                "a provider, and region written 'provider:id'",
                f"region={region!r}, provider={cell['provider']!r}",
            )
        )


def _check_intensity(cell: dict[str, str], where: tuple[str, int], problems: list[Any]) -> float:
    """The intensity in gCO2e/kWh (NaN when missing or broken, with the problem appended)."""
    if not cell["g_co2e_per_kwh"]:
        return math.nan
    try:
        g = float(cell["g_co2e_per_kwh"])
    except ValueError:
        problems.append(_problem(where, "g_co2e_per_kwh", "number", "a number in gCO2e/kWh", cell["g_co2e_per_kwh"]))
        return math.nan
    if not (0 < g < MAX_G_PER_KWH):
        expected = f"0 < value < {MAX_G_PER_KWH:g} gCO2e/kWh"
        problems.append(_problem(where, "g_co2e_per_kwh", "range", expected, cell["g_co2e_per_kwh"]))
    return g


def _check_year(cell: dict[str, str], where: tuple[str, int], problems: list[Any]) -> int:
    """The data year (0 when missing or broken, with the problem appended)."""
    if not cell["year"]:
        return 0
    try:
        year = int(cell["year"])
    except ValueError:
        problems.append(_problem(where, "year", "integer", "a four-digit year", cell["year"]))
        return 0
    if not (1990 <= year <= date.today().year):
        problems.append(_problem(where, "year", "range", f"1990..{date.today().year}", cell["year"]))
    return year


_CACHE: dict[tuple[str, float], dict[str, Intensity]] = {}


def load_intensities(path: str | Path | None = None) -> dict[str, Intensity]:
    """Read and validate the carbon-intensity table.

    Args:
        path: A CSV with the columns of ``data/carbon/intensity.csv``; default :func:`default_intensity_path`.

    Returns:
        Region id -> :class:`Intensity`, in file order.

    Raises:
        IntensityTableError: (a :class:`~advisor.DataValidationError`) naming the file, line, column,
            what was expected and what was found, for every broken cell.
    """
    p = Path(path) if path is not None else default_intensity_path()
    try:
        key = (str(p.resolve()), p.stat().st_mtime)
    except OSError as exc:
        raise IntensityTableError([_problem((str(p), 0), "-", "file", "a readable CSV file", exc.strerror)], p) from exc
    if key in _CACHE:
        return dict(_CACHE[key])
    problems: list[Any] = []
    out: dict[str, Intensity] = {}
    try:
        with p.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            missing = [c for c in REQUIRED if c not in header]
            if missing:
                problems.append(
                    _problem((str(p), 1), "header", "columns", f"columns {', '.join(COLUMNS)}", ",".join(header))
                )
            else:
                seen: dict[str, int] = {}
                for row in reader:
                    line = reader.line_num
                    if None in row:
                        problems.append(
                            _problem(
                                (str(p), line),
                                "-",
                                "row-width",
                                f"{len(header)} cells",
                                f"{len(header) + len(row[None])} cells",
                            )
                        )
                        continue
                    parsed = _parse_row(row, (str(p), line), seen, problems)
                    if parsed is not None:
                        out[parsed.region] = parsed
    except UnicodeDecodeError as exc:
        problems.append(_problem((str(p), 0), "-", "encoding", "UTF-8 text", f"{exc.reason} at byte {exc.start}"))
    except csv.Error as exc:
        problems.append(_problem((str(p), 0), "-", "csv", "well-formed CSV", str(exc)))
    if not problems and not out:
        problems.append(_problem((str(p), 2), "-", "rows", "at least one region", "no rows"))
    if problems:
        raise IntensityTableError(problems, p)
    _CACHE[key] = out
    return dict(out)


def _index(table: dict[str, Intensity]) -> dict[str, Intensity]:
    """Every accepted spelling (case-folded) -> row: ids, country names, and unique bare cloud ids."""
    idx: dict[str, Intensity] = {}
    bare: dict[str, list[Intensity]] = {}
    for it in table.values():
        idx[it.region.casefold()] = it
        if it.kind == "country":
            idx.setdefault(it.name.casefold(), it)
        if it.provider:
            bare.setdefault(it.region.split(":", 1)[1].casefold(), []).append(it)
    for k, rows in bare.items():
        if len(rows) == 1:
            idx.setdefault(k, rows[0])
    return idx


def get_intensity(region: str | Intensity, *, path: str | Path | None = None) -> Intensity:
    """Look a region up (case-insensitive).

    Accepts the table id (``FRA``, ``US-CA``, ``SE3``, ``gcp:europe-west1``), a country's name
    (``France``) and a cloud region id without its provider when only one provider has it
    (``europe-west1``). There is no ISO2 (``FR``) lookup: use ISO3.

    Raises:
        ConstraintError: for an unknown region, with the closest ids and the command that lists them.
    """
    if isinstance(region, Intensity):
        return region
    table = load_intensities(path)
    if not isinstance(region, str) or not region.strip():
        raise ConstraintError(
            f"region: expected a region id such as 'FRA' or 'gcp:europe-west1', got {region!r}. {LIST_HINT}"
        )
    idx = _index(table)
    key = region.strip().casefold()
    if key in idx:
        return idx[key]
    close = difflib.get_close_matches(key, list(idx), n=5, cutoff=0.6)
    close += [k for k in idx if key in k and k not in close][: max(0, 5 - len(close))]
    ids = list(dict.fromkeys(idx[k].region for k in close))
    hint = f" Did you mean: {', '.join(ids)}?" if ids else ""
    if len(key) == 2 and key.isalpha():
        hint += " Two-letter (ISO2) codes are not accepted: use the three-letter ISO3 code, e.g. 'FRA' for France."
    raise ConstraintError(
        f"unknown region {region!r}: expected an id from the carbon-intensity table (ISO3 country code like 'FRA', "
        f"state 'US-CA', bidding zone 'SE3', cloud 'gcp:europe-west1', or a country name).{hint} {LIST_HINT}"
    )


def search_regions(text: str | None = None, *, path: str | Path | None = None) -> list[Intensity]:
    """Rows whose id, name, kind, ISO3 or provider contain every word of ``text`` (all rows if empty)."""
    rows = list(load_intensities(path).values())
    words = (text or "").casefold().split()
    if not words:
        return rows
    return [
        r for r in rows if all(w in f"{r.region} {r.name} {r.kind} {r.iso3} {r.provider}".casefold() for w in words)
    ]


def check_pue(pue: float) -> float:
    """``pue`` as a float; a PUE below 1.0 (or not a finite number) raises :class:`ConstraintError`."""
    if isinstance(pue, bool) or not isinstance(pue, (int, float)) or not math.isfinite(pue) or pue < 1.0:
        raise ConstraintError(
            f"pue: expected a power usage effectiveness >= 1.0 (total facility energy / IT energy; 1.0 = no overhead), "
            f"got {pue!r}. Pass the facility's PUE, or leave the default 1.0 for a desktop or laptop."
        )
    return float(pue)


def co2e_g(energy_j: float, region: str | Intensity, pue: float = 1.0) -> float:
    """CO2e of ``energy_j`` joules drawn in ``region``: ``energy_j x pue / 3.6e6 x g_co2e_per_kwh``.

    Args:
        energy_j: Energy at the device (IT energy). Units: J.
        region: A region id (see :func:`get_intensity`) or an :class:`Intensity`.
        pue: Power usage effectiveness of the facility (total energy / IT energy), >= 1.0.

    Returns:
        Grams of CO2-equivalent. Units: gCO2e.

    Raises:
        ConstraintError: for a negative or non-finite energy, a PUE below 1.0, or an unknown region.
    """
    pue = check_pue(pue)
    if (
        isinstance(energy_j, bool)
        or not isinstance(energy_j, (int, float))
        or not math.isfinite(energy_j)
        or energy_j < 0
    ):
        raise ConstraintError(f"energy_j: expected a finite energy >= 0 in joules, got {energy_j!r}")
    return energy_j * pue / J_PER_KWH * get_intensity(region).g_co2e_per_kwh


def resolve_region(region: str | None) -> str | None:
    """The region to use: argument, then ``$GREEN_ADVISOR_REGION``, then the config file, else None.

    The config file is described in :mod:`advisor._config`. Never a guess, never an IP lookup.
    """
    if region is not None and region.strip():
        return region.strip()
    env = os.environ.get(REGION_ENV, "").strip()
    if env:
        return env
    from advisor._config import load_config

    return load_config().get("region", "").strip() or None


def what_if(energy_j: float, regions: list[str], pue: float = 1.0) -> list[dict[str, Any]]:
    """CO2e of the same energy in other regions, lowest first (ties by id); repeated regions once.

    Returns:
        One dict per region: ``rank``, ``region``, ``name``, ``kind``, ``g_co2e_per_kwh``, ``year``,
        ``source``, ``pue``, ``energy_j`` and ``co2e_g``.
    """
    pue = check_pue(pue)
    its = list({it.region: it for it in (get_intensity(r) for r in regions)}.values())
    its.sort(key=lambda it: (it.g_co2e_per_kwh, it.region))
    return [
        {
            "rank": i,
            "region": it.region,
            "name": it.name,
            "kind": it.kind,
            "g_co2e_per_kwh": it.g_co2e_per_kwh,
            "year": it.year,
            "source": it.source,
            "pue": pue,
            "energy_j": energy_j,
            "co2e_g": co2e_g(energy_j, it, pue),
        }
        for i, it in enumerate(its, 1)
    ]


@dataclass
class CarbonSummary:
    """The carbon block of a measurement run.

    Attributes:
        region: The region CO2e is computed for (None when none was given).
        name: Its name.
        g_co2e_per_kwh: Its intensity. Units: gCO2e/kWh.
        year: The year of that intensity.
        source: Who published it; ``source_url`` where to check it.
        pue: The power usage effectiveness applied (>= 1.0).
        energy_methods: Methods of the energy figures the CO2e comes from (``estimated-tdp``, ...).
        co2e_method: How CO2e was obtained, e.g. ``estimated-tdp x annual grid intensity FRA 2023``.
        note: The caveat to show with the figures (estimated energy -> estimated CO2e; no region -> how to pass one).
        what_if: One row per (region, technique) asked for: ``region``, ``name``, ``g_co2e_per_kwh``,
            ``year``, ``technique``, ``energy_j_per_call``, ``co2e_g_per_call``, ``co2e_g_per_1k_calls``;
            regions lowest intensity first, techniques in run order (baseline first).
    """

    region: str | None
    name: str | None = None
    kind: str | None = None
    g_co2e_per_kwh: float | None = None
    year: int | None = None
    source: str | None = None
    source_url: str | None = None
    intensity_note: str | None = None
    pue: float = 1.0
    energy_methods: list[str] = field(default_factory=list)
    co2e_method: str | None = None
    note: str = ""
    what_if: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)

    def lines(self) -> list[str]:
        """Plain-text lines for the command line."""
        out = []
        if self.region:
            out.append(
                f"carbon: {self.region} ({self.name}) {self.g_co2e_per_kwh:g} gCO2e/kWh, {self.year}, "
                f"PUE {self.pue:g}; source: {self.source}"
            )
        out.append(f"carbon note: {self.note}")
        if self.what_if:
            out.append("what if (gCO2e per 1000 calls):")
            for row in self.what_if:
                v = row["co2e_g_per_1k_calls"]
                val = f"{v:.4g}" if v is not None else "n/a (no energy figure)"
                out.append(
                    f"  {row['region']:<22} {row['g_co2e_per_kwh']:>8g} g/kWh {row['year']}  "
                    f"{row['technique']:<40} {val}"
                )
        return out


def co2e_method_label(energy_method: str | None, it: Intensity) -> str | None:
    """The method label of a CO2e figure: the energy method x the annual grid intensity used."""
    if not energy_method:
        return None
    return f"{energy_method} x annual grid intensity {it.region} {it.year}"


def summarize(
    region: str | Intensity | None,
    per_call_j: dict[str, float | None],
    *,
    pue: float = 1.0,
    what_if_regions: list[str] | None = None,
    energy_methods: list[str] | None = None,
) -> CarbonSummary:
    """Build the carbon block for a run.

    Args:
        region: The run's region (None: CO2e not computed, the note says how to pass one).
        per_call_j: Technique id -> energy per call (None where there is none), baseline first. Units: J.
        pue: Power usage effectiveness, >= 1.0.
        what_if_regions: Other regions to compare.
        energy_methods: The energy methods behind ``per_call_j`` (for the caveat).
    """
    pue = check_pue(pue)
    methods = sorted({m for m in energy_methods or [] if m})
    it = get_intensity(region) if region is not None else None
    rows: list[dict[str, Any]] = []
    for w in what_if(0.0, what_if_regions or [], pue):
        for tid, e in per_call_j.items():
            g = co2e_g(e, w["region"], pue) if e is not None else None
            rows.append(
                {
                    "region": w["region"],
                    "name": w["name"],
                    "g_co2e_per_kwh": w["g_co2e_per_kwh"],
                    "year": w["year"],
                    "technique": tid,
                    "energy_j_per_call": e,
                    "co2e_g_per_call": g,
                    "co2e_g_per_1k_calls": g * 1000 if g is not None else None,
                }
            )
    if it is None:
        return CarbonSummary(None, pue=pue, energy_methods=methods, note=NO_REGION_NOTE, what_if=rows)
    estimated = [m for m in methods if "estimated" in m]
    if estimated:
        note = (
            f"CO2e inherits the energy figure's method: energy here is {', '.join(estimated)} (an estimate, "
            "not a counter), so the CO2e is an estimate too"
        )
    elif methods:
        note = f"CO2e inherits the energy figure's method ({', '.join(methods)}): a measurement times an annual average"
    else:
        note = "no energy figure was obtained, so there is no CO2e"
    note += f"; intensity is the annual average of the grid ({it.year}), not the hour the code ran"
    if it.note:
        note += f"; {it.note}"
    label = co2e_method_label("+".join(methods), it) if methods else None
    return CarbonSummary(
        it.region,
        it.name,
        it.kind,
        it.g_co2e_per_kwh,
        it.year,
        it.source,
        it.source_url,
        it.note,
        pue,
        methods,
        label,
        note,
        rows,
    )
