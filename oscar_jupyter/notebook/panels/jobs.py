"""Jobs monitor: live statuses of a service's jobs, batch progress, logs on click.

`refresh()` lists the jobs; `auto_refresh = True` (or the checkbox) refreshes
them from a background thread every `interval` seconds until it is switched
off or the panel is closed. `expected` turns the progress bar into the
progress of a batch of that many jobs; `run` (an `AsyncRun` from
`Service.submit(..., wait=False)`) watches just the jobs its uploads started.
"""
from __future__ import annotations

import html
import logging
import threading
from typing import Any, Dict, List, Optional

import ipywidgets as widgets

from oscar_jupyter.errors import OscarError

from .base import Panel, close_tree, pre

log = logging.getLogger(__name__)

STATUSES = ["Pending", "Running", "Succeeded", "Failed", "Suspended"]
FINISHED = {"Succeeded", "Failed"}
MAX_ROWS = 200  # jobs drawn as rows (newest first); the rest are counted
_COLOURS = {"Succeeded": "#26a269", "Failed": "#c01c28", "Running": "#1a5fb4",
            "Pending": "#986a00", "Suspended": "#777"}


def _when(value: Any) -> str:
    if value is None:
        return ""
    text = value.isoformat(timespec="seconds") if hasattr(value, "isoformat") else str(value)
    return text.replace("T", " ").replace("+00:00", "Z")


def _time_cell(value: Any) -> widgets.HTML:
    text = html.escape(_when(value))
    return widgets.HTML(f'<span style="white-space:nowrap">{text}</span>')


