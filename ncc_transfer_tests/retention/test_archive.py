"""The raw archive: encrypted at rest, authenticated, bound to school and night, restorable exactly."""

from __future__ import annotations

import logging
import os
import stat
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ncc_transfer import archive
from ncc_transfer.archive import (
    ArchiveError,
    archive_files,
    archive_payloads,
    archived_nights,
    generate_key,
    key_id,
    remove_night,
    restore,
)

NIGHT = date(2026, 3, 20)
SCHOOL, LAESTAB = "9262001-files", "9262001"
OTHER_SCHOOL, OTHER_LAESTAB = "9262002-files", "9262002"

PUPILS = (b"upn,surname,forename,dob,sex\n" + b"".join(
    f"A92620011{n:04d},Surname{n},Forename{n},2015-0{1 + n % 9}-1{n % 10},F\n".encode() for n in range(200)))
CTF = b"<?xml version='1.0'?><CTfile><Header>" + b"<Pupil><UPN>B926200110001</UPN></Pupil>" * 300 + b"</CTfile>"
BINARY = bytes(range(256)) * 40


@pytest.fixture()
def key(monkeypatch) -> str:
    value = generate_key()
    monkeypatch.setenv("NCC_ARCHIVE_KEY", value)
    monkeypatch.delenv("NCC_ARCHIVE_OLD_KEYS", raising=False)
    return value


@pytest.fixture()
def landing(tmp_path) -> list[Path]:
    """Three raw files with distinct, exact (nanosecond) modification times."""
    folder = tmp_path / "landing"
    folder.mkdir()
    files = []
    for offset, (name, data) in enumerate([("pupils.csv", PUPILS), ("9262001_CTF25_20260319.xml", CTF),
                                           ("attendance.csv", BINARY)]):
        path = folder / name
        path.write_bytes(data)
        stamp = 1_773_900_000_123_456_789 + offset * 7_000_000_001
        os.utime(path, ns=(stamp, stamp))
        files.append(path)
    return files


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_round_trip_restores_bytes_names_and_mtimes(tmp_path, key, landing):
    home = tmp_path / "home"
    folder = archive_files(home, SCHOOL, LAESTAB, NIGHT, landing)
    assert folder == home / "archive" / SCHOOL / "2026-03-20"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [p.name + ".enc" for p in landing] + ["manifest.json.enc"])
    assert archived_nights(home, SCHOOL) == [NIGHT]
    assert archived_nights(home, OTHER_SCHOOL) == []

    restored = restore(home, LAESTAB, SCHOOL, NIGHT, tmp_path / "replay")
    assert [p.name for p in restored] == [p.name for p in landing]
    for original, copy in zip(landing, restored):
        assert copy.read_bytes() == original.read_bytes()
        assert copy.stat().st_mtime_ns == original.stat().st_mtime_ns

    manifest = archive.read_manifest(home, LAESTAB, SCHOOL, NIGHT)
    assert manifest["route"] == "files" and manifest["school_key"] == SCHOOL and manifest["night"] == "2026-03-20"
    assert [f["size"] for f in manifest["files"]] == [len(PUPILS), len(CTF), len(BINARY)]
    assert manifest["key_id"] == key_id(archive.keys_from_env().current)


def test_restored_demo_folder_reads_the_same_extract(tmp_path, key, small_la):
    """Replay depends on the files route choosing the same files from the restored copy (newest wins)."""
    from ncc_transfer.files_route import read_school_folder
    from ncc_transfer.registry import load_registry

    home, _ = small_la
    for school in load_registry(home / "schools.yaml").active_schools:
        folder = school.landing_folder(home)
        original = read_school_folder(folder, school.laestab)
        archive_files(home, school.key, school.laestab, NIGHT, sorted(p for p in folder.iterdir() if p.is_file()))
        copy = tmp_path / "replay" / school.laestab
        restore(home, school.laestab, school.key, NIGHT, copy)
        replayed = read_school_folder(copy, school.laestab)
        assert replayed.sources == original.sources
        assert replayed.warnings == original.warnings
        for table, frame in original.tables.items():
            pd.testing.assert_frame_equal(replayed.tables[table], frame)


def test_payloads_round_trip_with_their_route(tmp_path, key):
    home = tmp_path / "home"
    archive_payloads(home, "9262001-wonde", LAESTAB, NIGHT, {"students.json": b'{"data": []}', "page_2.json": b"[]"},
                     route="wonde")
    restored = restore(home, LAESTAB, "9262001-wonde", NIGHT, tmp_path / "out")
    assert {p.name: p.read_bytes() for p in restored} == {"students.json": b'{"data": []}', "page_2.json": b"[]"}
    assert archive.read_manifest(home, LAESTAB, "9262001-wonde", NIGHT)["route"] == "wonde"


