#!/usr/bin/env python3
"""Build ``data/carbon/intensity.csv`` from the data files CodeCarbon ships (MIT licence).

Standard library only. Re-run it after upgrading CodeCarbon::

    python data/carbon/build_intensity.py /path/to/site-packages/codecarbon
    python data/carbon/build_intensity.py "$(python -c 'import codecarbon as c; print(c.__path__[0])')"

What goes in (every row keeps its source and year; no number is made up here):

* ``data/private_infra/global_energy_mix.json``: one row per country (ISO3), ``carbon_intensity`` in
  gCO2e/kWh and its ``year``, which CodeCarbon takes from Our World in Data's carbon intensity of
  electricity (built from Ember and the Energy Institute's Statistical Review of World Energy).
* ``data/private_infra/2023/usa_emissions.json``: US states, EPA eGRID annual CO2e total output emission
  rate, converted from lb/MWh to g/kWh (x 0.45359237, exact by definition of the pound).
* ``data/private_infra/2023/china_provincial_emissions.json``: Chinese provinces, official MEE/NBS
  factors (CO2 only, which the row's note says).
* ``data/private_infra/nordic_emissions.json``: Swedish and Norwegian bidding zones (ENTSO-E based).
* ``data/cloud/impact.csv``: cloud regions (Google Cloud today). That file has no year column, so the
  year is given here per CodeCarbon version (``KNOWN_CLOUD_YEARS``) or with ``--gcp-year``; pass
  Google's yearly CSV with ``--gcp-yearly-csv`` to check every value against it.

What stays out (listed in ``build_info.json`` with the reason): rows with an intensity <= 0, rows
without a year or source, CodeCarbon's ``world_average`` (a different source, CO2 only, no year in the
file), eGRID's US national figure (the OWID country row ``USA`` covers the country) and entries that
carry no source of their own (Finland in ``nordic_emissions.json``, "prior value, unchanged").
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

COLUMNS = ["region", "kind", "name", "iso3", "provider", "g_co2e_per_kwh", "year", "source", "source_url", "note"]
LB_PER_MWH_TO_G_PER_KWH = 0.45359237  # 1 lb = 453.59237 g (exact); 1 MWh = 1000 kWh
OWID_URL = "https://ourworldindata.org/grapher/carbon-intensity-electricity"
# impact.csv has no year column. For each CodeCarbon version checked by hand, the year of its Google
# Cloud values: 3.3.2 ships the values of Google's region-carbon-info data/yearly/2023.csv (CodeCarbon
# PR #610, "Update impact.csv with 2023 values"); all 40 values were compared with that file.
KNOWN_CLOUD_YEARS: dict[str, dict[str, int]] = {"3.3.2": {"gcp": 2023}}
# Region ids misspelt in impact.csv, with the spelling the provider uses.
CLOUD_ID_FIXES = {("gcp", "me-cenrtal1"): "me-central1"}
CHINA_NOTE = "CO2 only (not CO2e, no lifecycle emissions): below what a CO2e figure would be"
KIND_ORDER = {"world": 0, "country": 1, "subnational": 2, "grid-zone": 3, "cloud-region": 4}


def _version(pkg: Path) -> str:
    for line in (pkg / "_version.py").read_text(encoding="utf-8").splitlines():
        if line.startswith("__version__"):
            return line.split("=", 1)[1].strip().strip("\"'")
    raise SystemExit(f"{pkg}/_version.py: no __version__ line; is this the codecarbon package folder?")


def _num(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _countries(pkg: Path, via: str, rows: list[dict], skipped: list[dict]) -> dict[str, str]:
    path = pkg / "data/private_infra/global_energy_mix.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    names = {}
    for iso3, entry in sorted(data.items()):
        g, year, name = entry.get("carbon_intensity"), entry.get("year"), entry.get("country_name", "")
        names[iso3] = name
        if not isinstance(g, (int, float)) or not math.isfinite(g) or g <= 0 or not isinstance(year, int):
            skipped.append({"file": str(path.relative_to(pkg)), "entry": iso3, "name": name, "carbon_intensity": g,
                            "year": year, "reason": "carbon_intensity missing, not positive, or no year"})  # fmt: skip
            continue
        note = "year differs from most rows: the latest year OWID has for this country" if year < 2021 else ""
        rows.append({"region": iso3, "kind": "country", "name": name, "iso3": iso3, "provider": "",
                     "g_co2e_per_kwh": _num(g), "year": year,
                     "source": f"Our World in Data, carbon intensity of electricity generation (Ember; Energy "
                               f"Institute Statistical Review of World Energy){via}",
                     "source_url": OWID_URL, "note": note})  # fmt: skip
    return names


def _usa(pkg: Path, via: str, rows: list[dict], skipped: list[dict]) -> None:
    path = pkg / "data/private_infra/2023/usa_emissions.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    src, unit = data["_source"], data["_unit"]["emissions"]
    if unit != "lbs/MWh":
        raise SystemExit(f"{path}: expected emissions in lbs/MWh, got {unit!r}; update the conversion")
    for key, entry in sorted(data.items()):
        if key.startswith("_"):
            continue
        if entry["regionCode"] == "usa":
            skipped.append({"file": str(path.relative_to(pkg)), "entry": key, "reason": "US national eGRID rate: "
                            "the country is covered by the OWID row USA (one row per country)"})  # fmt: skip
            continue
        g = entry["emissions"] * LB_PER_MWH_TO_G_PER_KWH
        name = " ".join(w if w == "of" else w.capitalize() for w in key.split())
        rows.append({"region": f"US-{entry['regionCode']}", "kind": "subnational", "name": name,
                     "iso3": "USA", "provider": "", "g_co2e_per_kwh": _num(g), "year": src["year"],
                     "source": f"{src['name']} (field {src['field']}){via}", "source_url": src["url"],
                     "note": f"converted from {entry['emissions']} lb/MWh"})  # fmt: skip


def _china(pkg: Path, via: str, rows: list[dict]) -> None:
    path = pkg / "data/private_infra/2023/china_provincial_emissions.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    meta = data["metadata"]
    source = (f"China Ministry of Ecology and Environment and National Bureau of Statistics, Announcement "
              f"{meta['announcement']} (published {meta['published']}), provincial average electricity CO2 "
              f"emission factors{via}")  # fmt: skip
    for code, entry in sorted(data["data"].items()):
        rows.append({"region": code, "kind": "subnational", "name": entry["description"], "iso3": "CHN",
                     "provider": "", "g_co2e_per_kwh": _num(entry["emission_factor"]), "year": entry["year"],
                     "source": source, "source_url": meta["source_url"],
                     "note": CHINA_NOTE})  # fmt: skip


def _nordic(pkg: Path, via: str, rows: list[dict], skipped: list[dict]) -> None:
    path = pkg / "data/private_infra/nordic_emissions.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    meta = data["metadata"]
    doi = next((w.rstrip(".,") for w in meta.get("provenance", "").split() if "doi.org/" in w), "")
    for zone, entry in sorted(data["data"].items()):
        if "coverage" not in entry:  # e.g. FI: "prior value, unchanged", no source of its own
            skipped.append({"file": str(path.relative_to(pkg)), "entry": zone, "name": entry.get("description"),
                            "reason": "no source of its own in the file (metadata: 'prior value, unchanged'); "
                                      "the country row FIN covers it"})  # fmt: skip
            continue
        iso3 = {"SE": "SWE", "NO": "NOR"}[zone[:2]]
        rows.append({"region": zone, "kind": "grid-zone", "name": entry["description"], "iso3": iso3,
                     "provider": "", "g_co2e_per_kwh": _num(entry["emission_factor"]), "year": entry["year"],
                     "source": "ENTSO-E Transparency actual generation per production type (A75) x CodeCarbon "
                               f"per-source lifecycle factors, derived with Khepri v1.3{via}",
                     "source_url": doi,
                     "note": f"production-based; coverage {entry['coverage']}. {entry.get('note', '')}"})  # fmt: skip


def _cloud(pkg: Path, via: str, rows: list[dict], *, version: str, gcp_year: int | None, gcp_csv: Path | None) -> None:
    path = pkg / "data/cloud/impact.csv"
    with path.open(encoding="utf-8-sig", newline="") as f:
        entries = list(csv.DictReader(f))
    years = dict(KNOWN_CLOUD_YEARS.get(version, {}))
    if gcp_year is not None:
        years["gcp"] = gcp_year
    check: dict[str, float] | None = None
    if gcp_csv is not None:
        with gcp_csv.open(encoding="utf-8-sig", newline="") as f:
            col = "Grid carbon intensity (gCO2eq / kWh)"
            check = {r["Google Cloud Region"]: float(r[col]) for r in csv.DictReader(f)}
    for e in entries:
        provider = e["provider"].strip()
        if provider not in years:
            raise SystemExit(
                f"{path}: no year known for provider {provider!r} in CodeCarbon {version}: the file has no year "
                f"column. Find which year its values are from (see its source {e['source']}) and pass "
                f"--{provider}-year YEAR (only --gcp-year exists today; add an option for a new provider)."
            )
        region_id = CLOUD_ID_FIXES.get((provider, e["region"]), e["region"])
        note = f"location-based grid average of the region ({e['city']}, {e['country_name']})"
        if provider == "gcp":
            note += "; Google's carbon-free-energy share (CFE%) is not applied"
        if region_id != e["region"]:
            note += f"; id spelt {e['region']!r} in CodeCarbon's impact.csv"
        g = float(e["impact"])
        if check is not None and provider == "gcp":
            if region_id not in check:
                raise SystemExit(f"{gcp_csv}: no row for {region_id} (in {path}); is this the right year's file?")
            if check[region_id] != g:
                raise SystemExit(f"{region_id}: {path} says {g}, {gcp_csv} says {check[region_id]}")
        rows.append({"region": f"{provider}:{region_id}", "kind": "cloud-region",
                     "name": f"{e['providerName']} {region_id} ({e['city']})", "iso3": e["countryIsoCode"],
                     "provider": provider, "g_co2e_per_kwh": _num(g), "year": years[provider],
                     "source": f"{e['providerName']} region carbon data {years[provider]}, grid carbon intensity{via}",
                     "source_url": e["source"], "note": note})  # fmt: skip


def build(pkg: Path, gcp_year: int | None = None, gcp_csv: Path | None = None) -> tuple[list[dict], dict]:
    """Return the table rows and the build record (version, counts, skipped entries)."""
    version = _version(pkg)
    via = f"; via CodeCarbon {version}"
    rows: list[dict] = []
    skipped: list[dict] = []
    _countries(pkg, via, rows, skipped)
    _usa(pkg, via, rows, skipped)
    _china(pkg, via, rows)
    _nordic(pkg, via, rows, skipped)
    _cloud(pkg, via, rows, version=version, gcp_year=gcp_year, gcp_csv=gcp_csv)
    skipped.append({"file": "data/private_infra/carbon_intensity_per_source.json", "entry": "world_average",
                    "reason": "IEA figure (CO2 from combustion) with no year in the file: a different basis and "
                              "source from the country rows, so no WORLD row is shipped"})  # fmt: skip
    ids = [r["region"].casefold() for r in rows]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise SystemExit(f"duplicate region ids: {dupes}")
    rows.sort(key=lambda r: (KIND_ORDER[r["kind"]], r["region"]))
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["kind"]] = counts.get(r["kind"], 0) + 1
    info = {"codecarbon_version": version, "rows": len(rows), "rows_by_kind": counts,
            "gcp_checked_against": str(gcp_csv.name) if gcp_csv else None, "skipped": skipped}  # fmt: skip
    return rows, info


def main(argv: list[str] | None = None) -> int:
    """Command line: build the CSV (and ``build_info.json`` next to it)."""
    here = Path(__file__).resolve().parent
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("codecarbon_dir", type=Path, help="the installed codecarbon package folder")
    p.add_argument("--out", type=Path, default=here / "intensity.csv")
    p.add_argument("--gcp-year", type=int, help="year of impact.csv's Google Cloud values (if not known for it)")
    p.add_argument("--gcp-yearly-csv", type=Path, help="Google's region-carbon-info data/yearly/YEAR.csv to check")
    args = p.parse_args(argv)
    if not (args.codecarbon_dir / "data/private_infra/global_energy_mix.json").is_file():
        p.error(f"{args.codecarbon_dir}: expected CodeCarbon's package folder (with data/private_infra/)")
    rows, info = build(args.codecarbon_dir, args.gcp_year, args.gcp_yearly_csv)
    with args.out.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    (args.out.parent / "build_info.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: {len(rows)} rows {info['rows_by_kind']}; skipped {len(info['skipped'])} entries")
    return 0


if __name__ == "__main__":
    sys.exit(main())
