"""Carbon accounting: the shipped intensity table, CO2e arithmetic, PUE, regions, what-if, and measure()."""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from advisor._errors import ConstraintError, DataValidationError
from advisor.measurement import carbon
from advisor.measurement.carbon import (
    REGION_ENV,
    Intensity,
    IntensityTableError,
    co2e_g,
    get_intensity,
    load_intensities,
    resolve_region,
    search_regions,
    summarize,
    what_if,
)

REPO = Path(__file__).resolve().parents[2]
TABLE = REPO / "data" / "carbon" / "intensity.csv"


def _raw_rows() -> list[dict[str, str]]:
    with TABLE.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _by_kind(kind: str) -> Intensity:
    return next(it for it in load_intensities().values() if it.kind == kind)


# --- the shipped table ------------------------------------------------------------------------------
def test_shipped_table_parses_and_every_row_is_sourced() -> None:
    table = load_intensities(TABLE)
    raw = _raw_rows()
    assert len(table) == len(raw) > 100
    for row in raw:
        assert row["source"].strip() and row["source_url"].strip(), row["region"]
        assert 1990 <= int(row["year"]) <= 2100, row["region"]
        g = float(row["g_co2e_per_kwh"])
        assert 0 < g < 2000, row["region"]
    ids = [r["region"].casefold() for r in raw]
    assert len(ids) == len(set(ids))
    assert {r["kind"] for r in raw} <= set(carbon.KINDS)
    assert {"country", "cloud-region"} <= {r["kind"] for r in raw}


def test_the_default_path_is_the_shipped_table_even_when_the_data_env_has_no_carbon_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GREEN_ADVISOR_DATA", str(tmp_path))
    assert carbon.default_intensity_path().resolve() == TABLE.resolve()
    assert load_intensities() == load_intensities(TABLE)


@pytest.mark.skipif(importlib.util.find_spec("codecarbon") is None, reason="codecarbon is not installed")
def test_shipped_table_is_what_the_build_script_makes_from_the_installed_codecarbon(tmp_path: Path) -> None:
    import codecarbon

    info = json.loads((TABLE.parent / "build_info.json").read_text(encoding="utf-8"))
    if codecarbon.__version__ != info["codecarbon_version"]:
        pytest.skip(f"table built from CodeCarbon {info['codecarbon_version']}, {codecarbon.__version__} installed")
    out = tmp_path / "intensity.csv"
    subprocess.run([sys.executable, str(TABLE.parent / "build_intensity.py"), codecarbon.__path__[0], "--out",
                    str(out)], check=True, capture_output=True)  # fmt: skip
    assert out.read_bytes() == TABLE.read_bytes()


# --- lookups ------------------------------------------------------------------------------------------
def test_lookup_is_case_insensitive_and_accepts_country_names_and_bare_cloud_ids() -> None:
    country = _by_kind("country")
    assert get_intensity(country.region.lower()) == country
    assert get_intensity(f"  {country.name.upper()} ") == country
    cloud = _by_kind("cloud-region")
    assert get_intensity(cloud.region.upper()) == cloud
    assert get_intensity(cloud.region.split(":", 1)[1]) == cloud
    assert get_intensity(cloud) is cloud


def test_unknown_region_names_close_matches_and_the_listing_command() -> None:
    country = _by_kind("country")
    typo = country.region[:2] + "Q" + country.region[2:]
    with pytest.raises(ConstraintError) as exc:
        get_intensity(typo)
    msg = str(exc.value)
    assert repr(typo) in msg and country.region in msg and "green-advisor regions" in msg
    with pytest.raises(ConstraintError, match="ISO3"):
        get_intensity("xq")
    with pytest.raises(ConstraintError, match="expected a region id"):
        get_intensity("  ")


def test_search_matches_every_word() -> None:
    cloud = _by_kind("cloud-region")
    hits = search_regions(f"{cloud.provider} {cloud.region.split(':')[1]}")
    assert cloud in hits and all(h.provider == cloud.provider for h in hits)
    assert search_regions("no-such-place-anywhere") == []
    assert len(search_regions(None)) == len(load_intensities())


