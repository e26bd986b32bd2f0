"""jobs: both listing shapes, times, how uploads are matched to jobs and outputs."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from oscar_jupyter import errors
from oscar_jupyter.jobs import Upload, _mentions, match_outputs, parse_jobs, parse_time
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


def test_outputs_matched_by_stem_then_time_window():
    t = lambda s: datetime(2025, 1, 1, 0, 0, s, tzinfo=timezone.utc)  # noqa: E731
    ups = [Upload("img1.png", "b", "in/img1.png", job="j1"), Upload("img10.png", "b", "in/img10.png", job="j10")]
    outs = [ObjectInfo("b", "out/img1.png"), ObjectInfo("b", "out/img10_gray.png"),
            ObjectInfo("b", "out/img1.json"), ObjectInfo("b", "out/result-xyz.txt", last_modified=t(30))]
    got = match_outputs(ups, outs, {"j1": (t(0), t(10)), "j10": (t(25), t(35))})
    assert sorted(o.key for o in got["img1.png"]) == ["out/img1.json", "out/img1.png"]
    assert sorted(o.key for o in got["img10.png"]) == ["out/img10_gray.png", "out/result-xyz.txt"]


def test_parse_storage_paths():
    assert parse_path("bucket/in/x.png") == ("bucket", "in/x.png")
    assert parse_path("minio://bucket") == ("bucket", "")
    with pytest.raises(errors.InvalidInput):
        parse_path("/")


def test_outputs_of_an_earlier_run_are_ignored():
    t = lambda s: datetime(2025, 1, 1, 0, 0, s, tzinfo=timezone.utc)  # noqa: E731
    ups = [Upload("cat.jpg", "b", "in/cat.jpg", job="j")]
    outs = [ObjectInfo("b", "out/cat.png", last_modified=t(1)), ObjectInfo("b", "out/cat.json", last_modified=t(31))]
    got = match_outputs(ups, outs, {"j": (t(30), t(40))})
    assert [o.key for o in got["cat.jpg"]] == ["out/cat.json"]
