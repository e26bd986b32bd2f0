"""Which figures the benchmark measures, their goals, and why each goal is what it is.

Goals were set from repeated runs on a 2-core machine shared with other work,
with a margin so an ordinary run passes and a real regression does not.
Figures are ratios against a baseline measured in the same run where a
baseline exists, so a faster or slower machine moves both sides.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from typing import List, Sequence

from . import client_figures, exposed_figures, local_figures, model_figures, offline_figures, sandbox_figures
from .table import Row, goal_row

SECTIONS = ("local", "client", "exposed", "offline", "sandbox", "model")

# /run forks a shell like the baseline does, plus HTTP, a temp dir tree, the
# event file and the response: measured p50 ratios 2.3-5.0x a bare /bin/sh
# over 7 runs (e.g. 1.8 vs 4.2 ms idle, 5 vs 19 ms loaded). 8x leaves room
# for a loaded machine; a per-call regression of ~10 ms (an fsync, an extra
# process, a blocking call on the event loop) crosses it.
GOAL_SYNC_P50_RATIO = 8.0
# p99 is mostly scheduler noise from other processes on 2 cores: measured
# 0.7-3.7x; 8x still catches a stall of tens of ms on every slow call.
GOAL_SYNC_P99_RATIO = 8.0
# S3 PUT -> event line -> SQLite record -> scheduler -> fork: measured p50
# 27-42 ms. A missed event caught only by the reconciliation scan, or a
# polling loop, would take 100s of ms to seconds.
GOAL_UPLOAD_P50_S = 0.15
# The client adds encoding, answer sniffing and error mapping on top of the
# same HTTP call: measured 1.01-1.08x a bare requests POST; 1.3x allows noise
# and catches e.g. an extra request per run (~2x).
GOAL_CLIENT_RATIO = 1.3
# 4 threads against max_scale 4, on a script that sleeps 50 ms, against the
# same calls made one by one just before: ideal 4x, measured 3.5-3.6x (with
# calls that do no work the client's and server's own overhead dominates and
# it was 1.1-3.9x depending on load, which measures the machine instead).
# Below 2.5x the slots or the client threads would be serialising calls.
GOAL_MAP_SPEEDUP = 2.5
# 20 uploads, 20 jobs found by their logs, 20 outputs matched back: measured
# 1.0-1.5 s; 5 s is well past noise, and a fall-back to slow polling or
# per-job log scans would cross it.
GOAL_SUBMIT_S = 5.0
# The same call made by oscar-python's run_service (the official client,
# baseline) and by Service.run, 600x600 PNG to a grayscale script (~480 kB of
# base64 back) and a 10 MB answer: ours decodes base64 and sniffs the answer in
# C passes (no per-character Python). Measured p50 ratios 0.78-0.94x; 1.0x is
# the promise: never slower than the official client for the same call.
GOAL_VS_OSCAR_PYTHON = 1.0
# A prepared slot only skips making the temp dirs and the script file, a few
# ms out of 7-20: measured 0.71-1.02x the first request of a min_scale 0
# service (10 pairs). The goal is that warmth never costs: a warm path that
# waits for its preparation would go well past 1.1x.
GOAL_WARM_RATIO = 1.1
# Parsing with line marks, normalising and validating against the Manager's
# schema, against a bare libyaml load of the same text: measured 4x (0.5 ms).
# 10x allows noise; a re-compiled schema or a pure-Python YAML fall-back per
# parse would cross it.
GOAL_FDL_PARSE_RATIO = 10.0
# display promises one preview under display.options.preview_bytes (110 kB);
# in base64 inside JSON with its HTML that is under 160 KiB whatever the
# photo. Measured 12 KiB for this image (smooth photo-like content).
GOAL_BUNDLE_BYTES = 160 * 1024
# The digits model per request: a sync invocation starts the script, Python, numpy and
# Pillow and loads the cached weights (measured 0.8-4.8 s loaded); the exposed replica
# only decodes the image and multiplies (measured 15-20 ms p50 through the proxy). The
# point of exposing it is an order of magnitude at least: 10x.
GOAL_MODEL_SPEEDUP = 10.0
# An exposed service's traffic through oscar-local against straight to its
# replica (the relay socket), trivial backend, closed loop: nginx in front
# measured 0.75-0.76x at 1/8/32 clients and +0.07 ms p50 at 1 client (the
# aiohttp proxy alone: 0.27-0.45x, +0.7 ms), on 2 cores shared with the
# load generator and the backend. 0.7x and 0.5 ms are the targets.
GOAL_EXPOSED_RATIO = 0.7
GOAL_EXPOSED_ADDED_P50_MS = 0.5
# the same comparison with the digits model (a DEEPaaS predict per request) as the replica
GOAL_EXPOSED_MODEL_RATIO = 0.95
# A request finds its sandbox already started (the executor prepares the next
# slot, namespaces and cgroup included, after each request, and a request waits
# for one under preparation rather than starting a second), so what is left per
# call is the wrapper's exit and the next sandbox's start competing for the 2
# cores: measured +2.9 to +7.2 ms p50 over --sandbox none on a loaded machine
# (and +0.8 ms against the release before the sandbox, interleaved). 8 ms
# leaves room for load; a sandbox started inside the request (20-60 ms) fails it.
GOAL_SANDBOX_ADDED_MS = 8.0
# A first request waits for bwrap to make its namespaces and mounts (about
# 10-30 ms on this 2-core machine): shown, with a loose bound that catches a
# set-up gone slow (a probe per call, a recursive chown of a big tree).
GOAL_SANDBOX_FIRST_ADDED_MS = 60.0


def parser(prog: str = "python -m bench", sections: Sequence[str] = SECTIONS) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="oscar-local and client figures against their goals, "
                                                        "as one table")
    p.add_argument("--sync", type=int, default=200, help="sync /run calls and /bin/sh runs (default: %(default)s)")
    p.add_argument("--uploads", type=int, default=40, help="uploads to time (default: %(default)s)")
    p.add_argument("--gap", type=float, default=0.15, help="seconds between uploads (default: %(default)s)")
    p.add_argument("--first", type=int, default=10, help="fresh services per first-request variant "
                                                        "(default: %(default)s)")
    p.add_argument("-n", "--calls", type=int, default=40, help="client calls per measurement (default: %(default)s)")
    p.add_argument("--official", type=int, default=15,
                   help="calls per client against oscar-python (default: %(default)s)")
    p.add_argument("--files", type=int, default=20, help="files submitted (default: %(default)s)")
    p.add_argument("--parses", type=int, default=200, help="FDL parses to time (default: %(default)s)")
    p.add_argument("--model-sync", dest="model_sync", type=int, default=10,
                   help="per-invocation calls of the digits model (default: %(default)s)")
    p.add_argument("--model-exposed", dest="model_exposed", type=int, default=200,
                   help="calls of the exposed digits model (default: %(default)s)")
    p.add_argument("--exposed-seconds", type=float, default=3.0,
                   help="seconds of load per client count and path (default: %(default)s)")
    p.add_argument("--exposed-clients", type=int, nargs="+", default=[1, 8, 32],
                   help="concurrent clients to measure (default: %(default)s)")
    p.add_argument("--only", choices=SECTIONS, action="append", default=None,
                   help="measure only this part (repeatable; default: all of %s)" % ", ".join(sections))
    p.add_argument("--strict", action="store_true", help="exit with status 1 when a goal is missed")
    p.add_argument("--markdown", metavar="PATH",
                   help="also write the table, the machine and the date as a Markdown page "
                        "(the documentation's docs/benchmarks.md)")
    return p


def collect(args: argparse.Namespace, sections: Sequence[str]) -> List[Row]:
    """Measure the chosen sections on one fresh oscar-local; the rows in table order."""
    rows: List[Row] = []
    if "local" in sections or "client" in sections or "exposed" in sections:
        from oscar_jupyter import local

        with tempfile.TemporaryDirectory(prefix="oscar-bench-") as tmp:
            cluster = local.start(data_dir=os.path.join(tmp, "data"), port=0, password="bench-password")
            try:
                if "local" in sections:
                    rows += _local_rows(cluster, args, tmp)
                if "client" in sections:
                    rows += _client_rows(cluster, args)
                if "exposed" in sections:
                    rows += _exposed_rows(cluster, args, tmp)
            finally:
                cluster.stop()
    if "offline" in sections:
        rows += _offline_rows(args)
    if "sandbox" in sections:
        with tempfile.TemporaryDirectory(prefix="oscar-bench-sandbox-") as tmp:
            rows += _sandbox_rows(args, tmp)
    if "model" in sections:
        rows += _model_rows(args)
    return rows


def _model_rows(args: argparse.Namespace) -> List[Row]:
    from .stats import percentile

    sync, exposed, right = model_figures.sync_vs_exposed(args.model_sync, args.model_exposed)
    total = len(sync) + len(exposed)
    row = goal_row("digits model exposed (DeepaasModel.predict)", percentile(sync, 50) / percentile(exposed, 50),
                   "{:.0f}x", GOAL_MODEL_SPEEDUP, "higher", exposed, "p50 speed-up ")
    row.value += f", p99 {percentile(sync, 99) / percentile(exposed, 99):.0f}x; {right}/{total} right"
    return [Row("digits model per-invocation sync (baseline)", "", "", None, sync), row]


def _sandbox_rows(args: argparse.Namespace, tmp: str) -> List[Row]:
    from .stats import percentile

    mode, t = sandbox_figures.sandbox_overhead(args.sync, args.first, tmp)
    added = (percentile(t["boxed"], 50) - percentile(t["plain"], 50)) * 1e3
    added_first = (percentile(t["boxed_first"], 50) - percentile(t["plain_first"], 50)) * 1e3
    return [Row("POST /run, --sandbox none (baseline)", "", "", None, t["plain"]),
            goal_row(f"POST /run in the {mode} sandbox", added, "{:+.1f} ms", GOAL_SANDBOX_ADDED_MS, "lower",
                     t["boxed"], "p50 added "),
            Row("first /run of a new service, --sandbox none (baseline)", "", "", None, t["plain_first"]),
            goal_row(f"first /run of a new service, {mode}", added_first, "{:+.1f} ms",
                     GOAL_SANDBOX_FIRST_ADDED_MS, "lower", t["boxed_first"], "p50 added ")]


def _local_rows(cluster, args: argparse.Namespace, tmp: str) -> List[Row]:
    auth = (cluster.user, cluster.password)
    direct, served = local_figures.sync_overhead(cluster.endpoint, auth, args.sync, tmp)
    from .stats import percentile

    rows = [Row("/bin/sh direct (baseline)", "", "", None, direct),
            goal_row("oscar-local POST /run", percentile(served, 50) / percentile(direct, 50),
                     "{:.1f}x", GOAL_SYNC_P50_RATIO, "lower", served, "p50 ratio "),
            goal_row("POST /run p99 over /bin/sh p99", percentile(served, 99) / percentile(direct, 99),
                     "{:.1f}x", GOAL_SYNC_P99_RATIO, "lower", label="p99 ratio ")]
    uploads = local_figures.upload_latency(cluster.endpoint, auth, args.uploads, args.gap)
    rows.append(goal_row("upload -> job script start", statistics.median(uploads) * 1e3, "{:.0f} ms",
                         GOAL_UPLOAD_P50_S * 1e3, "lower", uploads, "p50 "))
    cold, warm = local_figures.first_requests(cluster.endpoint, auth, args.first)
    rows.append(Row("first request, min_scale=0 (baseline)", "", "", None, cold))
    rows.append(goal_row("first request, min_scale=1 (warm slot)", local_figures.ratio_of_medians(warm, cold),
                         "{:.2f}x", GOAL_WARM_RATIO, "lower", warm, "p50 ratio "))
    return rows


def _client_rows(cluster, args: argparse.Namespace) -> List[Row]:
    import oscar_jupyter as oj

    conn = oj.connect(cluster.endpoint, user=cluster.user, password=cluster.password, id="bench")
    try:
        _, raw, client = client_figures.run_overhead(conn, cluster.endpoint, args.calls)
        rows = [Row("bare requests POST /run (baseline)", "", "", None, raw),
                goal_row("client Service.run", client_figures.median(client) / client_figures.median(raw),
                         "{:.2f}x", GOAL_CLIENT_RATIO, "lower", client, "p50 ratio ")]
        with tempfile.TemporaryDirectory(prefix="oscar-bench-official-") as work:
            versus = client_figures.against_oscar_python(conn, cluster.endpoint, cluster.user,
                                                          cluster.password, args.official, work)
        for case, what in (("png", "600x600 PNG -> grayscale"), ("10mb", "10 MB answer")):
            theirs, ours = versus[case]
            rows.append(Row(f"oscar-python run_service, {what} (baseline)", "", "", None, theirs))
            rows.append(goal_row(f"client Service.run, {what}",
                                 client_figures.median(ours) / client_figures.median(theirs), "{:.2f}x",
                                 GOAL_VS_OSCAR_PYTHON, "lower", ours, "p50 ratio "))
        wall, speedup, ok = client_figures.map_speedup(conn, args.calls)
        row = goal_row(f"Service.map {args.calls} calls, concurrency 4", speedup, "{:.1f}x",
                       GOAL_MAP_SPEEDUP, "higher", label="speed-up over sequential ")
        row.met = bool(row.met and ok)
        rows.append(row)
        wall, matched = client_figures.submit_files(conn, args.files)
        row = goal_row(f"Service.submit {args.files} files", wall, "{:.1f} s", GOAL_SUBMIT_S, "lower")
        row.value += f", {matched}/{args.files} matched"
        row.met = bool(row.met and matched == args.files)
        rows.append(row)
    finally:
        oj.disconnect("bench")
    return rows


def _exposed_rows(cluster, args: argparse.Namespace, tmp: str) -> List[Row]:
    """The default front door (nginx where installed), with a trivial backend and the model; then,
    for comparison, the aiohttp proxy that carries exposed traffic where nginx is missing."""
    rows = _exposed_front_rows(cluster, args)
    rows += _exposed_model_rows(cluster, args)
    from oscar_jupyter import local
    from oscar_jupyter.local.exposed.frontdoor import nginx_binary

    if nginx_binary() is None:
        return rows
    fallback = local.start(data_dir=os.path.join(tmp, "data-aiohttp"), port=0, password="bench-password",
                           extra={"exposed": {"front": "aiohttp"}})
    try:
        rows += _exposed_front_rows(fallback, args, goals=False)
    finally:
        fallback.stop()
    return rows


def _exposed_model_rows(cluster, args: argparse.Namespace) -> List[Row]:
    """Proxy against direct with the digits model's predict as the backend."""
    if str(model_figures.MODEL_DIR) not in sys.path:
        sys.path.insert(0, str(model_figures.MODEL_DIR))
    try:
        import digits
        from sklearn.datasets import load_digits
    except ImportError as exc:
        return [Row(f"exposed digits model: not measured ({exc})", "")]
    image = digits.png(digits.dataset_image(load_digits().data[-1]))
    with tempfile.NamedTemporaryFile(suffix=".png") as fh:
        fh.write(image)
        fh.flush()
        script = (model_figures.MODEL_DIR / "script.sh").read_text(encoding="utf-8")
        pairs, via = exposed_figures.proxy_vs_direct(
            cluster.endpoint, (cluster.user, cluster.password), args.exposed_clients, args.exposed_seconds,
            cluster.api_version, script=script, port=5000, path="v2/models/digits/predict/", upload=fh.name,
            prefix="bench-digits-", ready_timeout=600)
    rows: List[Row] = []
    for p in pairs:
        rows.append(Row(f"digits replica direct, {p.clients} clients (baseline)",
                        f"{p.direct['rps']:.0f} req/s, p50 {p.direct['p50_ms']:.2f} ms"))
        row = goal_row(f"digits exposed via {via}, {p.clients} clients", p.ratio, "{:.2f}x",
                       GOAL_EXPOSED_MODEL_RATIO, "higher", label="throughput ")
        row.value += f" ({p.proxied['rps']:.0f} req/s, p50 {p.proxied['p50_ms']:.2f} ms)"
        row.met = bool(row.met and p.proxied["errors"] == 0 and p.direct["errors"] == 0)
        rows.append(row)
    return rows


