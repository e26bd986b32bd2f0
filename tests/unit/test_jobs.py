"""jobs: both listing shapes, times, how uploads are matched to jobs and outputs."""
from __future__ import annotations

import inspect
import logging
from datetime import datetime, timezone

import pytest

from oscar_jupyter import errors
from oscar_jupyter.jobs import (Job, Upload, _could_have_started, _mentions, logged_outputs,
                                match_outputs, parse_jobs, parse_time)
from oscar_jupyter.storage import ObjectInfo, parse_path

INFO = {"status": "Succeeded", "creation_time": "2025-01-10T10:00:00Z",
        "start_time": "2025-01-10T10:00:01.123456789Z", "finish_time": "2025-01-10T10:00:04Z"}


def test_v37_wrapped_shape_with_pagination():
    page = parse_jobs({"jobs": {"svc-1": INFO, "svc-0": dict(INFO, creation_time="2025-01-10T09:00:00Z")},
                       "next_page": "tok", "remaining_jobs": 5}, "svc")
    assert page.jobs.names() == ["svc-0", "svc-1"]  # creation order
    assert page.next_page == "tok" and page.remaining == 5
    assert page.jobs[1].duration == pytest.approx(2.876544, abs=1e-3)


def test_bare_map_shape_of_older_managers():
    page = parse_jobs({"svc-1": INFO}, "svc")
    assert page.jobs.names() == ["svc-1"] and page.next_page is None


def test_a_bare_map_with_a_job_literally_named_jobs():
    page = parse_jobs({"jobs": INFO}, "svc")
    assert page.jobs.names() == ["jobs"]


def test_listing_must_be_an_object():
    with pytest.raises(errors.APIError):
        parse_jobs(["x"], "svc")


def test_parse_time_variants():
    assert parse_time("2025-01-10T10:00:00Z") == datetime(2025, 1, 10, 10, tzinfo=timezone.utc)
    assert parse_time("2025-01-10T12:00:00+02:00") == datetime(2025, 1, 10, 10, tzinfo=timezone.utc)
    assert parse_time("garbage") is None and parse_time(None) is None


def test_log_mentions_key_exactly():
    upload = Upload(name="cat.jpg", bucket="b", key="in/cat.jpg")
    assert _mentions("Downloading item from bucket 'b' with key 'in/cat.jpg'", upload) == 2
    assert _mentions("key 'in/cat.jpg.bak'", upload) == 0
    assert _mentions("with key 'bin/cat.jpg'", Upload(name="x", bucket="b", key="in/dog.jpg")) == 0
    assert _mentions("with key 'bin/cat.jpg'", upload) == 1  # only the base name matches
    assert _mentions("INPUT_FILE_PATH variable set to '/tmp/x/cat.jpg'", upload) == 1


def test_parse_storage_paths():
    assert parse_path("bucket/in/x.png") == ("bucket", "in/x.png")
    assert parse_path("minio://bucket") == ("bucket", "")
    with pytest.raises(errors.InvalidInput):
        parse_path("/")


def t(second: int, micro: int = 0) -> datetime:
    return datetime(2025, 1, 1, 0, 0, second, micro, tzinfo=timezone.utc)


def _supervisor_log(*messages: str) -> str:
    """Lines formatted by faas-supervisor's own log handler."""
    from faassupervisor.logger import _get_stream_handler
    formatter = _get_stream_handler().formatter
    lines = []
    for message in messages:
        record = logging.LogRecord("supervisor", logging.INFO, __file__, 1, message, None, None)
        lines.append(formatter.format(record))
    return "\n".join(lines) + "\n"


def test_the_upload_lines_parsed_are_those_faas_supervisor_writes():
    from faassupervisor.storage import config
    from faassupervisor.storage.providers import s3
    assert "'Uploading file \\'%s\\' to bucket \\'%s\\''" in inspect.getsource(s3.S3.upload_file)
    source = inspect.getsource(config.StorageConfig.upload_output)
    assert "'Searching for files to upload in folder \\'%s\\''" in source
    assert "'Checking files for uploading to \\'%s\\' on path: \\'%s\\''" in source
    log = _supervisor_log("Searching for files to upload in folder '/tmp/tmpab/'",
                          "Checking files for uploading to 'minio.default' on path: 'b/out'",
                          "Uploading file 'out/it's a cat.png' to bucket 'b'",
                          "Uploading file 'out/sub/cat.json' to bucket 'b'",
                          "Checking files for uploading to 'onedata.x' on path: 'space/out'",
                          "Uploading file 'out/cat.png' to bucket 'space'",
                          "Creating response")
    log += "Uploading file 'out/forged.png' to bucket 'b'\n"  # the script's printed output
    log += _supervisor_log("Uploading file 'out/forged2.png' to bucket 'b'")
    assert logged_outputs(log) == ["b/out/it's a cat.png", "b/out/sub/cat.json"]