# --- arithmetic, PUE, environment -----------------------------------------------------------------------
def test_one_kwh_gives_the_intensity_and_pue_scales_linearly() -> None:
    it = _by_kind("country")
    assert co2e_g(3.6e6, it.region) == pytest.approx(it.g_co2e_per_kwh)
    assert co2e_g(3.6e6, it, pue=1.5) == pytest.approx(1.5 * it.g_co2e_per_kwh)
    assert co2e_g(1234.5, it, pue=1.2) == pytest.approx(1234.5 * 1.2 / 3.6e6 * it.g_co2e_per_kwh)
    assert co2e_g(0.0, it) == 0.0


@pytest.mark.parametrize("pue", [0.99, 0.0, -1.0, math.nan, math.inf, True, "1.2"])
def test_pue_below_one_or_not_a_number_is_refused(pue: object) -> None:
    with pytest.raises(ConstraintError, match=r"pue: expected .*>= 1\.0.*got"):
        co2e_g(100.0, _by_kind("country"), pue=pue)  # type: ignore[arg-type]


@pytest.mark.parametrize("energy", [-1.0, math.nan, math.inf])
def test_bad_energy_is_refused(energy: float) -> None:
    with pytest.raises(ConstraintError, match="energy_j"):
        co2e_g(energy, _by_kind("country"))


def test_region_comes_from_the_argument_then_the_environment_never_a_guess(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REGION_ENV, raising=False)
    assert resolve_region(None) is None
    assert resolve_region("  ") is None
    monkeypatch.setenv(REGION_ENV, " SWE ")
    assert resolve_region(None) == "SWE"
    assert resolve_region("FRA") == "FRA"
    monkeypatch.setenv(REGION_ENV, "")
    assert resolve_region(None) is None


def test_region_falls_back_to_the_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('region = "DEU"\n', encoding="utf-8")
    monkeypatch.setenv("GREEN_ADVISOR_CONFIG", str(cfg))
    monkeypatch.delenv(REGION_ENV, raising=False)
    assert resolve_region(None) == "DEU"
    monkeypatch.setenv(REGION_ENV, "SWE")
    assert resolve_region(None) == "SWE"  # the environment wins over the file
    assert resolve_region("FRA") == "FRA"  # and the argument over both


@pytest.mark.parametrize(
    ("text", "message"),
    [("region = ", "not valid TOML"), ("regoin = 'FRA'", "unknown key 'regoin'"), ("region = 3", "expected a str")],
)
def test_a_bad_config_file_is_named_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(text, encoding="utf-8")
    monkeypatch.setenv("GREEN_ADVISOR_CONFIG", str(cfg))
    monkeypatch.delenv(REGION_ENV, raising=False)
    with pytest.raises(ConstraintError, match=message) as info:
        resolve_region(None)
    assert str(cfg) in str(info.value)


