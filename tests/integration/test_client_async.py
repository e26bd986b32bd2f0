"""Asynchronous runs against a real oscar-local: upload, find jobs, wait, collect outputs."""
from __future__ import annotations

import re
import time
import uuid

import pytest
from PIL import Image

import oscar_jupyter as oj
from oscar_jupyter import errors
from oscar_jupyter.results import ImageResult, TextResult

SCRIPT = """name=$(basename "$INPUT_FILE_PATH")
stem="${name%.*}"
if grep -q FAIL "$INPUT_FILE_PATH"; then echo "refusing $name"; exit 4; fi
tr 'a-z' 'A-Z' < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/$stem.out.txt"
"""


@pytest.fixture
def pipeline(local_cluster):
    c = oj.connect(local_cluster.endpoint, user=local_cluster.user, password=local_cluster.password,
                   id="async-tests")
    name = "ta-" + uuid.uuid4().hex[:8]
    [svc] = c.apply({"name": name, "image": "local/upper", "script": SCRIPT,
                     "input": [{"storage_provider": "minio.default", "path": f"{name}/in"}],
                     "output": [{"storage_provider": "minio.default", "path": f"{name}/out"}]})
    yield svc
    with pytest.warns(UserWarning, match="holds"):
        c.delete(name)
    oj.disconnect(c)


def test_twenty_files_collected_back_to_their_inputs(pipeline, tmp_path):
    folder = tmp_path / "inputs"
    (folder / "nested").mkdir(parents=True)
    for i in range(18):
        (folder / f"doc{i:02d}.txt").write_text(f"text number {i}")
    (folder / "nested" / "deep.txt").write_text("deep one")
    (folder / "bad.txt").write_text("FAIL please")
    batch = pipeline.submit(folder, timeout=120, progress=False)
    assert len(batch) == 20
    by_name = {item.name: item for item in batch}
    for i in range(18):
        item = by_name[f"doc{i:02d}.txt"]
        assert item.status == "ok", item.error
        assert isinstance(item.result, TextResult) and item.result.text == f"TEXT NUMBER {i}"
        assert item.job and item.job.startswith(pipeline.name + "-")
        assert item.outputs == [f"{pipeline.name}/out/doc{i:02d}.out.txt"]
    assert by_name["nested/deep.txt"].result.text == "DEEP ONE"
    bad = by_name["bad.txt"]
    assert bad.status == "failed" and isinstance(bad.error, errors.ServiceFailed)
    assert "refusing bad.txt" in bad.error.log
    assert len({item.job for item in batch}) == 20  # one distinct job per input
    jobs = pipeline.jobs()
    assert set(item.job for item in batch) <= set(jobs.names())
    assert len(pipeline.jobs(status="Failed")) == 1


def test_in_memory_inputs_without_waiting(pipeline):
    run = pipeline.submit({"a.txt": "alpha", "b.txt": b"beta", "ñandú photo+1.txt": "gamma"},
                          wait=False, progress=False)
    assert isinstance(run, oj.AsyncRun)
    batch = run.wait(timeout=60, progress=False)
    assert [i.result.text for i in batch] == ["ALPHA", "BETA", "GAMMA"]
    assert all(i.result.log for i in batch)  # the job's log travels with the result


def test_images_and_timeout(local_cluster):
    c = oj.connect(local_cluster.endpoint, user=local_cluster.user, password=local_cluster.password,
                   id="async-img")
    name = "tb-" + uuid.uuid4().hex[:8]
    [svc] = c.apply({"name": name, "image": "local/gray", "script": """python3 - <<'PY'
import os, time
from PIL import Image
src = os.environ["INPUT_FILE_PATH"]
if "slow" in src: time.sleep(6)
stem = os.path.splitext(os.path.basename(src))[0]
Image.open(src).convert("L").save(os.environ["TMP_OUTPUT_DIR"] + "/" + stem + ".png")
PY""", "input": [{"storage_provider": "minio.default", "path": f"{name}/in"}],
        "output": [{"storage_provider": "minio.default", "path": f"{name}/out"}]})
    try:
        images = [("cat.jpg", Image.new("RGB", (4, 4), "red")), ("slow.png", Image.new("RGB", (2, 2)))]
        batch = svc.submit(images, timeout=3, progress=False)
        cat, slow = batch
        assert isinstance(cat.result, ImageResult) and cat.result.image.mode == "L"
        assert isinstance(slow.error, errors.Timeout)
    finally:
        svc.job_api.delete_all(all=True)
        c.delete(name, check_buckets=False)
        oj.disconnect(c)