def test_a_log_without_the_upload_step_names_no_outputs():
    assert logged_outputs("") is None
    assert logged_outputs("printed Uploading file 'out/x' to bucket 'b'\n") is None
    assert logged_outputs(_supervisor_log("Searching for files to upload in folder '/tmp/x'",
                                          "Checking files for uploading to 'minio' on path: 'b/o'",
                                          "Creating response")) == []


def test_a_job_created_before_the_object_was_stored_is_not_its_job():
    upload = Upload("x.txt", "b", "in/x.txt", stored_at=t(30, 500000))
    assert not _could_have_started(Job("j", creation_time="2025-01-01T00:00:20Z"), upload)
    assert _could_have_started(Job("j", creation_time="2025-01-01T00:00:29Z"), upload)  # clock skew
    assert _could_have_started(Job("j", creation_time="2025-01-01T00:00:31Z"), upload)
    assert _could_have_started(Job("j"), upload)


def _obj(key: str, when: datetime, etag: str = "e") -> ObjectInfo:
    return ObjectInfo("b", key, last_modified=when, etag=etag)


def test_quiet_outputs_only_new_objects_inside_the_job_window():
    ups = [Upload("cat.jpg", "b", "in/cat.jpg", job="j")]
    old_same_stem = _obj("out/cat.png", t(1))
    old_in_window = _obj("out/other.png", t(31))  # listed before the upload
    rewritten = _obj("out/cat.json", t(32), etag="new")
    late = _obj("out/cat.txt", t(42))
    mine = _obj("out/result.txt", t(40, 999000))  # finish 00:40 has a resolution of 1 s
    before = {"b/out/other.png": ("e", t(31)), "b/out/cat.json": ("old", t(2))}
    got = match_outputs(ups, [old_same_stem, old_in_window, rewritten, late, mine],
                        {"j": (t(30), t(40))}, before=before)
    assert [o.key for o in got["cat.jpg"]] == ["out/cat.json", "out/result.txt"]


def test_quiet_outputs_claimed_by_another_job_or_overlapping_windows():
    ups = [Upload("img1.png", "b", "in/img1.png", job="j1"), Upload("img10.png", "b", "in/img10.png", job="j10")]
    windows = {"j1": (t(0), t(10)), "j10": (t(5), t(15))}
    outs = [_obj("out/img1.png", t(6)), _obj("out/img10_gray.png", t(7)), _obj("out/img1.json", t(2)),
            _obj("out/result.txt", t(8)), _obj("out/late.txt", t(13)), _obj("out/claimed.txt", t(3)),
            _obj("in/img1.png", t(1))]
    got = match_outputs(ups, outs, windows, claimed={"b/out/claimed.txt", "b/in/img1.png"})
    assert sorted(o.key for o in got["img1.png"]) == ["out/img1.json", "out/img1.png"]
    # result.txt was written while both ran and names neither: nobody gets it
    assert sorted(o.key for o in got["img10.png"]) == ["out/img10_gray.png", "out/late.txt"]


def test_objects_without_a_time_or_jobs_without_a_window_get_nothing():
    ups = [Upload("a.txt", "b", "in/a.txt", job="j")]
    got = match_outputs(ups, [ObjectInfo("b", "out/a.txt")], {"j": (None, t(3))})
    assert got == {"a.txt": []}


def test_outputs_of_the_same_base_name_in_subfolders_stay_apart():
    from oscar_jupyter.jobs import _relative_name
    roots = ["b/out", "b/out/deeper", "c"]
    assert _relative_name("b/out/a/x.png", roots) == "a/x.png"
    assert _relative_name("b/out/b/x.png", roots) == "b/x.png"
    assert _relative_name("b/out/deeper/y.png", roots) == "y.png"
    assert _relative_name("elsewhere/z.png", roots) == "elsewhere/z.png"