# --- what-if and the summary --------------------------------------------------------------------------
def test_what_if_is_lowest_first_deduplicated_and_consistent() -> None:
    rows = list(load_intensities().values())
    picks = [rows[0].region, rows[len(rows) // 2].region, rows[-1].region, rows[0].region.lower()]
    out = what_if(5000.0, picks, pue=1.1)
    assert len(out) == 3
    assert [r["rank"] for r in out] == [1, 2, 3]
    assert [r["g_co2e_per_kwh"] for r in out] == sorted(r["g_co2e_per_kwh"] for r in out)
    for r in out:
        assert r["co2e_g"] == pytest.approx(5000.0 * 1.1 / 3.6e6 * r["g_co2e_per_kwh"])
    with pytest.raises(ConstraintError, match="unknown region"):
        what_if(1.0, ["nowhere-at-all"])


def test_summary_without_region_reports_none_and_says_how_to_pass_one() -> None:
    s = summarize(None, {"baseline": 0.2}, energy_methods=["estimated-tdp"])
    assert s.region is None and s.g_co2e_per_kwh is None and s.co2e_method is None
    assert "--region" in s.note and REGION_ENV in s.note


def test_summary_says_an_estimated_energy_gives_an_estimated_co2e() -> None:
    it = _by_kind("country")
    s = summarize(it.region, {"baseline": 0.2, "x": None}, pue=1.3, what_if_regions=[it.region],
                  energy_methods=["estimated-tdp"])  # fmt: skip
    assert s.region == it.region and s.year == it.year and s.source == it.source and s.pue == 1.3
    assert "estimated-tdp" in s.note and "estimate" in s.note
    assert s.co2e_method is not None and s.co2e_method.startswith("estimated-tdp")
    by_tech = {r["technique"]: r for r in s.what_if}
    assert by_tech["baseline"]["co2e_g_per_1k_calls"] == pytest.approx(1000 * co2e_g(0.2, it, 1.3))
    assert by_tech["x"]["co2e_g_per_call"] is None
    measured = summarize(it.region, {"baseline": 0.2}, energy_methods=["measured-rapl"])
    assert "measured-rapl" in measured.note and "estimate" not in measured.note


# --- a broken table gives a precise error ------------------------------------------------------------
def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    return path


def test_broken_csv_names_file_line_column_expected_and_got(tmp_path: Path) -> None:
    raw = _raw_rows()
    header = list(raw[0])
    rows = [[r[c] for c in header] for r in raw[:6]]
    col = header.index
    rows[1][col("g_co2e_per_kwh")] = "-5"  # line 3
    rows[2][col("year")] = "20x3"  # line 4
    rows[3][col("region")] = rows[3][col("iso3")] = rows[0][col("region")].lower()  # line 5: duplicate id, other case
    rows[3][col("kind")] = rows[0][col("kind")]
    rows[4][col("source")] = ""  # line 6
    rows[5][col("kind")] = "planet"  # line 7
    path = _write(tmp_path / "bad.csv", header, rows)
    with pytest.raises(DataValidationError) as exc:
        load_intensities(path)
    err = exc.value
    assert isinstance(err, IntensityTableError)
    got = {(p.entry, p.field): p for p in err.problems}
    assert set(got) == {("line 3", "g_co2e_per_kwh"), ("line 4", "year"), ("line 5", "region"), ("line 6", "source"),
                        ("line 7", "kind")}  # fmt: skip
    assert all(p.file == str(path) for p in err.problems)
    assert got["line 3", "g_co2e_per_kwh"].got == "'-5'" and "0 < value" in got["line 3", "g_co2e_per_kwh"].expected
    assert "line 2" in got["line 5", "region"].expected
    msg = str(err)
    assert "5 problem(s)" in msg and str(path) in msg and "line 4: year" in msg and "build_intensity.py" in msg


def test_missing_columns_and_ragged_rows_are_reported(tmp_path: Path) -> None:
    path = _write(tmp_path / "cols.csv", ["region", "g_co2e_per_kwh"], [["FRA", "50"]])
    with pytest.raises(IntensityTableError, match="line 1: header"):
        load_intensities(path)
    raw = _raw_rows()
    header = list(raw[0])
    path = _write(tmp_path / "ragged.csv", header, [[raw[0][c] for c in header] + ["extra"]])
    with pytest.raises(IntensityTableError, match="line 2: -: row-width"):
        load_intensities(path)
    with pytest.raises(IntensityTableError, match="a readable CSV file"):
        load_intensities(tmp_path / "absent.csv")


# --- measure() ---------------------------------------------------------------------------------------
def _tiny():
    import torch
    from torch import nn

    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4)), torch.randn(8, 16)


