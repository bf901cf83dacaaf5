"""``connectors.records``: a vendor's records column by column keep the semantics of the dict of rows
they replace, and the raw extract built from them is the one the dicts gave."""

from __future__ import annotations

from ncc_transfer.connectors.records import CHUNK, Records, records_from
from ncc_transfer.connectors.snapshot import STUDENT_KEY, Snapshot, build_raw
from ncc_transfer.validation.common import location


def test_a_repeated_id_keeps_its_first_place_and_its_last_values():
    # As a dict fed the same rows: {"a": ..., "b": ...} then "a" again replaces a's values in place.
    records = records_from([("a", {"code": "/"}), ("b", {"code": "N"}), ("a", {"code": "L", "session": "AM"})])
    assert records.rows() == {"a": {"code": "L", "session": "AM"}, "b": {"code": "N", "session": None}}


def test_a_repeat_across_batches_is_found():
    # The builder turns every CHUNK records into a batch: the repeat is in another batch.
    pairs = [(str(n), {"code": "/"}) for n in range(CHUNK + 10)] + [("3", {"code": "N"})]
    records = records_from(pairs)
    assert len(records) == CHUNK + 10 and records.rows()["3"] == {"code": "N"} and records.ids()[3] == "3"


def test_updated_is_dict_update():
    old = Records.from_rows({"1": {"date": "2026-03-02"}, "2": {"date": "2026-03-03"}})
    new = Records.from_rows({"2": {"date": "2026-03-04"}, "3": {"date": "2026-03-05"}})
    expected = {"1": {"date": "2026-03-02"}, "2": {"date": "2026-03-04"}, "3": {"date": "2026-03-05"}}
    assert old.updated(new).rows() == expected


def test_the_raw_extract_resolves_pupils_and_numbers_each_source():
    marks = records_from([
        ("m1", {STUDENT_KEY: "s1", "date": "2026-03-02", "session": "AM", "code": "/", "_source": "/attendance"}),
        ("m2", {STUDENT_KEY: "s2", "date": "2026-03-02", "session": "AM", "code": "N", "_source": "/leavers"}),
        ("m3", {STUDENT_KEY: "s1", "date": "2026-03-02", "session": "PM", "code": "/", "_source": "/attendance"}),
        ("m4", {STUDENT_KEY: "gone", "date": "2026-03-03", "session": "AM", "code": "/"}),  # no source: the table's
    ])
    snapshot = Snapshot(pupils={"s1": {"upn": "A123"}, "s2": {"upn": "B456"}}, attendance=marks,
                        sources={"attendance": "/attendance"})
    raw = build_raw(snapshot).tables["attendance"]
    assert raw["upn"].tolist() == ["A123", "B456", "A123", None]  # an unknown pupil id: no UPN, for validation
    assert raw["_source"].tolist() == ["/attendance", "/leavers", "/attendance", "/attendance"]
    assert raw["_line"].tolist() == [1, 1, 2, 3]
    assert raw["upn"].iloc[0] is raw["upn"].iloc[2]  # a repeated value is one object
    assert location(raw["_source"].iloc[2], raw["_line"].iloc[2]) == "/attendance line 2"