def _exposed_front_rows(cluster, args: argparse.Namespace, goals: bool = True) -> List[Row]:
    """Proxy against direct with a trivial backend (``goals``: False for the fallback proxy, shown
    for comparison only)."""
    pairs, via = exposed_figures.proxy_vs_direct(cluster.endpoint, (cluster.user, cluster.password),
                                                 args.exposed_clients, args.exposed_seconds, cluster.api_version)
    rows: List[Row] = []
    for p in pairs:
        rows.append(Row(f"replica direct, {p.clients} clients (baseline)",
                        f"{p.direct['rps']:.0f} req/s, p50 {p.direct['p50_ms']:.2f} ms"))
        figure = f" ({p.proxied['rps']:.0f} req/s, p50 {p.proxied['p50_ms']:.2f} ms)"
        if not goals:
            rows.append(Row(f"exposed via {via} (without nginx), {p.clients} clients",
                            f"throughput {p.ratio:.2f}x{figure}"))
            continue
        row = goal_row(f"exposed via {via}, {p.clients} clients", p.ratio, "{:.2f}x", GOAL_EXPOSED_RATIO,
                       "higher", label="throughput ")
        row.value += figure
        row.met = bool(row.met and p.proxied["errors"] == 0)
        rows.append(row)
    first = pairs[0]
    if goals:
        rows.append(goal_row(f"exposed via {via}: p50 added, {first.clients} client", first.added_p50_ms,
                             "{:.2f} ms", GOAL_EXPOSED_ADDED_P50_MS, "lower"))
    else:
        rows.append(Row(f"exposed via {via} (without nginx): p50 added, {first.clients} client",
                        f"{first.added_p50_ms:.2f} ms"))
    return rows