def test_measure_reports_co2e_consistent_with_energy_and_intensity(tmp_path: Path) -> None:
    from advisor.measurement.run import measure
    from advisor.measurement.store import ResultStore

    rows = list(load_intensities().values())
    region, others = rows[0], [rows[-1].region, rows[len(rows) // 2].region]
    model, x = _tiny()
    store = ResultStore(tmp_path / "r.sqlite")
    run = measure(model, x, ["inference-mode-and-no-grad"], budget_s=3, store=store, progress=False,
                  region=region.region.lower(), pue=1.4, what_if=others)  # fmt: skip
    ok = [r for r in [run.baseline, *run.results] if r.status == "ok"]
    assert ok and ok[0].technique == "baseline"
    for r in ok:
        e = r.timing.energy_j_per_call
        assert e is not None and e > 0
        assert r.co2e_g_per_call == pytest.approx(e * 1.4 / 3.6e6 * region.g_co2e_per_kwh)
        assert r.co2e_g_per_1k_calls == pytest.approx(1000 * r.co2e_g_per_call)
        assert r.co2e_method.startswith(r.timing.energy_method) and region.region in r.co2e_method
    c = run.carbon
    assert c.region == region.region and c.g_co2e_per_kwh == region.g_co2e_per_kwh and c.year == region.year
    assert c.pue == 1.4 and c.source == region.source
    assert c.energy_methods and all(m in c.note for m in c.energy_methods if "estimated" in m)
    assert {w["region"] for w in c.what_if} == set(others)
    assert {w["technique"] for w in c.what_if} == {r.technique for r in ok}
    for w in c.what_if:
        e = next(r for r in ok if r.technique == w["technique"]).timing.energy_j_per_call
        assert w["co2e_g_per_1k_calls"] == pytest.approx(1000 * e * 1.4 / 3.6e6 * w["g_co2e_per_kwh"])
    d = json.loads(run.to_json())
    assert d["carbon"]["region"] == region.region and d["baseline"]["co2e_g_per_1k_calls"] > 0
    table = run.table()
    assert table.loc[0, "co2e_g_per_1k_calls"] == pytest.approx(run.baseline.co2e_g_per_1k_calls)
    saved = store.results(run.run_id)
    assert saved[0]["technique"] == "baseline"
    assert json.dumps(saved[0]).count("co2e_g_per_1k_calls") >= 1
    assert store.runs()[0]["run_id"] == run.run_id


def test_measure_without_region_reports_null_co2e_and_an_unknown_region_fails_before_measuring(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from advisor.measurement.run import measure
    from advisor.measurement.store import ResultStore

    monkeypatch.delenv(REGION_ENV, raising=False)
    model, x = _tiny()
    store = ResultStore(tmp_path / "r.sqlite")
    run = measure(model, x, [], budget_s=2, store=store, progress=False)
    assert run.baseline.timing.energy_j_per_call is not None
    assert run.baseline.co2e_g_per_call is None and run.baseline.co2e_g_per_1k_calls is None
    assert run.carbon.region is None and "--region" in run.carbon.note
    n_runs = len(store.runs())
    with pytest.raises(ConstraintError, match="unknown region"):
        measure(model, x, [], budget_s=2, store=store, progress=False, region="Atlantis")
    with pytest.raises(ConstraintError, match="pue"):
        measure(model, x, [], budget_s=2, store=store, progress=False, pue=0.5)
    assert len(store.runs()) == n_runs  # nothing was started


# --- command line ------------------------------------------------------------------------------------
def test_cli_regions_lists_and_searches(capsys: pytest.CaptureFixture[str]) -> None:
    from advisor.cli import main

    cloud = _by_kind("cloud-region")
    assert main(["regions", "--search", cloud.region]) == 0
    out = capsys.readouterr().out
    assert cloud.region in out and str(cloud.year) in out and cloud.source in out
    assert main(["regions", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert len(listed) == len(load_intensities()) and all(r["source"] and r["year"] for r in listed)


def test_cli_measure_refuses_an_unknown_region_before_loading_the_model(capsys: pytest.CaptureFixture[str]) -> None:
    from advisor.cli import main

    code = main(["measure", "--model", "no_such_module_anywhere:make", "--region", "Atlantis"])
    err = capsys.readouterr().err
    assert code == 2 and "unknown region 'Atlantis'" in err and "no_such_module" not in err