def test_job_without_output_files_gives_the_printed_text(local_cluster):
    c = oj.connect(local_cluster.endpoint, user=local_cluster.user, password=local_cluster.password,
                   id="async-print")
    name = "tp-" + uuid.uuid4().hex[:8]
    [svc] = c.apply({"name": name, "image": "x", "script": 'echo "printed $(cat "$INPUT_FILE_PATH")"',
                     "input": [{"storage_provider": "minio.default", "path": f"{name}/in"}]})
    try:
        [item] = svc.submit(("note.txt", "ünïcode"), timeout=60, progress=False)
        assert item.ok and item.result.text.strip() == "printed ünïcode" and item.outputs == []
        assert "Downloading item" in item.result.log
    finally:
        c.delete(name, check_buckets=False)
        oj.disconnect(c)


def test_quiet_supervisor_logs_still_pair_jobs_and_outputs(local_cluster):
    """log_level CRITICAL hides the lines naming the object key: jobs are paired by order
    and outputs by stem."""
    c = oj.connect(local_cluster.endpoint, user=local_cluster.user, password=local_cluster.password,
                   id="async-quiet")
    name = "tq-" + uuid.uuid4().hex[:8]
    [svc] = c.apply({"name": name, "image": "x", "log_level": "CRITICAL", "script": SCRIPT,
                     "input": [{"storage_provider": "minio.default", "path": f"{name}/in"}],
                     "output": [{"storage_provider": "minio.default", "path": f"{name}/out"}]})
    try:
        batch = svc.submit({f"q{i}.txt": f"quiet {i}" for i in range(4)}, timeout=60, progress=False,
                           concurrency=1)
        assert [i.result.text for i in batch] == [f"QUIET {i}" for i in range(4)]
        assert len({i.job for i in batch}) == 4 and all(i.job for i in batch)
    finally:
        c.delete(name, check_buckets=False)
        oj.disconnect(c)


QUIET_OR_NOT = """name=$(basename "$INPUT_FILE_PATH")
if grep -q silent "$INPUT_FILE_PATH"; then echo "nothing written for $name"; exit 0; fi
sleep "0$(tr -dc 0-9 < "$INPUT_FILE_PATH")"
tr 'a-z' 'A-Z' < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/${name%.*}.out.txt"
"""


def _quiet_or_not(local_cluster, log_level: str, id_: str, script: str = SCRIPT):
    c = oj.connect(local_cluster.endpoint, user=local_cluster.user, password=local_cluster.password,
                   id=id_)
    name = "tr-" + uuid.uuid4().hex[:8]
    [svc] = c.apply({"name": name, "image": "x", "log_level": log_level, "script": script,
                     "input": [{"storage_provider": "minio.default", "path": f"{name}/in"}],
                     "output": [{"storage_provider": "minio.default", "path": f"{name}/out"}]})
    return c, svc


@pytest.mark.parametrize("log_level", ["INFO", "CRITICAL"])
def test_the_same_name_twice_in_a_row_gets_each_run_its_own_output(local_cluster, log_level):
    c, svc = _quiet_or_not(local_cluster, log_level, f"async-twice-{log_level}", QUIET_OR_NOT)
    try:
        [first] = svc.submit({"same.txt": "first"}, timeout=60, progress=False)
        [second] = svc.submit({"same.txt": "second"}, timeout=60, progress=False)
        assert first.result.text == "FIRST" and second.result.text == "SECOND"
        assert first.job != second.job
        assert second.outputs == [f"{svc.name}/out/same.out.txt"]
        # a run whose script writes nothing gets no earlier output back, though its stem matches
        [third] = svc.submit({"same.txt": "silent"}, timeout=60, progress=False)
        assert third.outputs == [] and third.result.text.strip() == "nothing written for same.txt"
    finally:
        c.delete(svc.name, check_buckets=False)
        oj.disconnect(c)