def test_no_key_means_archiving_off_and_replay_refused(tmp_path, monkeypatch, landing, caplog):
    monkeypatch.delenv("NCC_ARCHIVE_KEY", raising=False)
    monkeypatch.delenv("NCC_ARCHIVE_OLD_KEYS", raising=False)
    monkeypatch.setattr(archive.write, "_warned_no_key", False)  # warned once per process
    home = tmp_path / "home"
    with caplog.at_level(logging.WARNING, logger="ncc_transfer.archive"):
        assert archive_files(home, SCHOOL, LAESTAB, NIGHT, landing) is None
        assert archive_payloads(home, SCHOOL, LAESTAB, NIGHT, {"a.json": b"{}"}, route="wonde") is None
    warnings = [r for r in caplog.records if "NCC_ARCHIVE_KEY" in r.getMessage()]
    assert len(warnings) == 1  # once per process, not once per school
    assert not (home / "archive").exists()
    with pytest.raises(ArchiveError, match="archive is off.*NCC_ARCHIVE_KEY is not set"):
        restore(home, LAESTAB, SCHOOL, NIGHT, tmp_path / "out")


def test_unreadable_without_the_key_or_with_another(tmp_path, monkeypatch, key, landing):
    home = tmp_path / "home"
    folder = archive_files(home, SCHOOL, LAESTAB, NIGHT, landing)
    blob = (folder / "pupils.csv.enc").read_bytes()
    other = generate_key()

    # The primitive itself: the file is AES-GCM that the right key opens and another key does not.
    header, nonce, body = blob[:archive.HEADER_LENGTH], blob[16:28], blob[archive.HEADER_LENGTH:]
    aad = archive.crypto.aad(header, "file", SCHOOL, LAESTAB, NIGHT, "pupils.csv")
    assert AESGCM(archive.keys.decode_key(key, "test")).decrypt(nonce, body, aad) == PUPILS
    with pytest.raises(InvalidTag):
        AESGCM(archive.keys.decode_key(other, "test")).decrypt(nonce, body, aad)

    monkeypatch.delenv("NCC_ARCHIVE_KEY")
    with pytest.raises(ArchiveError, match="NCC_ARCHIVE_KEY is not set"):
        restore(home, LAESTAB, SCHOOL, NIGHT, tmp_path / "out0")

    monkeypatch.setenv("NCC_ARCHIVE_KEY", other)
    with pytest.raises(ArchiveError, match=r"not configured \(key id [0-9a-f]{8}\)") as caught:
        restore(home, LAESTAB, SCHOOL, NIGHT, tmp_path / "out1")
    assert key not in str(caught.value) and other not in str(caught.value)

    # Forge the files' key id so the other key is tried: authentication fails.
    other_id = key_id(archive.keys.decode_key(other, "test")).encode()
    for path in folder.iterdir():
        data = bytearray(path.read_bytes())
        data[8:16] = other_id
        path.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match="failed authentication"):
        restore(home, LAESTAB, SCHOOL, NIGHT, tmp_path / "out2")


