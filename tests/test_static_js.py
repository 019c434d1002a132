"""The page scripts, read as text: checks that need no browser. A function declared twice at the same depth of one
file silently replaces the first (two branches merged with a `renderPending` each broke every participant page).
The pages load ES modules (static/js/format.js is shared, the console is static/js/console/*.js): every import must
name a file and a name that file exports, every module must be loaded as one, and what the participant page imports
must be in the service worker's offline shell."""
from __future__ import annotations

import collections
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
JS = ROOT / "static" / "js"
SCRIPTS = sorted(JS.rglob("*.js"))
DECLARATION = re.compile(r"^([ \t]*)function ([\w$]+)\s*\(", re.M)
IMPORT = re.compile(r"^import\s*\{([^}]*)\}\s*from\s*\"([^\"]+)\";", re.M)
EXPORT = re.compile(r"^export (?:async )?(?:function\*?|var|const|let|class) ([\w$]+)", re.M)
SCRIPT_TAG = re.compile(r"<script([^>]*)src=\"\{\{ url_for\('static', filename='(js/[^']+)'\) \}\}\"([^>]*)>")
PRELOAD = re.compile(r"<link rel=\"modulepreload\" href=\"\{\{ url_for\('static', filename='([^']+)'\) \}\}\">")


def is_module(path: Path) -> bool:
    """A file with an import or export statement (a syntax error as a classic script)."""
    return bool(re.search(r"^(import|export) ", path.read_text(), re.M))


def imports(path: Path) -> list[tuple[Path, list[str]]]:
    """(file, names) of each `import {a, b as c} from "./x.js";` of a module."""
    return [((path.parent / spec).resolve(), [n.split(" as ")[0].strip() for n in names.split(",") if n.strip()])
            for names, spec in IMPORT.findall(path.read_text())]


def closure(path: Path) -> set[Path]:
    """A module and everything it imports, directly or not."""
    seen, todo = set(), [path.resolve()]
    while todo:
        p = todo.pop()
        if p not in seen:
            seen.add(p)
            todo += [f for f, _ in imports(p)]
    return seen


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: str(p.relative_to(JS)))
def test_no_function_is_declared_twice(path):
    """Every `function name(` at one indentation appears once per file."""
    counts = collections.Counter(DECLARATION.findall(path.read_text()))
    assert SCRIPTS and [name for (_, name), n in counts.items() if n > 1] == []


@pytest.mark.parametrize("path", [p for p in SCRIPTS if is_module(p)], ids=lambda p: str(p.relative_to(JS)))
def test_every_import_names_an_export(path):
    """Each imported file exists (a relative path inside static/) and exports each name imported from it."""
    found = imports(path)
    text = path.read_text()
    assert len(found) == len(re.findall(r"^import ", text, re.M)), "an import this check cannot read"
    for target, names in found:
        assert target.is_file() and ROOT / "static" in target.parents, target
        exported = set(EXPORT.findall(target.read_text()))
        assert [n for n in names if n not in exported] == [], target.name


def test_the_console_and_the_shared_helpers_are_modules():
    """The console is split into modules, and every page takes its time and text helpers from format.js."""
    console = sorted(p.name for p in (JS / "console").glob("*.js"))
    assert {"main.js", "connection.js", "draw.js", "actions.js"} <= set(console)
    assert not (JS / "console.js").exists()
    for page in ["participant.js", "board.js", "index.js", "console/ui.js", "console/draw.js"]:
        assert JS / "format.js" in {f for f, _ in imports(JS / page)}, page
    # No page keeps a copy of a shared helper.
    shared = set(EXPORT.findall((JS / "format.js").read_text()))
    for path in SCRIPTS:
        if path.name != "format.js":
            declared = {name for indent, name in DECLARATION.findall(path.read_text())}
            assert declared & shared <= {"errorText"}, path.name  # errorText: a page's wrapper with its own texts


def test_templates_load_modules_as_modules():
    """A script tag for a file with import/export says type="module" (and only those do); every file exists."""
    tags = [(t, m + a, f) for t in sorted((ROOT / "templates").glob("*.html"))
            for m, f, a in SCRIPT_TAG.findall(t.read_text())]
    assert any(f == "js/console/main.js" for _, _, f in tags)
    for template, attrs, file in tags:
        path = ROOT / "static" / file
        assert path.is_file(), (template.name, file)
        if file.startswith("js/"):
            assert ('type="module"' in attrs) == is_module(path), (template.name, file)


@pytest.mark.parametrize("template", sorted((ROOT / "templates").glob("*.html")), ids=lambda p: p.name)
def test_templates_preload_every_module_their_scripts_import(template):
    """A page names every module its scripts import (`modulepreload`), so a phone fetches them all at once instead
    of one round trip per level of imports; and it preloads nothing else."""
    text = template.read_text()
    entries = {(ROOT / "static" / f).resolve() for m, f, a in SCRIPT_TAG.findall(text) if 'type="module"' in m + a}
    needed = set().union(*[closure(e) for e in entries]) - entries if entries else set()
    preloaded = {(ROOT / "static" / f).resolve() for f in PRELOAD.findall(text)}
    assert len(PRELOAD.findall(text)) == text.count('rel="modulepreload"'), "a preload this check cannot read"
    assert preloaded == needed, (sorted(p.name for p in needed - preloaded), sorted(p.name for p in preloaded - needed))


def test_the_offline_shell_holds_every_participant_module():
    """The participant page reloads without network from the service worker's shell: every module it imports is in
    the shell's list, or that reload would fail on the missing import."""
    shell = set(re.findall(r"\"(/static/[^\"]+)\"", (ROOT / "static" / "sw.js").read_text()))
    needed = {"/static/" + str(p.relative_to(ROOT / "static")) for p in closure(JS / "participant.js")}
    assert len(needed) > 1 and needed <= shell, needed - shell