def test_an_object_another_writer_puts_in_the_window_is_not_the_jobs(local_cluster):
    """The job's log names what it uploaded: an object someone else writes into the output
    folder while the job runs is not among its outputs."""
    c, svc = _quiet_or_not(local_cluster, "INFO", "async-intruder", QUIET_OR_NOT)
    try:
        run = svc.submit({"slow.txt": "slow 2"}, wait=False, progress=False)
        time.sleep(1.0)
        c.storage.put(b"not yours", f"{svc.name}/out/intruder.bin")
        [item] = run.wait(timeout=60, progress=False)
        assert item.outputs == [f"{svc.name}/out/slow.out.txt"]
        assert item.result.text == "SLOW 2"
    finally:
        c.delete(svc.name, check_buckets=False)
        oj.disconnect(c)


@pytest.mark.parametrize("log_level", ["INFO", "CRITICAL"])
def test_twenty_files_uploaded_in_parallel_each_get_their_own_output(local_cluster, caplog, log_level):
    """INFO: jobs and outputs known from the logs. CRITICAL: jobs created in the same second
    are paired by a guess (a warning says so), yet every output goes to its input by stem."""
    c, svc = _quiet_or_not(local_cluster, log_level, f"async-parallel-{log_level}")
    try:
        inputs = {f"p{i:02d}.txt": f"parallel {i}" for i in range(20)}
        batch = svc.submit(inputs, timeout=120, progress=False, concurrency=20)
        assert [item.result.text for item in batch] == [f"PARALLEL {i}" for i in range(20)]
        assert [item.outputs for item in batch] == [[f"{svc.name}/out/p{i:02d}.out.txt"] for i in range(20)]
        assert len({item.job for item in batch}) == 20
        # the same names again (new content: an identical object rewritten within the same second
        # cannot be told from the one listed before the upload on a store with 1 s times)
        again = svc.submit({n: f"again {i}" for i, n in enumerate(inputs)}, timeout=120, progress=False,
                           concurrency=20)
        assert [item.result.text for item in again] == [f"AGAIN {i}" for i in range(20)]
        assert not {item.job for item in again} & {item.job for item in batch}
        assert not [r for r in caplog.records if "pool is full" in r.getMessage()]
    finally:
        c.delete(svc.name, check_buckets=False)
        oj.disconnect(c)


# -- how submit reads its inputs (types first, never what the working directory holds) -----

def test_a_name_data_pair_is_a_pair_even_when_a_file_has_that_name(pipeline, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "orange.txt").write_text("the file on disk")
    (tmp_path / "text").write_text("also on disk")
    [item] = pipeline.submit(("orange.txt", "from memory"), timeout=60, progress=False)
    assert item.name == "orange.txt" and item.result.text == "FROM MEMORY"
    batch = pipeline.submit([("lemon.txt", "text"), ("lime.txt", b"bytes")], timeout=60, progress=False)
    assert [i.result.text for i in batch] == ["TEXT", "BYTES"]  # 'text' names a file: still text


def test_input_rules_by_type(tmp_path, monkeypatch):
    from pathlib import Path

    from oscar_jupyter.service import _named_inputs
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.txt").write_text("A")
    (tmp_path / "dir" / "sub").mkdir(parents=True)
    (tmp_path / "dir" / "sub" / "x.txt").write_text("X")
    # a str naming an existing file, alone or in a list: that file
    assert _named_inputs("a.txt") == [("a.txt", Path("a.txt"), Path("a.txt"))]
    assert [n for n, _, _ in _named_inputs(["a.txt", "not a file"])] == ["a.txt", "input-0001.txt"]
    # a Path: a file or folder, which must exist
    assert [n for n, _, _ in _named_inputs(tmp_path / "dir")] == ["sub/x.txt"]
    with pytest.raises(errors.InvalidInput, match="No such file"):
        _named_inputs(Path("missing.txt"))
    # dict and (name, data) pairs: a str is text, a Path a file or folder
    assert _named_inputs({"b.txt": "a.txt"}) == [("b.txt", "a.txt", None)]
    assert _named_inputs(("b.txt", "a.txt")) == [("b.txt", "a.txt", None)]
    assert _named_inputs({"b.txt": Path("a.txt")}) == [("b.txt", Path("a.txt"), Path("a.txt"))]
    assert [n for n, _, _ in _named_inputs({"batch": Path("dir")})] == ["batch/sub/x.txt"]
    # a tuple that is not a pair is a list of inputs
    assert [n for n, _, _ in _named_inputs((Path("a.txt"), b"raw"))] == ["a.txt", "input-0001.txt"]
    with pytest.raises(errors.InvalidInput, match="Two inputs"):
        _named_inputs([("a.txt", "1"), Path("a.txt")])
    with pytest.raises(errors.InvalidInput, match="must not be empty"):
        _named_inputs({"": "x"})


