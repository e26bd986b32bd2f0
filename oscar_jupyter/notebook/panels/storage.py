"""Storage browser: buckets and folders of the cluster's object storage.

Navigate by clicking buckets and folders (or `navigate(path)` / `up()`), upload
dropped files into the current folder with a progress bar, download objects
into a local folder (or as a browser download link), preview images and text,
make presigned links, and delete objects (after a confirmation).
"""
from __future__ import annotations

import base64
import html
import logging
import mimetypes
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import ipywidgets as widgets

from oscar_jupyter.display.html import size as _human
from oscar_jupyter.errors import OscarError

from . import preview
from .base import Panel, close_tree
from .confirm import ConfirmedDelete

log = logging.getLogger(__name__)

PREVIEW_LIMIT = 20 * 1024 * 1024      # bytes fetched for a preview
LINK_LIMIT = 5 * 1024 * 1024          # largest object offered as a data: download link
MAX_ROWS = 200                        # entries drawn as rows; the rest are counted


def _entry(item: Any) -> Tuple[str, bool, Optional[int]]:
    """(name inside the listed folder, is_folder, size) of a `storage.ObjectInfo`."""
    return item.name, bool(item.is_dir), item.size


class StoragePanel(ConfirmedDelete, Panel):
    """Browse buckets and objects.

    From code: `navigate("bucket/folder")`, `up()`, `refresh()`, `upload(files)`
    (paths or (name, bytes) pairs, default: the dropped files),
    `download(name, folder)`, `preview(name)`, `presign(name)`, `ask_delete(name)`
    then `confirm_delete()`; `path` is the
    current location ("" = the bucket list), `entries` what it holds.
    """

    panel_title = "Storage"

    def __init__(self, cluster: Any = None, path: str = "", **kwargs: Any) -> None:
        super().__init__(cluster, **kwargs)
        self.path = ""
        self.entries: List[Tuple[str, bool, Optional[int]]] = []
        self.entry_buttons: Dict[str, Dict[str, widgets.Button]] = {}
        self.location = widgets.HTML("")
        self.up_button = widgets.Button(icon="arrow-up", tooltip="Up one level",
                                        layout=widgets.Layout(width="3em"))
        self.refresh_button = widgets.Button(icon="refresh", tooltip="Refresh",
                                             layout=widgets.Layout(width="3em"))
        self.table = widgets.GridBox([], layout=widgets.Layout(
            grid_template_columns="minmax(16em, 2fr) 7em auto", grid_gap="2px 8px",
            align_items="center"))
        self.upload_widget = widgets.FileUpload(description="Drop files", multiple=True)
        self.upload_button = widgets.Button(description="Upload here", icon="upload")
        self.upload_progress = widgets.IntProgress(value=0, min=0, max=1,
                                                   layout=widgets.Layout(width="14em",
                                                                         visibility="hidden"))
        self.download_folder = widgets.Text(value=".", description="Save to",
                                            layout=widgets.Layout(width="22em"))
        self.link_html = widgets.HTML("")
        self.preview_view = widgets.Output(layout=widgets.Layout(border="1px solid #ddd",
                                                                 max_height="32em", overflow="auto"))
        self.preview_view.add_class("oscar-storage-preview")
        self.init_confirmation("Nothing to delete: press an object's delete button first.")

        self.on_click(self.up_button, self.up)
        self.on_click(self.refresh_button, self.refresh)
        self.on_click(self.upload_button, lambda: self.upload())
        self.children = [self.title,
                         widgets.HBox([self.up_button, self.refresh_button, self.location]),
                         self.table, self.confirm_box,
                         widgets.HBox([self.upload_widget, self.upload_button, self.upload_progress]),
                         self.download_folder, self.link_html, self.preview_view, self.status]
        self.navigate(path)

    @property
    def storage(self) -> Any:
        """The cluster's `Storage`."""
        return self.cluster.storage

    # -- navigation -------------------------------------------------------------------
    def navigate(self, path: str) -> None:
        """Go to `path` ("" = the bucket list, "bucket" or "bucket/folder")."""
        self.path = path.strip("/")
        self.link_html.value = ""
        self.refresh()

    def up(self) -> None:
        """Go to the parent folder."""
        self.navigate(self.path.rsplit("/", 1)[0] if "/" in self.path else "")

    def refresh(self) -> None:
        """List the current location."""
        if not self.path:
            self.entries = [(bucket, True, None) for bucket in self.storage.buckets()]
        else:
            self.entries = [_entry(item) for item in self.storage.ls(self.path)]
            self.entries = [e for e in self.entries if e[0]]
        self._draw()
        where = "/" + self.path if self.path else "buckets"
        self.location.value = f"<code>{html.escape(where)}</code> · {len(self.entries)} entries"
        self.set_status("", "info")

    # -- object actions ----------------------------------------------------------------
    def upload(self, files: Optional[List[Any]] = None) -> List[str]:
        """Upload files into the current folder with progress; returns the object paths."""
        if not self.path:
            raise OscarError("Open a bucket first: objects live inside buckets.")
        items: List[Tuple[str, Any]] = []
        if files is None:
            for item in self.upload_widget.value:
                items.append((item["name"], bytes(item["content"])))
        else:
            for f in files:
                items.append((Path(f).name, Path(f)) if isinstance(f, (str, Path)) else (f[0], f[1]))
        if not items:
            raise OscarError("No files to upload: drop some on the upload button first.")
        self.upload_progress.layout.visibility = "visible"
        self.upload_progress.max = len(items)
        self.upload_progress.value = 0
        self.upload_progress.bar_style = "info"
        done = []
        for name, content in items:
            target = f"{self.path}/{name}"
            self.set_status(f"uploading {name}…", "busy")
            self.storage.put(content, target)
            done.append(target)
            self.upload_progress.value += 1
        self.upload_progress.bar_style = "success"
        self.upload_widget.value = ()
        self.refresh()
        self.set_status(f"uploaded {len(done)} file(s) to /{self.path}", "ok")
        return done

    def _object(self, name: str) -> str:
        if not self.path:
            raise OscarError("Buckets are opened, not downloaded: open one first.")
        if name in ("", ".", "..") or "/" in name:
            raise OscarError(f"{name!r} is not an object name in /{self.path}.")
        return f"{self.path}/{name}"

    def fetch(self, name: str) -> bytes:
        """The content of object `name` in the current folder."""
        return self.storage.read(self._object(name))

    def download(self, name: str, folder: Optional[str] = None) -> Path:
        """Save object `name` into `folder` (default: the panel's) and offer a download link."""
        target_dir = Path(folder or self.download_folder.value or ".").expanduser()
        target_dir.mkdir(parents=True, exist_ok=True)
        # streamed to the file: an object larger than memory downloads too
        target = Path(self.storage.get(self._object(name), target_dir / name, progress=False))
        size = target.stat().st_size
        link = ""
        if size <= LINK_LIMIT:
            mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
            encoded = base64.b64encode(target.read_bytes()).decode("ascii")
            link = (f' · <a download="{html.escape(name)}" href="data:{mime};base64,{encoded}">'
                    f"⬇ download {html.escape(name)} in the browser</a>")
        self.link_html.value = f"saved <code>{html.escape(str(target))}</code>{link}"
        self.set_status(f"downloaded {name} ({_human(size)})", "ok")
        return target

    def preview(self, name: str) -> None:
        """Preview object `name` (images downscaled, text as text)."""
        size = next((s for n, d, s in self.entries if n == name), None)
        if size is not None and size > PREVIEW_LIMIT:
            raise OscarError(f"{name} is {_human(size)}: too large to preview; download it instead.")
        preview.show(self.preview_view, self.fetch(name), name, caption=name)
        self.set_status(f"previewing {name}", "ok")

    def presign(self, name: str, expires: int = 3600) -> str:
        """A presigned URL for object `name`, valid `expires` seconds, shown as a link."""
        url = str(self.storage.presign(self._object(name), expires=expires))
        self.link_html.value = (f'presigned link ({expires // 60} min): '
                                f'<a href="{html.escape(url)}" target="_blank">{html.escape(name)}</a>')
        self.set_status(f"presigned link for {name}", "ok")
        return url

    def ask_delete(self, name: str) -> None:
        """Ask for a confirmation before deleting object `name`."""
        path = self._object(name)
        self.confirm_box.ask(name, f"Delete <code>{html.escape(path)}</code>?")

    def delete_confirmed(self, name: str) -> None:
        """Delete the object `ask_delete` named (`confirm_delete()` calls this)."""
        self.storage.rm(self._object(name))
        self.refresh()
        self.set_status(f"deleted {name}", "ok")

    # -- internals --------------------------------------------------------------------
    def _draw(self) -> None:
        cells: List[widgets.Widget] = [widgets.HTML(f"<b>{h}</b>") for h in ("name", "size", "")]
        self.entry_buttons = {}
        for name, is_dir, size in self.entries[:MAX_ROWS]:
            if is_dir:
                folder = name.rstrip("/")
                button = widgets.Button(description=folder + "/", icon="folder",
                                        layout=widgets.Layout(width="auto"))
                target = f"{self.path}/{folder}" if self.path else folder
                button.on_click(lambda _b, t=target: self.guarded(self.navigate, t))
                self.entry_buttons[folder] = {"open": button}
                cells += [button, widgets.HTML(""), widgets.HTML("")]
                continue
            actions = {}
            for action, icon, tip in (("preview", "eye", "Preview"), ("download", "download", "Download"),
                                      ("presign", "link", "Presigned link"), ("delete", "trash", "Delete")):
                b = widgets.Button(icon=icon, tooltip=f"{tip}: {name}", layout=widgets.Layout(width="2.8em"),
                                   button_style="danger" if action == "delete" else "")
                handler = {"preview": self.preview, "download": self.download,
                           "presign": self.presign, "delete": self.ask_delete}[action]
                b.on_click(lambda _b, h=handler, n=name: self.guarded(h, n))
                actions[action] = b
            self.entry_buttons[name] = actions
            cells += [widgets.HTML(f"<code>{html.escape(name)}</code>"),
                      widgets.HTML(_human(size)), widgets.HBox(list(actions.values()))]
        if len(self.entries) > MAX_ROWS:
            cells += [widgets.HTML(f"<i>… {len(self.entries) - MAX_ROWS} more not shown</i>"),
                      widgets.HTML(""), widgets.HTML("")]
        old, self.table.children = self.table.children, cells
        for widget in old:
            close_tree(widget)
