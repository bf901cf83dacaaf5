"""Malformed and hostile files fail only their own school, with a message naming file and location."""

from __future__ import annotations

import shutil

import yaml

from ncc_transfer_tests.conftest import DEMO_AS_OF, ncc_env

CTF_HEAD = ('<?xml version="1.0" encoding="utf-8"?>\n<CTfile><Header><CTFversion>25.0</CTFversion>'
            '<SourceSchool><LEA>926</LEA><Estab>{estab}</Estab></SourceSchool></Header><CTFpupilData>')
PUPIL = ("<Pupil><UPN>H801200001001</UPN><Surname>Secretname</Surname><Forename>Ann</Forename>"
         "<DOB>2015-03-02</DOB><Sex>F</Sex></Pupil>")

HOSTILE = {
    "truncated": lambda estab: (CTF_HEAD.format(estab=estab) + PUPIL)[:-40].encode(),
    "billion_laughs": lambda estab: (
        '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>\n'
        + CTF_HEAD.format(estab=estab).split("\n", 1)[1] + PUPIL.replace("Secretname", "&lol3;")
        + "</CTFpupilData></CTfile>").encode(),
    "external_entity": lambda estab: (
        '<?xml version="1.0"?>\n<!DOCTYPE CTfile [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
        + CTF_HEAD.format(estab=estab).split("\n", 1)[1] + PUPIL.replace("Secretname", "&xxe;")
        + "</CTFpupilData></CTfile>").encode(),
    "wrong_encoding": lambda estab: (CTF_HEAD.format(estab=estab) + PUPIL.replace("Secretname", "Secretnamé")
                                     + "</CTFpupilData></CTfile>").encode("latin-1"),
}


def test_each_hostile_file_fails_only_its_school(small_la):
    from ncc_transfer.cli import _load_registry, run_night
    from ncc_transfer.warehouse import DuckDBWarehouse

    home, demo = small_la
    registry_path = home / "schools.yaml"
    document = yaml.safe_load(registry_path.read_text())
    for number, (kind, make) in enumerate(HOSTILE.items(), start=1):
        estab = f"{9000 + number}"
        folder = home / "landing" / f"926{estab}"
        folder.mkdir(parents=True)
        (folder / f"{kind}.xml").write_bytes(make(estab))
        document["schools"].append({"laestab": f"926{estab}", "name": f"Hostile {kind}", "mis": "files",
                                    "source": {"path": f"landing/926{estab}"}})
    registry_path.write_text(yaml.safe_dump(document, sort_keys=False))

    with ncc_env(home):
        result = run_night(_load_registry(), as_of=DEMO_AS_OF)
        warehouse = DuckDBWarehouse(home / "warehouse.duckdb")
        issues = warehouse.read("SELECT school_key, location, message FROM validation_issues WHERE rule = 'file_unreadable'")
        loaded = warehouse.read("SELECT DISTINCT school_key FROM pupils")
        warehouse.close()

    assert result.failed == len(HOSTILE)
    assert result.loaded == sum(s["active"] for s in demo.schools)
    assert set(loaded["school_key"]) == {f"{s['laestab']}-files" for s in demo.schools if s["active"]}
    for number, kind in enumerate(HOSTILE, start=1):
        key = f"926{9000 + number}-files"
        line = next(line for line in result.lines if line.startswith(key))
        assert "FAILED" in line and f"{kind}.xml" in line, line
        assert "Secretname" not in line and "root:" not in line
        issue = issues[issues["school_key"] == key]
        assert len(issue) == 1 and issue["location"].iloc[0].startswith(f"{kind}.xml")
    assert "DTD" in next(line for line in result.lines if line.startswith("9269002"))
