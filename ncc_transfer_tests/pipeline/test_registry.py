"""The schools registry: valid files load; every error names file, school and field."""

from pathlib import Path

import pytest

from ncc_transfer.registry import RegistryError, load_registry, split_partition_key

GOOD = """
local_authority: {code: "926", name: "Norfolk"}
schools:
  - laestab: "9262001"
    urn: "121234"
    name: "Example Primary School"
    mis: files
    source: {path: landing/9262001}
    contact: data.manager@example.sch.uk
  - laestab: "9264001"
    name: "Example High School"
    mis: files
    source: {path: /srv/landing/9264001}
    active: false
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "schools.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_registry_loads_with_partition_keys(tmp_path):
    registry = load_registry(write(tmp_path, GOOD))
    assert registry.la_code == "926"
    assert [s.key for s in registry.schools] == ["9262001-files", "9264001-files"]
    assert [s.key for s in registry.active_schools] == ["9262001-files"]
    first, second = registry.schools
    assert first.urn == "121234" and first.contact == "data.manager@example.sch.uk" and first.active
    assert first.landing_folder(tmp_path) == tmp_path / "landing/9262001"
    assert second.landing_folder(tmp_path) == Path("/srv/landing/9264001")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (('laestab: "9262001"', 'laestab: "92620"'), "school 1 (92620): laestab: '92620' is not 7 digits"),
        (('laestab: "9262001"', 'laestab: "8262001"'), "school 1 (8262001): laestab: 8262001 does not start with the LA number 926"),
        (("mis: files\n    source: {path: landing/9262001}", "mis: capita\n    source: {path: x}"), "school 1 (9262001): mis: 'capita' is not one of"),
        (("source: {path: landing/9262001}", "source: {}"), "school 1 (9262001): source.path: missing (required for mis: files)"),
        (("source: {path: landing/9262001}", "source: {path: landing/../../etc}"), "school 1 (9262001): source.path: must not contain '..'"),
        (('name: "Example Primary School"', "name: ''"), "school 1 (9262001): name: missing"),
        (('urn: "121234"', 'urn: "12"'), "school 1 (9262001): urn: '12' is not a 6-digit URN"),
        (("contact: data.manager@example.sch.uk", "contact: nobody"), "school 1 (9262001): contact: 'nobody' is not an email address"),
        (("contact: data.manager@example.sch.uk", "contact: data.manager@example.sch.uk\n    officer: at norfolk"),
         "school 1 (9262001): officer: 'at norfolk' is not an email address"),
        (("active: false", "active: maybe"), "school 2 (9264001): active: expected true or false, got 'maybe'"),
        (('laestab: "9264001"', 'laestab: "9262001"'), "school 2 (9262001): duplicate key 9262001-files (also school 1 (9262001))"),
        (('code: "926"', 'code: "9X6"'), "local_authority.code: '9X6' is not a 3-digit LA number"),
        (("    contact:", "    colour: red\n    contact:"), "school 1 (9262001): unknown field 'colour'"),
        (("    contact:", "    final_year: 15\n    contact:"), "school 1 (9262001): final_year: expected an NC year 1-14"),
        (("    contact:", "    final_year: 0\n    contact:"), "school 1 (9262001): final_year: expected an NC year 1-14"),
        (("    contact:", '    final_year: "6"\n    contact:'), "school 1 (9262001): final_year: expected an NC year 1-14 as a whole number (e.g. 6), got '6'"),
        (("    contact:", "    final_year: 6.5\n    contact:"), "school 1 (9262001): final_year: expected an NC year 1-14"),
        (("    contact:", "    final_year: true\n    contact:"), "school 1 (9262001): final_year: expected an NC year 1-14"),
        (("    contact:", "    final_year: R\n    contact:"), "school 1 (9262001): final_year: expected an NC year 1-14"),
        (("    contact:", "    phase: infant\n    contact:"),
         "school 1 (9262001): phase: expected one of primary, secondary, special, all-through, alternative provision, "
         "got 'infant'"),
    ],
)
def test_registry_errors_name_file_school_and_field(tmp_path, change, expected):
    path = write(tmp_path, GOOD.replace(*change, 1))
    with pytest.raises(RegistryError) as raised:
        load_registry(path)
    assert str(path) in str(raised.value)
    assert any(expected in problem for problem in raised.value.problems), raised.value.problems


def test_final_year_is_optional_and_parsed(tmp_path):
    registry = load_registry(write(tmp_path, GOOD.replace("    contact:", "    final_year: 6  # optional\n    contact:", 1)
                                   .replace("    active: false", "    active: false\n    final_year: 11", 1)))
    first, second = registry.schools
    assert (first.final_year, second.final_year) == (6, 11)
    assert registry.final_years() == {"9262001-files": 6, "9264001-files": 11}
    plain = load_registry(write(tmp_path, GOOD))
    assert [s.final_year for s in plain.schools] == [None, None] and plain.final_years() == {}


def test_phase_is_optional_and_parsed(tmp_path):
    registry = load_registry(write(tmp_path, GOOD.replace("    contact:", "    phase: alternative provision\n    contact:", 1)))
    assert [s.phase for s in registry.schools] == ["alternative provision", None]


def test_all_problems_reported_at_once(tmp_path):
    path = write(tmp_path, GOOD.replace('laestab: "9262001"', 'laestab: "1"').replace("mis: files", "mis: nope", 1))
    with pytest.raises(RegistryError) as raised:
        load_registry(path)
    assert len(raised.value.problems) == 2


def test_unreadable_registry(tmp_path):
    with pytest.raises(RegistryError, match="file not found"):
        load_registry(tmp_path / "missing.yaml")
    with pytest.raises(RegistryError, match=r"line \d+, column \d+: not valid YAML"):
        load_registry(write(tmp_path, "schools: [\n  - {laestab: 1"))
    with pytest.raises(RegistryError, match="schools: missing or empty"):
        load_registry(write(tmp_path, 'local_authority: {code: "926", name: N}\nschools: []\n'))


def test_partition_keys_round_trip():
    assert split_partition_key("9262001-files") == ("9262001", "files")
    assert split_partition_key("9262001-pupil_asset") == ("9262001", "pupil_asset")
    for bad in ("9262001_files", "926-files", "9262001-unknown", "9262001-files|x"):
        with pytest.raises(ValueError):
            split_partition_key(bad)


def _vendor_registry(tmp_path, mis: str, source: dict) -> Path:
    import yaml

    path = tmp_path / "schools.yaml"
    path.write_text(yaml.safe_dump({"local_authority": {"code": "926", "name": "Test"},
                                    "schools": [{"laestab": "9262001", "name": "A School", "mis": mis,
                                                 "source": source}]}))
    return path


@pytest.mark.parametrize("mis, source, expected", [
    ("xporter", {"relying_party": "la-app"}, r"school 1 \(9262001\): source\.secret_env: missing \(required for mis: xporter\)"),
    ("sims", {"organisation_id": "1", "client_id_env": "A", "client_secret_env": "B"}, r"source\.subscription_key_env: missing"),
    ("arbor", {"user_env": "U", "password_env": "P"}, r"source\.base_url: missing"),
    ("wonde", {"school_id": "A1", "token_env": "sk_live_0123456789/abc+def"}, r"source\.token_env: must be the NAME of an environment variable"),
    ("wonde", {"school_id": "A1", "token_env": "T", "tokenenv": "x"}, r"source\.tokenenv: not a setting of the wonde route"),
    ("wonde", {"school_id": "A1", "token_env": "T", "base_url": "http://api.wonde.com"}, r"source\.base_url: must use https"),
    ("wonde", {"school_id": "A1", "token_env": "Zq8TOKENCANARY77x"},
     r"school 1 \(9262001\): source\.token_env: must be the NAME of an environment variable \(uppercase letters"),
    ("wonde", {"school_id": "A1", "token_env": "wonde_token_9262001"}, r"source\.token_env: must be the NAME"),
    ("wonde", {"school_id": "A1", "token_env": "9TOKEN"}, r"source\.token_env: must be the NAME"),
    ("wonde", {"school_id": "A1", "token_env": "T", "base_url": "ftp://x"}, r"source\.base_url: not an http\(s\) URL"),
    ("wonde", {"school_id": "A1", "token_env": "T", "base_url": "https://u:p@api.wonde.com"}, r"must not carry a query string or credentials"),
])
def test_vendor_route_settings_are_validated(tmp_path, mis, source, expected):
    with pytest.raises(RegistryError, match=expected) as caught:
        load_registry(_vendor_registry(tmp_path, mis, source))
    # a secret written in the wrong place is never echoed: problems name the setting, not its value
    echoed = [v for k, v in source.items() if (k.endswith("_env") or k.endswith("_url")) and len(v) > 1
              and v in str(caught.value)]
    assert not echoed


def test_vendor_route_settings_accepted(tmp_path):
    registry = load_registry(_vendor_registry(tmp_path, "xporter", {
        "relying_party": "la-app", "secret_env": "XOD_SECRET_9262001", "base_url": "http://127.0.0.1:8765/xporter",
        "rate_per_second": 2, "full_refresh_days": 7}))
    assert registry.school("9262001-xporter").source["secret_env"] == "XOD_SECRET_9262001"


def test_the_officer_is_an_optional_email_address(tmp_path):
    text = GOOD.replace("contact: data.manager@example.sch.uk",
                        "contact: data.manager@example.sch.uk\n    officer: attendance.officer@norfolk.gov.uk")
    first, second = load_registry(write(tmp_path, text)).schools
    assert first.officer == "attendance.officer@norfolk.gov.uk" and second.officer is None
