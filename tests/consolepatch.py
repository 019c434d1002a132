"""The coordinator's side of the `console` message in Python, for tests: what static/js/console/views.js (ConsoleViews,
applyConsole) does with it, so a test can follow a console through whole views and patches."""
from __future__ import annotations

import copy


def apply_console(view: dict | None, msg: dict) -> dict | None:
    """The whole view a `console` message gives from `view` (None: it is a patch and `view` is not its base)."""
    if "patch" not in msg:
        return msg
    if view is None or view.get("key") != msg["base"]:
        return None
    out = copy.deepcopy(view)
    for path, op in msg["lists"].items():
        parent, last = _at(out, path)
        old, rows = parent[last], []
        for r in op["rows"]:
            rows += copy.deepcopy(old[r[0]:r[0] + r[1]]) if isinstance(r, list) else [r]
        for i, row in enumerate(rows, start=1):
            if op.get("renumber"):
                row[op["renumber"]] = i
        parent[last] = rows
    for path, value in msg["patch"].items():
        parent, last = _at(out, path)
        parent[last] = value
    out.update(v=msg["v"], key=msg["key"])
    return out


def _at(root, path: str):
    """The container of a dotted path's last part, and that part (an index in a list)."""
    *keys, last = path.split(".")
    node = root
    for k in keys:
        node = node[int(k)] if isinstance(node, list) else node[k]
    return node, int(last) if isinstance(node, list) else last


class ConsoleFollower:
    """Follows `console` messages as a console page does: views kept by key, the newest drawn."""

    def __init__(self, keep: int = 4):
        """Nothing held yet."""
        self.views: list[dict] = []
        self.keep = keep
        self.shown: dict | None = None
        self.missed = 0  # patches whose base was not held (a page asks for a snapshot then)
        self.early = 0  # patches before any view was held (the page waits for the snapshot sent on connect)

    def take(self, msg: dict) -> dict | None:
        """The view a message gives (also shown when not older), None when its base is not held."""
        base = next((w for w in self.views if w.get("key") == msg.get("base")), None) if "patch" in msg else None
        view = apply_console(base, msg)
        if view is None and any(w.get("key") == msg.get("key") for w in self.views):
            return None  # the view it gives is held already (a snapshot taken after it was made)
        if view is None:
            if self.views:
                self.missed += 1
            else:
                self.early += 1
            return None
        self.views = [w for w in self.views if w.get("key") != view.get("key")][-(self.keep - 1):] + [view]
        if self.shown is None or view["v"] >= self.shown["v"]:
            self.shown = view
        return view
