"""The README's configuration table and the IDP_* variables idp reads tell the same story."""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

from idp import config

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def settings_in_config() -> dict[str, object]:
    """Each setting of class Defaults in idp/config.py (parsed, not imported): name → default."""
    tree = ast.parse((ROOT / "idp" / "config.py").read_text())
    defaults = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Defaults")
    found = {}
    for node in defaults.body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        if isinstance(target, ast.Name) and target.id.isupper():
            found[target.id] = getattr(config.Defaults, target.id)
    return found


ENVIRON_GETTERS = ("os.environ.get", "os.getenv", "environ.get", "getenv")


def environ_reads(files) -> set[str]:
    """IDP_* names read directly: os.environ.get("IDP_X"), os.getenv(…), os.environ["IDP_X"]."""
    names = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and node.args:
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in ("get", "getenv") and ast.unparse(func) in ENVIRON_GETTERS:
                    names.add(getattr(node.args[0], "value", None))
            elif isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
                names.add(getattr(node.slice, "value", None))
    return {n for n in names if isinstance(n, str) and n.startswith("IDP_")}


def shell_reads() -> set[str]:
    """IDP_* names the scripts read (${IDP_X…} or $IDP_X), e.g. the test database of make test."""
    text = "\n".join(p.read_text() for p in [ROOT / "Makefile", *(ROOT / "scripts").glob("*.sh")])
    return set(re.findall(r"\$\{?(IDP_[A-Z0-9_]+)", text))


def app_files() -> list[Path]:
    return [*(ROOT / "idp").rglob("*.py"), ROOT / "wsgi.py", ROOT / "gunicorn.conf.py"]


@functools.cache
def read_by_idp() -> frozenset[str]:
    return frozenset({f"IDP_{name}" for name in settings_in_config()} | environ_reads(app_files()))


def table_rows() -> dict[str, str]:
    """Variable → its row in the table of "## Configuration"; `IDP_A_B` / `_C` names IDP_A_C."""
    section = README.split("\n## Configuration", 1)[1].split("\n## ", 1)[0]
    known = read_by_idp()
    rows = {}
    for line in section.splitlines():
        if not line.startswith("| `IDP_"):
            continue
        names = re.findall(r"`([A-Z0-9_]+)`", line.split("|")[1])
        first = names[0]
        rows[first] = line
        for suffix in names[1:]:
            if not suffix.startswith("_"):
                rows[suffix] = line
                continue
            prefixes = ["_".join(first.split("_")[:i]) for i in range(len(first.split("_")), 1, -1)]
            candidates = [prefix + suffix for prefix in prefixes]
            rows[next((c for c in candidates if c in known), candidates[0])] = line
    return rows


def test_the_parsers_find_what_they_look_for():
    assert {"ISSUER", "SMTP_TIMEOUT", "UPSTREAMS"} <= set(settings_in_config())
    assert "IDP_ENV" in environ_reads([ROOT / "idp" / "federation" / "standin" / "__init__.py"])
    assert "IDP_TEST_PG_URL" in shell_reads()
    rows = table_rows()
    assert "IDP_ARGON2_PARALLELISM" in rows and "IDP_BACKCHANNEL_MAX_ATTEMPTS" in rows


def test_every_setting_is_read_from_its_environment_variable(monkeypatch, tmp_path):
    samples = {int: "7", str: "lu-dans-l-environnement", list: '[{"name": "x"}]'}
    defaults = settings_in_config()
    for name, default in defaults.items():
        sample = str(not default).lower() if isinstance(default, bool) else samples[type(default)]
        monkeypatch.setenv(f"IDP_{name}", sample)
    loaded = config.load_config(tmp_path)
    unread = [name for name, default in defaults.items() if loaded[name] == default]
    assert not unread, f"set in the environment but not read: {unread}"


def test_every_variable_read_is_in_the_readme_table():
    missing = sorted(read_by_idp() - set(table_rows()))
    assert not missing, f"read by idp, missing from the README's configuration table: {missing}"


def test_every_variable_the_readme_names_is_read():
    stale = sorted(set(table_rows()) - read_by_idp())
    assert not stale, f"in the README's configuration table, read nowhere: {stale}"
    named = set(re.findall(r"\b(IDP_[A-Z0-9_]*[A-Z0-9])\b", README))
    stale = sorted(named - read_by_idp() - shell_reads())
    assert not stale, f"named in the README, read nowhere: {stale}"


def test_each_row_gives_a_default_and_a_meaning():
    for name, row in table_rows().items():
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        assert len(cells) == 3 and all(cells), f"{name}: {row}"


def test_plain_defaults_in_the_table_are_the_code_defaults():
    """A row naming one variable with one `value` states the default of idp/config.py."""
    defaults = settings_in_config()
    checked = 0
    for name, row in table_rows().items():
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        shown = re.fullmatch(r"`([^`]*)`", cells[1])
        default = defaults.get(name.removeprefix("IDP_"), None)
        if " / " in cells[0] or not shown or not isinstance(default, (int, str)):
            continue
        if isinstance(default, str) and default.startswith(str(ROOT)):  # a folder of the checkout
            default = Path(default).relative_to(ROOT).as_posix() + "/"
        expected = str(default).lower() if isinstance(default, bool) else str(default)
        assert shown.group(1) == expected, f"{name}: README says {cells[1]}, code {default!r}"
        checked += 1
    assert checked >= 20