class JobsPanel(Panel):
    """Watch the jobs of one service.

    From code: `refresh()`, `show_log(job_name)`, `delete_finished()`,
    `auto_refresh = True/False`; read `jobs`, `counts`, `log_html.value`.
    """

    panel_title = "Jobs"

    def __init__(self, cluster: Any = None, service: Any = None, *, run: Any = None,
                 interval: float = 2.0, expected: Optional[int] = None, auto_refresh: bool = False,
                 **kwargs: Any) -> None:
        if run is not None:
            service = run.service.name
            cluster = cluster if cluster is not None else run.service.cluster
            expected = expected or len(run.uploads)
        super().__init__(cluster, **kwargs)
        self.run = run
        self.interval = interval
        self.expected = expected
        self.jobs: List[Any] = []
        self.counts: Dict[str, int] = {}
        self.job_buttons: Dict[str, widgets.Button] = {}
        self._lock = threading.Lock()

        self.service = widgets.Dropdown(description="Service", options=[],
                                        layout=widgets.Layout(width="24em"))
        self.status_filter = widgets.Dropdown(description="Status", options=["all"] + STATUSES,
                                              value="all", layout=widgets.Layout(width="16em"))
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh")
        self.auto = widgets.Checkbox(value=False, description=f"auto-refresh every {interval:g} s",
                                     indent=False)
        self.delete_button = widgets.Button(description="Delete succeeded", icon="trash",
                                            button_style="warning", layout=widgets.Layout(width="auto"),
                                            tooltip="Delete the jobs that succeeded (failed ones stay)")
        self.progress = widgets.IntProgress(value=0, min=0, max=1, bar_style="info",
                                            layout=widgets.Layout(width="20em"))
        self.progress_label = widgets.HTML("")
        self.table = widgets.GridBox([], layout=widgets.Layout(
            grid_template_columns="minmax(20em, max-content) 6em repeat(3, max-content)",
            grid_gap="1px 12px", align_items="center"))
        self.log_title = widgets.HTML("")
        self.log_html = widgets.HTML("")

        self.on_click(self.refresh_button, self.refresh)
        self.on_click(self.delete_button, self.delete_finished)
        self.auto.observe(lambda ch: self.guarded(self._set_auto, ch["new"]), names="value")
        self.service.observe(lambda _ch: self.guarded(self._service_changed), names="value")
        self.status_filter.observe(lambda _ch: self.guarded(self.refresh), names="value")
        self.children = [
            self.title,
            widgets.HBox([self.service, self.status_filter, self.refresh_button, self.auto]),
            widgets.HBox([self.progress, self.progress_label, self.delete_button]),
            self.table,
            self.log_title,
            self.log_html,
            self.status,
        ]
        self._syncing = True
        try:
            self.service.options = [s.name for s in self.cluster.services()]
            if service is not None:
                name = service if isinstance(service, str) else service.name
                if name not in self.service.options:
                    raise OscarError(f"No service named {name!r} on this cluster.")
                self.service.value = name
        finally:
            self._syncing = False
        if self.service.value:
            self.refresh()
        if auto_refresh:
            self.auto_refresh = True

    # -- public API -------------------------------------------------------------------
    @property
    def auto_refresh(self) -> bool:
        """Whether a background thread refreshes the list."""
        return self.worker_alive

    @auto_refresh.setter
    def auto_refresh(self, on: bool) -> None:
        self.auto.value = bool(on)  # the observer starts or stops the thread

    def refresh(self) -> List[Any]:
        """Fetch the jobs and redraw the table and the progress."""
        if not self.service.value:
            self.set_status("no service selected", "info")
            return []
        svc = self.cluster.service(self.service.value)
        wanted = None if self.status_filter.value == "all" else self.status_filter.value
        jobs = list(svc.jobs(status=wanted))
        everything = jobs if wanted is None else list(svc.jobs())
        if self.run is not None:  # only the jobs that appeared after the run's uploads
            known = set(self.run.known_jobs)
            jobs = [j for j in jobs if j.name not in known]
            everything = [j for j in everything if j.name not in known]
        with self._lock:
            self.jobs = jobs
            self.counts = {}
            for job in everything:
                status = str(job.status or "Unknown")
                self.counts[status] = self.counts.get(status, 0) + 1
            self._draw()
        summary = ", ".join(f"{n} {s}" for s, n in sorted(self.counts.items())) or "no jobs"
        self.set_status(f"{svc.name}: {summary}", "info")
        return jobs

    def show_log(self, job: Any) -> str:
        """Show (and return) the log of a job, given its name or the job."""
        name = job if isinstance(job, str) else job.name
        svc = self.cluster.service(self.service.value)
        text = svc.logs(name)
        self.log_title.value = f"<b>Log of {html.escape(name)}</b>"
        self.log_html.value = pre(text or "(empty log)", "24em")
        return text

    def delete_finished(self, all: bool = False) -> None:
        """Delete the service's succeeded jobs (`all=True`: every job), then refresh."""
        svc = self.cluster.service(self.service.value)
        svc.delete_jobs(all=all)
        self.refresh()
        self.set_status(f"{svc.name}: {'all' if all else 'succeeded'} jobs deleted", "ok")

    def close(self) -> None:
        """Stop auto-refresh and close the panel."""
        self._syncing = True
        self.auto.value = False
        super().close()

    # -- internals --------------------------------------------------------------------
    def _service_changed(self) -> None:
        if self._syncing:
            return
        self.log_title.value = ""
        self.log_html.value = ""
        self.refresh()

    def _set_auto(self, on: bool) -> None:
        self.keep_refreshing(on, name=f"oscar-jobs-{self.service.value}")

    def refresh_done(self) -> bool:
        if self.expected and sum(self.counts.get(s, 0) for s in FINISHED) >= self.expected:
            self.set_status("batch finished; auto-refresh stopped", "ok")
            self.auto.value = False  # the observer stops this thread without joining it
            return True
        return False

    def _draw(self) -> None:
        header = [widgets.HTML(f"<b>{h}</b>") for h in ("job", "status", "created", "started", "finished")]
        cells: List[widgets.Widget] = list(header)
        self.job_buttons = {}
        newest = sorted(self.jobs, key=lambda j: str(j.creation_time or ""), reverse=True)
        for job in newest[:MAX_ROWS]:
            name, status = job.name, str(job.status or "")
            button = widgets.Button(description=name, tooltip=f"Show the log of {name}",
                                    layout=widgets.Layout(width="auto"))
            button.on_click(lambda _b, n=name: self.guarded(self.show_log, n))
            self.job_buttons[name] = button
            colour = _COLOURS.get(status, "#333")
            cells += [button,
                      widgets.HTML(f'<span class="oscar-job-status" style="color:{colour}">'
                                   f'{html.escape(status)}</span>'),
                      _time_cell(job.creation_time), _time_cell(job.start_time),
                      _time_cell(job.finish_time)]
        if len(newest) > MAX_ROWS:
            cells += [widgets.HTML(f"<i>… {len(newest) - MAX_ROWS} older jobs not shown</i>")] + \
                [widgets.HTML("") for _ in range(4)]
        old, self.table.children = self.table.children, cells
        for widget in old:
            close_tree(widget)  # a refresh every few seconds must not pile up widgets
        total = sum(self.counts.values())
        done = sum(self.counts.get(s, 0) for s in FINISHED)
        target = max(self.expected or 0, total, 1)
        self.progress.max = target
        self.progress.value = done
        failed = self.counts.get("Failed", 0)
        self.progress.bar_style = "danger" if failed else ("success" if done >= target else "info")
        extra = f", {failed} failed" if failed else ""
        self.progress_label.value = f"{done}/{target} finished{html.escape(extra)}"
