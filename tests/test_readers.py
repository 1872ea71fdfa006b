"""netsim.readers and friends: real readings as they come (issue 12).

Layouts (UCI per-site wide, national wide, long with units), compression, encodings,
station names, units, the ``netsim readings`` command, and the shipped real scenario
(``scenarios/real_2015_retire_two.yaml``).  Expected numbers are read off the raw
files with pandas, worked out by hand, or come from the fixture's construction rule
(``tests/data/readers/beijing_all_20200101.csv``: for type T, hour h and the k-th
station column, PM2.5 = 40 + k + 10 h, PM10 = 70 + …, SO2 = 5 + …, NO2 = 30 + …,
O3 = 60 + …, CO = 0.6 + 0.1 h + 0.01 k mg/m³; AQI 100 + h; every ``_24h``/``_8h`` row
900 + k (CO_24h 90); blanks: hour 2 PM2.5 天坛, hour 3 CO 东四环).
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import shutil
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hand_kriging import noisy_ordinary_kriging, reference_analyser_noise

from netsim.cli import main
from netsim.errors import NetworkError, ReadingsError
from netsim.network import Network
from netsim.readers import detect_layout
from netsim.readings import load_readings
from netsim.station_names import StationMatcher, normalise_name
from netsim.units import parse_units_option

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
NATIONAL = DATA / "readers" / "beijing_all_20200101.csv"
UCI_2015 = ROOT / "scenarios" / "readings" / "uci_beijing_2015"
STATIONS = ROOT / "stations" / "beijing_35.csv"
SMALL = DATA / "stations_small.csv"
NATIONAL_ORDER = ("dongsi tiantan guanyuan wanshouxigong aotizhongxin nongzhanguan wanliu "
                  "beibuxinqu zhiwuyuan fengtaihuayuan yungang gucheng fangshan daxing yizhuang "
                  "tongzhou shunyi pingchang mentougou pinggu huairou miyun yanqing dingling "
                  "badaling miyunshuiku donggaocun yongledian yufa liulihe qianmen "
                  "yongdingmennei xizhimenbei nansanhuan dongsihuan").split()
"""The network ids of the fixture's 35 Chinese column names, in column order (by hand)."""


@pytest.fixture(scope="module")
def beijing() -> Network:
    return Network.from_file(STATIONS)


@pytest.fixture(scope="module")
def small() -> Network:
    return Network.from_file(SMALL)


def _cli(args: list[str], capsys) -> tuple[int, str, str]:
    rc = main([str(a) for a in args])
    captured = capsys.readouterr()
    return rc, " ".join(captured.out.split()), captured.err.strip()


def _one_line_error(rc: int, err: str) -> str:
    assert rc == 2, err
    assert err.startswith("error:") and "\n" not in err and "Traceback" not in err
    return " ".join(err.split())


def _long_csv(path: Path, rows: list[str], header: str = "station_id,time,pollutant,value"):
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


# ---------------------------------------------------------------------------- UCI layout