@pytest.mark.parametrize("where", ["nonce", "body", "tag"])
def test_a_tampered_byte_is_rejected(tmp_path, key, landing, where):
    home = tmp_path / "home"
    folder = archive_files(home, SCHOOL, LAESTAB, NIGHT, landing)
    target = folder / "pupils.csv.enc"
    data = bytearray(target.read_bytes())
    position = {"nonce": 20, "body": len(data) // 2, "tag": len(data) - 1}[where]
    data[position] ^= 0x01
    target.write_bytes(bytes(data))
    dest = tmp_path / "out"
    with pytest.raises(ArchiveError) as caught:
        restore(home, LAESTAB, SCHOOL, NIGHT, dest)
    assert str(caught.value) == ("archive file pupils.csv for 9262001 on 2026-03-20 failed authentication "
                                 "(tampered, or encrypted with another key)")
    assert list(dest.iterdir()) == []  # nothing half-restored


def test_a_file_moved_to_another_school_or_night_is_rejected(tmp_path, key, landing):
    home = tmp_path / "home"
    ours = archive_files(home, SCHOOL, LAESTAB, NIGHT, landing)
    theirs = archive_files(home, OTHER_SCHOOL, OTHER_LAESTAB, NIGHT, landing)
    later = archive_files(home, SCHOOL, LAESTAB, date(2026, 3, 21), landing)

    (theirs / "pupils.csv.enc").write_bytes((ours / "pupils.csv.enc").read_bytes())
    with pytest.raises(ArchiveError, match="pupils.csv for 9262002 on 2026-03-20 failed authentication"):
        restore(home, OTHER_LAESTAB, OTHER_SCHOOL, NIGHT, tmp_path / "a")

    (later / "manifest.json.enc").write_bytes((ours / "manifest.json.enc").read_bytes())
    with pytest.raises(ArchiveError, match="manifest.json for 9262001 on 2026-03-21 failed authentication"):
        restore(home, LAESTAB, SCHOOL, date(2026, 3, 21), tmp_path / "b")

    # Renamed within the night (one file passed off as another): also rejected.
    (ours / "attendance.csv.enc").write_bytes((ours / "pupils.csv.enc").read_bytes())
    with pytest.raises(ArchiveError, match="attendance.csv for 9262001 on 2026-03-20 failed authentication"):
        restore(home, LAESTAB, SCHOOL, NIGHT, tmp_path / "c")

    # The right partition key is part of the binding too: a night copied to another route's folder fails.
    import shutil
    shutil.copytree(theirs, home / "archive" / "9262002-sims" / NIGHT.isoformat())
    with pytest.raises(ArchiveError, match="failed authentication"):
        restore(home, OTHER_LAESTAB, "9262002-sims", NIGHT, tmp_path / "d")


def test_key_rotation(tmp_path, monkeypatch, landing):
    home = tmp_path / "home"
    old, new, older = generate_key(), generate_key(), generate_key()
    monkeypatch.delenv("NCC_ARCHIVE_OLD_KEYS", raising=False)
    monkeypatch.setenv("NCC_ARCHIVE_KEY", old)
    archive_files(home, SCHOOL, LAESTAB, NIGHT, landing)

    monkeypatch.setenv("NCC_ARCHIVE_KEY", new)
    monkeypatch.setenv("NCC_ARCHIVE_OLD_KEYS", f"{older}, {old}")
    restored = restore(home, LAESTAB, SCHOOL, NIGHT, tmp_path / "out")
    assert [p.read_bytes() for p in restored] == [p.read_bytes() for p in landing]

    later = archive_files(home, SCHOOL, LAESTAB, date(2026, 3, 21), landing)  # new nights: the new key
    new_id = key_id(archive.keys.decode_key(new, "test")).encode()
    assert all(p.read_bytes()[8:16] == new_id for p in later.iterdir())

    monkeypatch.delenv("NCC_ARCHIVE_OLD_KEYS")  # old key dropped: its nights cannot be read, clearly
    with pytest.raises(ArchiveError, match="key that is not configured.*NCC_ARCHIVE_OLD_KEYS"):
        restore(home, LAESTAB, SCHOOL, NIGHT, tmp_path / "out2")
    assert restore(home, LAESTAB, SCHOOL, date(2026, 3, 21), tmp_path / "out3")


def test_permissions(tmp_path, key, landing):
    previous = os.umask(0o022)  # a permissive umask: the archive must not rely on it
    try:
        home = tmp_path / "home"
        folder = archive_files(home, SCHOOL, LAESTAB, NIGHT, landing)
        restored = restore(home, LAESTAB, SCHOOL, NIGHT, tmp_path / "out")
    finally:
        os.umask(previous)
    for path in (home / "archive", home / "archive" / SCHOOL, folder, tmp_path / "out"):
        assert _mode(path) == 0o700, path
    for path in [*folder.iterdir(), *restored]:
        assert _mode(path) == 0o600, path


def test_ciphertext_holds_no_plaintext(tmp_path, key, landing):
    home = tmp_path / "home"
    folder = archive_files(home, SCHOOL, LAESTAB, NIGHT, landing)
    blobs = {p.name: p.read_bytes() for p in folder.iterdir()}
    for original in landing:
        plain = original.read_bytes()
        windows = {plain[i:i + 12] for i in range(0, len(plain) - 12, 5)}
        for name, blob in blobs.items():
            assert not any(w in blob for w in windows), (original.name, name)
    everything = b"".join(blobs.values())
    for needle in (b"A926200110001", b"Surname1", b"pupils.csv", b"9262001", SCHOOL.encode(), b"sha256"):
        assert needle not in everything  # not even file names or the school in clear inside the files


def test_rearchiving_a_night_replaces_it(tmp_path, key, landing):
    home = tmp_path / "home"
    archive_files(home, SCHOOL, LAESTAB, NIGHT, landing)
    folder = archive_files(home, SCHOOL, LAESTAB, NIGHT, landing[:1])
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json.enc", "pupils.csv.enc"]
    assert [p.name for p in (home / "archive" / SCHOOL).iterdir()] == ["2026-03-20"]  # no staging left
    assert [p.name for p in restore(home, LAESTAB, SCHOOL, NIGHT, tmp_path / "out")] == ["pupils.csv"]
    assert remove_night(home, SCHOOL, NIGHT) and archived_nights(home, SCHOOL) == []
    with pytest.raises(ArchiveError, match="no raw archive for 9262001 on 2026-03-20"):
        restore(home, LAESTAB, SCHOOL, NIGHT, tmp_path / "out2")


@pytest.mark.parametrize("name", ["../escape.csv", "sub/pupils.csv", ".hidden.csv", "a..b.xml", "manifest.json", ""])
def test_unsafe_names_are_refused(tmp_path, key, name):
    with pytest.raises(ArchiveError, match="for 9262001 on 2026-03-20 .*refused"):
        archive_payloads(tmp_path, SCHOOL, LAESTAB, NIGHT, {name: b"x"}, route="wonde")
    assert not list(tmp_path.rglob("*.enc"))


def test_symlinks_and_bad_laestab_are_refused(tmp_path, key, landing):
    link = landing[0].parent / "exclusions.csv"
    link.symlink_to(landing[0])
    with pytest.raises(ArchiveError, match="exclusions.csv for 9262001 on 2026-03-20 is a symbolic link"):
        archive_files(tmp_path / "home", SCHOOL, LAESTAB, NIGHT, [*landing, link])
    with pytest.raises(ArchiveError, match="7 digits"):
        archive_files(tmp_path / "home", SCHOOL, "../../etc", NIGHT, landing)
    with pytest.raises(ArchiveError, match="partition key"):
        archived_nights(tmp_path / "home", "..")
    with pytest.raises(ArchiveError, match="partition key"):
        archive_files(tmp_path / "home", "../9262001-files", LAESTAB, NIGHT, landing)


def test_malformed_key_is_a_clear_error_that_never_shows_it(tmp_path, monkeypatch, landing, caplog):
    secret = "c2VjcmV0LWJ1dC10b28tc2hvcnQ="  # base64 of 21 bytes
    monkeypatch.setenv("NCC_ARCHIVE_KEY", secret)
    with pytest.raises(ArchiveError, match="NCC_ARCHIVE_KEY must decode to 32 bytes") as caught:
        archive_files(tmp_path, SCHOOL, LAESTAB, NIGHT, landing)
    assert secret not in str(caught.value)
    monkeypatch.setenv("NCC_ARCHIVE_KEY", generate_key())
    monkeypatch.setenv("NCC_ARCHIVE_OLD_KEYS", "not base64 at all!")
    with pytest.raises(ArchiveError, match=r"NCC_ARCHIVE_OLD_KEYS \(key 1\) is not URL-safe base64") as caught:
        archive_files(tmp_path, SCHOOL, LAESTAB, NIGHT, landing)
    assert "not base64 at all" not in str(caught.value)


def test_the_key_is_never_logged(tmp_path, key, landing, caplog):
    with caplog.at_level(logging.DEBUG):
        folder = archive_files(tmp_path / "home", SCHOOL, LAESTAB, NIGHT, landing)
        restore(tmp_path / "home", LAESTAB, SCHOOL, NIGHT, tmp_path / "out")
        for path in folder.iterdir():
            path.write_bytes(path.read_bytes()[:-1] + b"\x00")
        with pytest.raises(ArchiveError) as caught:
            restore(tmp_path / "home", LAESTAB, SCHOOL, NIGHT, tmp_path / "out2")
    assert caplog.records  # something was logged (the archiving), and none of it is the key
    text = caplog.text + str(caught.value)
    assert key not in text and key.rstrip("=") not in text
    assert "Surname" not in text and "A926200110" not in text


# ---------------------------------------------------------------- what the nightly run archives

def test_files_to_archive_keeps_only_used_files_within_the_limit(tmp_path, landing):
    folder = landing[0].parent
    (folder / "exclusions.csv").symlink_to(landing[0])
    big = folder / "old_ctf.xml"
    limit = max(len(PUPILS), len(BINARY))
    big.write_bytes(b"x" * (limit + 1))
    used = ["pupils.csv", "attendance.csv", "exclusions.csv", "old_ctf.xml", "gone.csv"]
    chosen, too_big = archive.files_to_archive(folder, used, max_bytes=limit)
    # the CTF landing file is not used; exclusions.csv is a link; gone.csv does not exist; old_ctf.xml is too big
    assert [p.name for p in chosen] == ["attendance.csv", "pupils.csv"] and too_big == ["old_ctf.xml"]
    assert archive.files_to_archive(folder, ["attendance.csv"], max_bytes=len(BINARY) - 1) == ([], ["attendance.csv"])


def test_the_night_archives_only_what_it_read_not_an_old_oversized_file(tmp_path, key, small_la, monkeypatch, caplog):
    """An old 301 MB-style CTF left beside the CSVs is over NCC_MAX_FILE_MB and not used: never archived."""
    from ncc_transfer.pipeline import process_school
    from ncc_transfer.registry import load_registry
    from ncc_transfer.warehouse import DuckDBWarehouse

    home, _ = small_la
    school = next(s for s in load_registry(home / "schools.yaml").active_schools if s.mis == "files")
    folder = school.landing_folder(home)
    used_sizes = [p.stat().st_size for p in folder.iterdir() if p.is_file()]
    limit_mb = (max(used_sizes) + 1024) / (1024 * 1024)
    monkeypatch.setenv("NCC_MAX_FILE_MB", f"{limit_mb:.6f}")
    old = folder / f"{school.laestab}_CTF_old.xml"
    old.write_bytes(b"<CTfile>" + b" " * (max(used_sizes) + 4096) + b"</CTfile>")  # over the limit
    os.utime(old, (1_600_000_000, 1_600_000_000))  # 2020: older than every CSV, so not used

    wh = DuckDBWarehouse(tmp_path / "w.duckdb")
    try:
        outcome = process_school(school, home=home, warehouse=wh, as_of=NIGHT)
    finally:
        wh.close()
    assert outcome.ok and outcome.archived
    assert old.name not in outcome.sources.values()
    manifest = archive.read_manifest(home, school.laestab, school.key, NIGHT)
    archived = sorted(f["name"] for f in manifest["files"])
    assert archived == sorted(set(outcome.sources.values())) and old.name not in archived
    assert not (home / "archive" / school.key / NIGHT.isoformat() / f"{old.name}.enc").exists()


def test_archive_resource_says_whether_tonight_is_archived_never_the_key(monkeypatch, key):
    from ncc_transfer.defs.resources import ArchiveResource

    monkeypatch.delenv("NCC_ARCHIVE_REQUIRED", raising=False)
    older = generate_key()
    monkeypatch.setenv("NCC_ARCHIVE_OLD_KEYS", older)
    on, status = ArchiveResource().night_status()
    assert on and status == (f"raw archive on (key id {archive.keys_from_env().current_id}; "
                             f"1 earlier key(s) for reading)")
    assert key not in status and older not in status

    monkeypatch.setenv("NCC_ARCHIVE_KEY", key[:-8])  # malformed: tonight is not archived, the night goes on
    on, status = ArchiveResource().night_status()
    assert not on and "NCC_ARCHIVE_KEY must decode to 32 bytes" in status and key[:-8] not in status
    with pytest.raises(ArchiveError, match="required") as caught:
        ArchiveResource(required=True).night_status()
    assert key[:-8] not in str(caught.value)

    monkeypatch.delenv("NCC_ARCHIVE_KEY")
    assert ArchiveResource().night_status() == (
        False, "raw archive off (NCC_ARCHIVE_KEY is not set): tonight's extracts cannot be replayed")
    monkeypatch.setenv("NCC_ARCHIVE_REQUIRED", "true")  # the field falls back to its variable
    with pytest.raises(ArchiveError, match=r"archive off .*required \(NCC_ARCHIVE_REQUIRED\)"):
        ArchiveResource().night_status()
    assert ArchiveResource(required=False).night_status()[0] is False  # the field wins over the variable


def test_a_required_archive_without_its_key_stops_the_night_before_any_school(small_la, monkeypatch, capsys):
    from ncc_transfer.cli import main
    from ncc_transfer.warehouse import DuckDBWarehouse

    from ncc_transfer_tests.conftest import DEMO_AS_OF

    home, _ = small_la
    monkeypatch.delenv("NCC_ARCHIVE_KEY", raising=False)
    monkeypatch.setenv("NCC_ARCHIVE_REQUIRED", "true")
    code = main(["run", "--as-of", DEMO_AS_OF.isoformat()])
    err = capsys.readouterr().err
    assert code == 1 and "the night stopped: raw archive off (NCC_ARCHIVE_KEY is not set)" in err, err
    warehouse = DuckDBWarehouse(home / "warehouse.duckdb")
    try:
        assert warehouse.count_where("audit_log", "event = 'extraction'") == 0  # no school was extracted
    finally:
        warehouse.close()