@pytest.fixture
def empty_pipeline(local_cluster):
    c, svc = _quiet_or_not(local_cluster, "INFO", "async-empty")
    yield svc
    c.delete(svc.name, check_buckets=False)
    oj.disconnect(c)


def test_bad_inputs_are_refused_before_anything_is_uploaded(empty_pipeline):
    pipeline = empty_pipeline
    for bad, why in (({"fine.txt": "fine", "../up.txt": "x"}, "'..' parts"),
                     ({"fine.txt": "fine", "a\x00.txt": "x"}, "control characters"),
                     ({"fine.txt": "fine", "x\ud800.txt": "x"}, "valid Unicode"),
                     ({"fine.txt": "fine", "obj.bin": object()}, "Input 'obj.bin': Cannot send")):
        with pytest.raises(errors.InvalidInput, match=re.escape(why)):
            pipeline.submit(bad, progress=False)
    assert pipeline.cluster.storage.ls(f"{pipeline.name}/in") == []
    with pytest.raises(errors.InvalidInput, match="concurrency"):
        pipeline.submit("x", concurrency=0)
    with pytest.raises(errors.InvalidInput, match="timeout"):
        pipeline.submit("x", timeout=-1)


def test_a_key_the_s3_client_refuses_is_bad_input_not_a_connection_problem(empty_pipeline):
    pipeline = empty_pipeline
    with pytest.raises(errors.InvalidInput, match="upload to"):
        pipeline.cluster.storage.put(b"x", f"{pipeline.name}/../x")


def test_outputs_of_one_base_name_in_two_subfolders_are_both_kept(local_cluster):
    script = ('mkdir -p "$TMP_OUTPUT_DIR/a" "$TMP_OUTPUT_DIR/b"\n'
              'echo one > "$TMP_OUTPUT_DIR/a/x.txt"; echo two > "$TMP_OUTPUT_DIR/b/x.txt"\n')
    c, svc = _quiet_or_not(local_cluster, "INFO", "async-subfolders", script)
    try:
        [item] = svc.submit({"in.txt": "x"}, timeout=60, progress=False)
        assert sorted(item.result) == ["a/x.txt", "b/x.txt"]
        assert item.result["a/x.txt"].text.strip() == "one" and item.result["b/x.txt"].text.strip() == "two"
    finally:
        c.delete(svc.name, check_buckets=False)
        oj.disconnect(c)


def test_a_missing_output_bucket_does_not_stop_the_submit(local_cluster):
    c = oj.connect(local_cluster.endpoint, user=local_cluster.user, password=local_cluster.password,
                   id="async-nobucket")
    name = "tn-" + uuid.uuid4().hex[:8]
    [svc] = c.apply({"name": name, "image": "x", "log_level": "CRITICAL", "script": 'echo "read $(cat "$INPUT_FILE_PATH")"',
                     "input": [{"storage_provider": "minio.default", "path": f"{name}/in"}],
                     "output": [{"storage_provider": "minio.default", "path": f"{name}-out/out"}]})
    try:
        c.storage.rm(f"{name}-out", recursive=True)
        c.storage.client.remove_bucket(f"{name}-out")
        [item] = svc.submit({"a.txt": "alpha"}, timeout=60, progress=False)
        assert item.ok and item.result.text.strip() == "read alpha"
    finally:
        c.delete(name, check_buckets=False)
        oj.disconnect(c)