def test_uci_files_are_read_as_shipped(beijing):
    """Every value of a site equals the raw file read with pandas (CO ÷ 1000), at the
    hour year-month-day-hour names (hour-beginning)."""
    r = load_readings(UCI_2015, beijing, 2015)
    assert r.matched["Changping"] == "pingchang" and r.matched["Aotizhongxin"] == "aotizhongxin"
    assert any("CO read in µg/m³" in n and "÷1000" in n for n in r.notes)
    raw = pd.read_csv(UCI_2015 / "PRSA_Data_Changping_20150101-20151231.csv.gz")
    hour = ((pd.to_datetime(raw[["year", "month", "day", "hour"]]) - pd.Timestamp("2015-01-01"))
            // pd.Timedelta(hours=1)).to_numpy()
    row = list(beijing.ids).index("pingchang")
    for p, scale in (("PM2.5", 1.0), ("NO2", 1.0), ("CO", 1e-3)):
        expected = np.full(8760, np.nan)
        expected[hour] = raw[p].to_numpy(dtype=float) * scale
        np.testing.assert_array_equal(r.values[p][row], expected)
    cover = r.coverage()
    assert len(cover.stations) == 12 and cover.hours == 8760


def test_uci_layout_by_hand(tmp_path, small):
    p = tmp_path / "PRSA_Data_Dongsi.csv"
    p.write_text(
        '"No","year","month","day","hour","PM2.5","PM10","SO2","NO2","CO","O3","TEMP","station"\r\n'
        '1,2014,12,31,23,9,9,9,9,900,9,-3,"Dongsi"\r\n'
        '2,2015,1,1,0,3,14,15,29,600,33,-7,"Dongsi"\r\n'
        '3,2015,1,1,1,NA,27,14,33,700,28,-2,"Dongsi"\r\n', encoding="utf-8")
    r = load_readings(p, small, 2015)
    v = {k: a[0, :3] for k, a in r.values.items()}
    assert v["PM2.5"][0] == 3 and np.isnan(v["PM2.5"][1]) and np.isnan(v["PM2.5"][2])
    assert v["CO"][0] == pytest.approx(0.6) and v["CO"][1] == pytest.approx(0.7)
    assert v["O3"][1] == 28 and "TEMP" not in r.values
    with pytest.raises(ReadingsError, match="line 3, fields 'year', 'month', 'day', 'hour'"):
        p.write_text(p.read_text().replace("2,2015,1,1,0,", "2,2015,13,1,0,"))
        load_readings(p, small, 2015)


# ------------------------------------------------------------------------ national layout


def test_national_layout_fixture(beijing):
    """Hour h of date D labels the end of the hour: h = 1 is 00:00–01:00 (index 0) and
    h = 0 belongs to the day before; AQI and rolling rows are not read."""
    r = load_readings(NATIONAL, beijing, 2020)
    assert any("national wide layout" in n and "end of the hour" in n for n in r.notes)
    assert set(r.values) == {"PM2.5", "PM10", "SO2", "NO2", "O3", "CO"}
    for k, sid in enumerate(NATIONAL_ORDER):
        i = list(beijing.ids).index(sid)
        np.testing.assert_array_equal(r.values["PM10"][i, :3], [70 + k + 10, 70 + k + 20,
                                                                 70 + k + 30])
        np.testing.assert_allclose(r.values["CO"][i, :2], [0.7 + 0.01 * k, 0.8 + 0.01 * k])
        assert np.isnan(r.values["PM10"][i, 3:]).all()
    assert r.matched["昌平"] == "pingchang" and r.matched["东四环"] == "dongsihuan"
    assert r.matched["房山"] == "fangshan" and r.matched["奥体中心"] == "aotizhongxin"
    assert max(np.nanmax(a) for a in r.values.values()) < 900  # no _24h / _8h / AQI row
    tiantan, dsh = list(beijing.ids).index("tiantan"), list(beijing.ids).index("dongsihuan")
    assert np.isnan(r.values["PM2.5"][tiantan, 1]) and np.isnan(r.values["CO"][dsh, 2])
    before = load_readings(NATIONAL, beijing, 2019).values["PM2.5"]
    assert before[0, -1] == 40 and np.isnan(before[0, :-1]).all()  # hour 0: 23:00-24:00
    start = load_readings(NATIONAL, beijing, 2020, hour_label="start").values["PM2.5"]
    assert start[0, 0] == 40 and start[0, 3] == 70


def test_national_all_and_extra_files_combine(tmp_path, beijing):
    """The mirrors split a day into beijing_all (AQI, PM) and beijing_extra (gases)."""
    text = NATIONAL.read_text(encoding="utf-8").splitlines()
    header, rows = text[0], text[1:]
    particles = [r for r in rows if r.split(",")[2].startswith(("AQI", "PM"))]
    gases = [r for r in rows if r not in particles]
    folder = tmp_path / "day"
    folder.mkdir()
    (folder / "beijing_all_20200101.csv").write_text("\n".join([header, *particles]) + "\n")
    (folder / "beijing_extra_20200101.csv").write_text("\n".join([header, *gases]) + "\n")
    both = load_readings(folder, beijing, 2020)
    one = load_readings(NATIONAL, beijing, 2020)
    for p in one.values:
        np.testing.assert_array_equal(both.values[p], one.values[p])


@pytest.mark.parametrize("encoding", ["gb18030", "gbk", "utf-8-sig"])
def test_gbk_and_bom_files_read_like_utf8(tmp_path, beijing, encoding):
    path = tmp_path / f"national_{encoding}.csv"
    path.write_bytes(NATIONAL.read_text(encoding="utf-8").encode(encoding))
    r = load_readings(path, beijing, 2020)
    ref = load_readings(NATIONAL, beijing, 2020)
    for p in ref.values:
        np.testing.assert_array_equal(r.values[p], ref.values[p])
    assert r.matched == ref.matched


def test_gbk_file_through_the_cli(tmp_path, capsys):
    path = tmp_path / "beijing_all_20200101.csv"
    path.write_bytes(NATIONAL.read_text(encoding="utf-8").encode("gbk"))
    rc, out, err = _cli(["readings", path, "--stations", STATIONS, "--out",
                         tmp_path / "r.parquet"], capsys)
    assert rc == 0, err
    assert "GB18030 text" in out and "2020: 35 of 35 stations, 8784 hours" in out
    forced = _cli(["readings", path, "--stations", STATIONS, "--out", tmp_path / "s.parquet",
                   "--encoding", "utf-8"], capsys)
    msg = _one_line_error(forced[0], forced[2])
    assert "not utf-8" in msg and "--encoding" in msg


# --------------------------------------------------------------------------- compression


def _compressed_copies(src: Path, tmp_path: Path) -> dict[str, Path]:
    data = src.read_bytes()
    out = {}
    for suffix, write in ((".csv.gz", gzip.compress), (".csv.xz", lzma.compress),
                          (".csv.bz2", bz2.compress)):
        out[suffix] = tmp_path / f"r{suffix}"
        out[suffix].write_bytes(write(data))
    out[".zip"] = tmp_path / "r.zip"
    with zipfile.ZipFile(out[".zip"], "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("inner/r.csv", data)
    return out


def test_compressed_files_give_the_same_readings(tmp_path, small):
    rows = [f"{s},2020-01-{d:02d} {h:02d}:00,{p},{v}" for d in (1, 2) for h in range(24)
            for s, p, v in (("dongsi", "PM2.5", 40 + h), ("wanliu", "CO", 0.1 * d))]
    plain = _long_csv(tmp_path / "r.csv", rows)
    ref = load_readings(plain, small, 2020)
    for suffix, path in _compressed_copies(plain, tmp_path).items():
        r = load_readings(path, small, 2020)
        for p in ref.values:
            np.testing.assert_array_equal(r.values[p], ref.values[p], err_msg=suffix)


def test_csv_gz_through_the_cli(tmp_path, capsys):
    rows = [f"dongsi,2021-01-01 {h:02d}:00,PM2.5,{30 + h}" for h in range(24)]
    gz = tmp_path / "r.csv.gz"
    gz.write_bytes(gzip.compress(_long_csv(tmp_path / "r.csv", rows).read_bytes()))
    rc, out, err = _cli(["stats", "--stations", SMALL, "--readings", gz, "--year", "2021",
                         "--out", tmp_path / "stats"], capsys)
    assert rc == 0, err
    assert (tmp_path / "stats" / "summary.md").is_file()
    assert "city PM2.5 not valid (1 valid days < 324 required (HJ 663))" in out


def test_file_types_and_contents_that_disagree(tmp_path, small):
    plain = _long_csv(tmp_path / "r.csv", ["dongsi,2020-01-01 00:00,PM2.5,1"])
    cases = {
        "r.gz": (gzip.compress(plain.read_bytes()), "unsupported readings file type '.gz'"),
        "r.txt": (plain.read_bytes(), "unsupported readings file type '.txt'"),
        "g.csv": (gzip.compress(plain.read_bytes()),
                  "named .csv but the file is gzip data; name it g.csv.gz"),
        "t.csv.gz": (plain.read_bytes(), "cannot read (named .gz but not gzip data)"),
        "h.csv": (b"a,b,c\n1,2,3\n", "is not a readings layout netsim knows"),
        "cut.csv.gz": (gzip.compress(plain.read_bytes() * 50)[:60], "cut.csv.gz: cannot "),
    }
    for name, (content, expected) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ReadingsError) as info:
            load_readings(path, small, 2020)
        assert expected in str(info.value) and "\n" not in str(info.value), name


def test_layout_detection():
    assert detect_layout(["station_id", "time", "pollutant", "value", "unit"]) == "long"
    assert detect_layout(["No", "year", "month", "day", "hour", "PM2.5", "station"]) == "uci"
    assert detect_layout(["date", "hour", "type", "东四"]) == "national"


# ----------------------------------------------------------------------------- station names


def test_station_names_match_id_english_chinese_pinyin_and_aliases(beijing):
    m = StationMatcher.from_network(beijing)
    names = {
        "dongsi": "dongsi", "Dongsi": "dongsi", "Changping": "pingchang",
        "昌平镇": "pingchang", "昌平": "pingchang", "Àotǐ Zhōngxīn": "aotizhongxin",
        "Olympic Sports Center": "aotizhongxin", "奥体中心": "aotizhongxin",
        "朝阳奥体中心": "aotizhongxin", "房山": "fangshan", "房山良乡": "fangshan",
        "大兴": "daxing", "亦庄": "yizhuang", "通州新城": "tongzhou", "门头沟龙泉镇": "mentougou",
        "前门": "qianmen", "永定门内": "yongdingmennei", "西直门北": "xizhimenbei",
        "南三环": "nansanhuan", "东四环": "dongsihuan", "定陵（对照点）": "dingling",
        "nong zhan guan": "nongzhanguan", "WAN-SHOU-XI-GONG": "wanshouxigong",
    }
    got = m.resolve(list(names))
    assert [str(beijing.ids[i]) for i in got] == list(names.values())
    assert normalise_name("Àotǐ Zhōngxīn") == normalise_name("aotizhongxin")


def test_alias_naming_another_station_is_refused(tmp_path):
    text = SMALL.read_text(encoding="utf-8").splitlines()
    rows = [text[0] + ",aliases"] + [r + (",天坛" if r.startswith("wanliu") else ",")
                                     for r in text[1:]]
    bad = tmp_path / "net.csv"
    bad.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(NetworkError) as info:
        Network.from_file(bad)
    msg = str(info.value)
    assert "line 4 (data row 3), field 'aliases': '天坛' also names station 'tiantan'" in msg
    assert "\n" not in msg


def test_a_name_of_two_stations_is_an_error_naming_both(tmp_path, capsys):
    net = tmp_path / "net.csv"
    net.write_text(SMALL.read_text(encoding="utf-8").replace(
        "qianmen,Qianmen East Street,", "qianmen,Dongsi,"), encoding="utf-8")
    rows = [f"Dongsi,2020-01-01 {h:02d}:00,PM2.5,40" for h in range(3)]
    rc, _, err = _cli(["stats", "--stations", net, "--readings",
                       _long_csv(tmp_path / "r.csv", rows), "--year", "2020",
                       "--out", tmp_path / "o"], capsys)
    msg = _one_line_error(rc, err)
    assert "station name 'Dongsi' matches 2 stations" in msg
    assert "dongsi and qianmen (name 'Dongsi')" in msg and not (tmp_path / "o").exists()


def test_unknown_site_name_suggests_the_station(tmp_path, capsys):
    p = tmp_path / "PRSA_Data_Changping.csv"
    p.write_text('"No","year","month","day","hour","PM2.5","CO","station"\n'
                 '1,2015,1,1,0,3,600,"Changpin"\n', encoding="utf-8")
    rc, _, err = _cli(["stats", "--stations", STATIONS, "--readings", p, "--year", "2015",
                       "--out", tmp_path / "o"], capsys)
    msg = _one_line_error(rc, err)
    assert "line 2, field 'station': station not in the network" in msg
    assert "Changpin (did you mean pingchang (name 'Changping')" in msg


# ------------------------------------------------------------------------------------- units


def _co_day_file(tmp_path: Path, values: np.ndarray, pollutant: str = "CO") -> Path:
    rows = [f"dongsi,2021-01-{1 + h // 24:02d} {h % 24:02d}:00,{pollutant},{v:g}"
            for h, v in enumerate(values)]
    return _long_csv(tmp_path / f"{pollutant}.csv", rows)


def test_co_in_ug_read_as_mg_stops_with_the_fix(tmp_path, capsys, small):
    co = np.round(np.linspace(300, 3158, 48))  # two UCI-like days of CO in µg/m³, no unit
    path = _co_day_file(tmp_path, co)
    args = ["stats", "--stations", SMALL, "--readings", path, "--year", "2021",
            "--out", tmp_path / "o"]
    msg = _one_line_error(*_cli(args, capsys)[::2])
    assert "CO values up to 3158 look like µg/m³, not read as mg/m³" in msg
    assert "pass --units CO=ug/m3" in msg and not (tmp_path / "o").exists()
    rc, out, err = _cli([*args, "--units", "CO=ug/m3"], capsys)
    assert rc == 0, err
    assert "CO read in µg/m³ (--units) and converted to mg/m³ (÷1000), 48 values" in out
    r = load_readings(path, small, 2021, units={"CO": "µg/m³"})
    np.testing.assert_allclose(r.values["CO"][0, :48], co / 1000)


def test_uci_co_declared_mg_is_refused(capsys, tmp_path):
    """The UCI layout's CO is µg/m³; overriding it with mg/m³ is caught by magnitude."""
    msg = _one_line_error(*_cli(["stats", "--stations", STATIONS, "--readings", UCI_2015,
                                 "--year", "2015", "--units", "CO=mg/m3", "--out",
                                 tmp_path / "o"], capsys)[::2])
    assert "PRSA_Data_Aotizhongxin_20150101-20151231.csv.gz: CO values up to" in msg
    assert "look like µg/m³, not read as mg/m³ (as --units / units: declared)" in msg


def test_particles_in_mg_stop_with_the_fix(tmp_path, small):
    path = _co_day_file(tmp_path, np.linspace(0.02, 0.2, 48), pollutant="PM2.5")
    with pytest.raises(ReadingsError, match=r"PM2\.5 values up to 0\.2 look like mg/m³.*"
                                            r"--units PM2\.5=mg/m3"):
        load_readings(path, small, 2021)
    r = load_readings(path, small, 2021, units=["PM2.5=mg/m3"])
    assert r.values["PM2.5"][0, 0] == pytest.approx(20.0)


def test_unit_column_converts_row_by_row(tmp_path, small):
    path = _long_csv(tmp_path / "u.csv", [
        "dongsi,2020-01-01 00:00,CO,1400,ug/m3",
        "dongsi,2020-01-01 01:00,CO,1.4,mg/m³",
        "dongsi,2020-01-01 02:00,CO,1.5,",
        "dongsi,2020-01-01 03:00,NO2,41,µg/m3",
    ], header="station_id,time,pollutant,value,unit")
    r = load_readings(path, small, 2020)
    np.testing.assert_allclose(r.values["CO"][0, :3], [1.4, 1.4, 1.5])
    assert r.values["NO2"][0, 3] == 41
    bad = _long_csv(tmp_path / "ppb.csv", ["dongsi,2020-01-01 00:00,NO2,21,ppb"],
                    header="station_id,time,pollutant,value,unit")
    with pytest.raises(ReadingsError, match=r"line 2, field 'unit': unit 'ppb' is a mixing "
                                            r"ratio; expected ug/m3"):
        load_readings(bad, small, 2020)


def test_units_option_errors():
    assert parse_units_option(["CO=ug/m3", "pm25 = µg/m³,NO2=MG/M3"]) == {
        "CO": "µg/m³", "PM2.5": "µg/m³", "NO2": "mg/m³"}
    for text, expected in (("CO", "expected POLLUTANT=UNIT"), ("NOx=ug/m3", "unknown pollutant"),
                           ("O3=ppb", "mixing ratio"), ("CO=g/l", "unknown unit 'g/l'")):
        with pytest.raises(ReadingsError, match=expected):
            parse_units_option(text)


# ------------------------------------------------------------------------------------- times


def test_hour_without_minutes_and_24_00(tmp_path, small):
    path = _long_csv(tmp_path / "t.csv", ["dongsi,2015-1-1 0,PM10,1", "dongsi,2015-1-1 23,PM10,2",
                                          "dongsi,2015-01-01 24:00,PM10,3"])
    v = load_readings(path, small, 2015).values["PM10"][0]
    assert (v[0], v[23], v[24]) == (1, 2, 3) and np.isnan(v[25:]).all()


def test_same_hour_in_two_files_is_a_duplicate(tmp_path, small):
    a = _long_csv(tmp_path / "a.csv", ["dongsi,2020-01-01 00:00,PM2.5,1"])
    b = _long_csv(tmp_path / "b.csv", ["wanliu,2020-01-01 00:00,PM2.5,1",
                                       "dongsi,2020-01-01 00:00,PM2.5,2"])
    with pytest.raises(ReadingsError) as info:
        load_readings([a, b], small, 2020)
    assert str(info.value).startswith(f"{a} line 2; {b} line 3, duplicated")


# --------------------------------------------------------------------------- netsim readings


def test_netsim_readings_writes_parquet_that_loads_back_identically(tmp_path, capsys, beijing):
    out = tmp_path / "uci_2015.parquet"
    rc, text, err = _cli(["readings", UCI_2015, "--stations", STATIONS, "--out", out], capsys)
    assert rc == 0, err
    assert "names matched: Aotizhongxin -> aotizhongxin, Changping -> pingchang" in text
    assert "2015: 12 of 35 stations, 8760 hours; missing: PM2.5 2.0%" in text
    assert "CO read in µg/m³ (the layout's documented unit) and converted" in text
    direct = load_readings(UCI_2015, beijing, 2015)
    back = load_readings(out, beijing, 2015)
    assert set(back.values) == set(direct.values) and not back.notes[1:]  # nothing converted
    for p in direct.values:
        np.testing.assert_array_equal(back.values[p], direct.values[p])
    frame = pd.read_parquet(out)
    assert list(frame.columns) == ["station_id", "time", "pollutant", "value"]
    assert set(frame["station_id"]) == set(direct.coverage().stations)


def test_netsim_readings_keeps_every_year(tmp_path, capsys, small):
    rows = ["dongsi,2019-12-31 23:00,NO2,10", "dongsi,2020-01-01 00:00,NO2,20"]
    src = _long_csv(tmp_path / "two.csv", rows)
    out = tmp_path / "two.parquet"
    rc, text, err = _cli(["readings", src, "--stations", SMALL, "--out", out], capsys)
    assert rc == 0, err
    assert "2019: 1 of 7 stations, 8760 hours" in text and "2020: 1 of 7 stations" in text
    assert load_readings(out, small, 2019).values["NO2"][0, -1] == 10
    assert load_readings(out, small, 2020).values["NO2"][0, 0] == 20
    bad = _cli(["readings", src, "--stations", SMALL, "--out", tmp_path / "x.csv"], capsys)
    assert "written as .parquet" in _one_line_error(bad[0], bad[2])


# ----------------------------------------------------------------- scenario readings: section


def test_scenario_readings_section_passes_every_reader_option(tmp_path):
    from netsim.realdata import load_run_readings
    from netsim.scenario import Scenario

    folder = tmp_path / "more"
    folder.mkdir()
    _long_csv(tmp_path / "a.csv", ["dongsi,2020-01-01 01:00,CO,1400"])
    _long_csv(folder / "b.csv", ["wanliu,2020-01-01 02:00,CO,700"])
    sc = Scenario.from_dict({
        "name": "real", "base_network": str(SMALL), "year": 2020,
        "readings": {"path": ["a.csv", "more"], "units": {"co": "ug/m3"}, "hour_label": "end",
                     "format": "long", "encoding": "utf-8"},
    }, source=tmp_path / "real.yaml")
    assert sc.readings_paths() == [tmp_path / "a.csv", folder]
    r = load_run_readings(sc, Network.from_file(SMALL))
    assert r.values["CO"][0, 0] == pytest.approx(1.4) and r.values["CO"][2, 1] == pytest.approx(0.7)
    short = Scenario.from_dict({"name": "s", "base_network": str(SMALL), "readings": "more"},
                               source=tmp_path / "s.yaml")
    assert short.readings.hour_label is None and short.readings_paths() == [folder]


@pytest.mark.parametrize(("readings", "expected"), [
    ({"path": "a.csv", "units": {"NO2": "ppb"}}, "readings.units: NO2: unit 'ppb' is a mixing"),
    ({"path": "a.csv", "format": "excel"}, "readings.format"),
    ({"path": []}, "readings.path"),
])
def test_scenario_readings_section_errors(tmp_path, readings, expected):
    from netsim.errors import ScenarioError
    from netsim.scenario import Scenario

    with pytest.raises(ScenarioError) as info:
        Scenario.from_dict({"name": "x", "base_network": str(SMALL), "readings": readings})
    assert expected in str(info.value) and "\n" not in str(info.value)


# ------------------------------------------------------------------- the shipped real scenario

SHIPPED = ROOT / "scenarios" / "real_2015_retire_two.yaml"
REMOVED = ("tiantan", "wanshouxigong")


def _uci_annual_means_by_hand() -> pd.DataFrame:
    """HJ 663 with pandas from the raw UCI files: a day needs 20 valid hours, a year 324
    valid days and 27 per month (25 in February); annual = mean of the valid daily means.
    CO from µg/m³ to mg/m³.  Also the valid hours of each site and pollutant."""
    frames = [pd.read_csv(f) for f in sorted(UCI_2015.glob("*.csv.gz"))]
    df = pd.concat(frames, ignore_index=True)
    df["CO"] = df["CO"] / 1000.0
    df["day"] = pd.to_datetime(df[["year", "month", "day"]])
    out = {}
    for p in ("PM2.5", "PM10", "NO2", "SO2", "O3", "CO"):
        g = df.groupby(["station", "day"])[p].agg(["mean", "count"]).reset_index()
        hours = df.groupby("station")[p].count()
        valid = g[g["count"] >= 20]
        for site, d in valid.groupby("station"):
            per_month = d["day"].dt.month.value_counts().reindex(range(1, 13), fill_value=0)
            need = np.where(per_month.index == 2, 25, 27)
            if len(d) >= 324 and (per_month.to_numpy() >= need).all():
                out[(site, p)] = (d["mean"].mean(), int(hours[site]))
    return pd.DataFrame.from_dict(out, orient="index", columns=["annual", "hours"])


@pytest.mark.slow
def test_shipped_real_scenario_runs_fast_and_its_held_out_errors_are_hand_computed(tmp_path):
    """``netsim run scenarios/real_2015_retire_two.yaml`` as shipped (1 km grid, six
    pollutants): under 30 s of CPU; at each removed station the scenario map's estimate is
    ordinary kriging of the remaining map stations' hand-computed annual means with their
    measurement-error variances on the diagonal, solved here with numpy."""
    from netsim.rasters import read_raster
    from netsim.run import run_scenario
    from netsim.scenario import load_scenario
    from netsim.variogram import Variogram

    out = tmp_path / "real"
    wall, cpu = time.perf_counter(), time.process_time()
    run_scenario(load_scenario(SHIPPED), out)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    assert cpu < 30, f"{cpu:.1f} s CPU"
    assert wall < 120, f"{wall:.1f} s wall clock"  # generous: the machine may be loaded
    summary = json.loads((out / "summary.json").read_text())
    assert summary["data"]["kind"] == "real readings" and summary["realisations"] == 1

    held = pd.read_csv(out / "scenario" / "held_out.csv")
    annual = _uci_annual_means_by_hand()
    site = {"pingchang": "Changping", **{s: s.capitalize() for s in (
        "aotizhongxin", "dingling", "dongsi", "guanyuan", "gucheng", "huairou",
        "nongzhanguan", "shunyi", "tiantan", "wanliu", "wanshouxigong")}}
    net = Network.from_file(STATIONS)
    kept = sorted(set(site) - set(REMOVED))  # all of map types (urban, background)
    for p in ("PM2.5", "PM10", "NO2", "SO2", "O3", "CO"):
        slug = p.lower().replace(".", "")
        tags = read_raster(out / "scenario" / "rasters" / f"{slug}_annual_mean.tif").tags
        vg = Variogram.from_dict(json.loads(tags["variogram"]))
        use = [s for s in kept if (site[s], p) in annual.index]
        z = np.array([annual.loc[[(site[s], p)], "annual"].iloc[0] for s in use])
        hours = np.array([annual.loc[[(site[s], p)], "hours"].iloc[0] for s in use])
        estimates = noisy_ordinary_kriging(
            net.xy[net.index_of(use)], z, reference_analyser_noise(z, hours),
            net.xy[net.index_of(list(REMOVED))], vg)
        for sid, estimate in zip(REMOVED, estimates, strict=True):
            row = held[(held["station_id"] == sid) & (held["pollutant"] == p)].iloc[0]
            observed = annual.loc[[(site[sid], p)], "annual"].iloc[0]
            # held_out.csv keeps 4 decimals
            assert row["observed"] == pytest.approx(observed, abs=1e-4), (sid, p)
            assert row["estimate"] == pytest.approx(estimate, abs=1e-4), (sid, p)
            assert row["error"] == pytest.approx(estimate - observed, abs=2e-4), (sid, p)
    assert len(held) == 12  # both removed stations, all six pollutants


@pytest.mark.slow
def test_readme_own_readings_commands_run(tmp_path, monkeypatch, capsys):
    """Every command of the README section "Your own readings" runs as written (in a copy
    of the repository's scenarios, stations and test fixture)."""
    import re
    import shlex

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Your own readings", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    commands = [c for b in blocks for c in b.replace("\\\n", " ").splitlines()
                if c.strip() and not c.lstrip().startswith("#")]
    assert [c.split()[1] for c in commands] == ["readings", "stats", "krige", "run", "readings"]
    for name in ("scenarios", "stations", "tests/data/readers"):
        shutil.copytree(ROOT / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    for command in commands:
        args = shlex.split(command)
        assert args[0] == "netsim", command
        rc = main(args[1:])
        assert rc == 0, f"{command}: {capsys.readouterr().err[-2000:]}"
    assert (tmp_path / "runs" / "real_2015" / "scenario" / "held_out.csv").is_file()
    assert (tmp_path / "pm25_2015.tif").is_file() and (tmp_path / "national.parquet").is_file()
