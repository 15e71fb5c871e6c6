#!/usr/bin/env bash
# Re-extract the French source strings, update the English catalogue and compile it.
# Run after changing any _() / _l() / ngettext() string, then translate the entries it lists
# in idp/translations/en/LC_MESSAGES/messages.po and run it again (see idp/translations/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
PYBABEL=${PYBABEL:-.venv/bin/pybabel}
PYTHON=${PYTHON:-.venv/bin/python}
"$PYBABEL" -q extract -F babel.cfg -k _l -k lazy_gettext \
  --project=idp --version=0.1.0 --copyright-holder=idp --add-comments=Translators: \
  -o idp/translations/messages.pot .
"$PYBABEL" -q update -i idp/translations/messages.pot -d idp/translations \
  --ignore-obsolete
# Entries that still need a translator: new (empty msgstr) or fuzzy (guessed by update).
"$PYTHON" - <<'PY'
from pathlib import Path

from babel.messages.pofile import read_po

for po in sorted(Path("idp/translations").glob("*/LC_MESSAGES/messages.po")):
    with po.open("rb") as f:
        catalog = read_po(f)
    todo = [
        m for m in catalog
        if m.id and (m.fuzzy or not all(m.string if isinstance(m.string, tuple) else [m.string]))
    ]
    print(f"{po}: {len([m for m in catalog if m.id])} entries, {len(todo)} to translate")
    for m in todo:
        print(f"  {'fuzzy' if m.fuzzy else 'new'}: {m.id!r}")
PY
"$PYBABEL" -q compile -d idp/translations
