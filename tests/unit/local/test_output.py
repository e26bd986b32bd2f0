"""StampedLog: exact bytes when nothing is cut, the end kept with a note when something is, a stamp per line."""
from __future__ import annotations

import re

from oscar_jupyter.local.output import STAMP_WIDTH, StampedLog, rfc3339_nano, stamp_lines, unstamp

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z ")


def test_bytes_come_back_exactly_and_every_line_has_its_own_stamp(tmp_path) -> None:
    log = StampedLog(str(tmp_path / "log"), cap=1 << 20)
    log.write(b"first line\nsecond ", ns=1_000_000_000_123_456_789)
    log.write(b"half\n\xff binary\r\nno newline at the end", ns=2_000_000_000_000_000_001)
    log.close()
    assert log.read() == b"first line\nsecond half\n\xff binary\r\nno newline at the end"
    stamped = log.read(stamped=True).decode("utf-8", "replace").splitlines()
    assert stamped[0] == "2001-09-09T01:46:40.123456789Z first line"
    assert stamped[1].startswith("2001-09-09T01:46:40.123456789Z second half")  # stamped when it began
    assert stamped[2].startswith("2033-05-18T03:33:20.000000001Z ")
    assert log.cut == 0 and log.kept == log.written


def test_the_end_is_kept_with_a_note_of_what_was_cut(tmp_path) -> None:
    log = StampedLog(str(tmp_path / "log"), cap=64 * 1024)
    for i in range(20000):
        log.write(f"line {i:06d}\n".encode())
    log.close()
    out = log.read()
    assert out.startswith(b"[oscar-local: the first ")
    note, rest = out.split(b"\n", 1)
    assert rest.endswith(b"line 019999\n") and len(out) <= 64 * 1024
    assert int(re.search(rb"first (\d+) bytes", note).group(1)) == log.cut == 20000 * 12 - len(rest)
    assert log.size <= 64 * 1024


def test_one_huge_line_is_cut_too(tmp_path) -> None:
    log = StampedLog(str(tmp_path / "log"), cap=16 * 1024)
    for _ in range(100):
        log.write(b"x" * 4096)
    log.write(b"END")
    log.close()
    out = log.read()
    assert out.endswith(b"xEND") and len(out) < 17 * 1024 and b"were cut" in out


def test_stored_logs_render_with_and_without_stamps() -> None:
    stamp = rfc3339_nano()
    assert len(stamp) == STAMP_WIDTH
    stored = f"{stamp} one\nold line without a stamp\n{stamp} two"
    assert unstamp(stored) == "one\nold line without a stamp\ntwo"
    rendered = stamp_lines(stored, "2020-01-01T00:00:00.000000000Z").splitlines()
    assert all(STAMP.match(line) for line in rendered)
    assert rendered[1] == "2020-01-01T00:00:00.000000000Z old line without a stamp"