def _offline_rows(args: argparse.Namespace) -> List[Row]:
    bare, full = offline_figures.fdl_parse(args.parses)
    row = goal_row("FDL parse + validate", statistics.median(full) / statistics.median(bare), "{:.1f}x",
                   GOAL_FDL_PARSE_RATIO, "lower", full, "p50 ratio ")
    row.value += f" ({statistics.median(full) * 1e3:.1f} ms)"
    rows = [Row("libyaml load of the same FDL (baseline)", "", "", None, bare), row]
    raw, bundle, seconds = offline_figures.image_bundle()
    rowb = goal_row("display bundle, 4000x3000 image", bundle / 1024, "{:.0f} KiB", GOAL_BUNDLE_BYTES / 1024,
                    "lower")
    rowb.value += f" (JPEG {raw / 1024:.0f} KiB, {seconds:.2f} s)"
    return rows + [rowb]


def main(argv: Sequence[str] | None, prog: str, sections: Sequence[str] = SECTIONS) -> int:
    """Parse arguments, measure, print the table; 1 with --strict when a goal is missed."""
    import sys

    args = parser(prog, sections).parse_args(argv)
    chosen = [s for s in sections if args.only is None or s in args.only]
    t0 = time.perf_counter()
    rows = collect(args, chosen)
    from .table import render

    title = (f"oscar-jupyter benchmark ({os.cpu_count()} cores, Python {sys.version.split()[0]}; "
             f"ratios are against the baseline rows measured in the same run)")
    print(render(rows, title))
    if args.markdown:
        from . import machine
        from .table import markdown

        given = list(argv if argv is not None else sys.argv[1:])
        page = os.path.abspath(args.markdown)
        shown = os.path.relpath(page) if page.startswith(os.getcwd() + os.sep) else args.markdown
        command = " ".join([prog] + [shown if a == args.markdown else a for a in given])
        with open(args.markdown, "w", encoding="utf-8") as fh:
            fh.write(markdown(rows, "Benchmarks", machine.describe()
                              + ["ratios are against the baseline rows measured in the same run"], command))
    missed = [r.measure for r in rows if r.met is False]
    print(f"{len(rows) - sum(r.met is None for r in rows) - len(missed)} goals met, {len(missed)} missed; "
          f"total {time.perf_counter() - t0:.1f} s")
    return 1 if (missed and args.strict) else 0
