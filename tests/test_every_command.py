"""Every `idp` command, fed what an operator may mistype: a one-line error, never a traceback.

The commands are found by walking the click tree, so a new one is covered without editing
this file. Each parameter gets hostile values derived from its type and name; a valid
invocation (the "baseline") is built the same way, and one parameter at a time is replaced.
"""

from __future__ import annotations

import itertools
import shutil
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

import click
import pytest
from sqlalchemy import func
from sqlalchemy import select

from idp import create_app
from idp.extensions import db
from idp.models import Base
from tests.conftest import dispose
from tests.conftest import make_config
from tests.factories import PASSWORD
from tests.factories import POST_LOGOUT
from tests.factories import REDIRECT
from tests.factories import Factories
from tests.registry.conftest import DATA
from tests.smtp import smtp_server  # noqa: F401


def own_commands(app) -> dict[str, click.Command]:
    """idp's leaf commands by path ("clients create"), not Flask's nor Flask-Migrate's."""
    found: dict[str, click.Command] = {}

    def walk(group: click.Group, path: list[str]) -> None:
        ctx = click.Context(group)
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if isinstance(command, click.Group):
                walk(command, [*path, name])
            elif command.callback and command.callback.__module__.startswith("idp."):
                found[" ".join([*path, name])] = command

    walk(app.cli, [])
    return found


@pytest.fixture
def cli_app(app, tmp_path_factory, smtp_server):  # noqa: F811
    """The session database with keys of its own (the key commands write files), sending
    mail at once to a test SMTP server (`outbox test` delivers)."""
    made = create_app(
        make_config(
            tmp_path_factory,
            DATABASE_URL=app.config["DATABASE_URL"],
            SMTP_PORT=smtp_server.port,
            NOTIFY_ASYNC=False,
        )
    )
    with made.app_context():
        made.extensions["idp_keys"].generate("RS256")
    yield made
    dispose(made)


@dataclass
class World:
    """What a valid invocation needs: existing portals and accounts, files, fresh names."""

    app: object
    tmp: Path
    counter: itertools.count = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self):
        self.factories = Factories(self.app)
        self.csv = self.tmp / "insured.csv"
        shutil.copy(DATA / "insured.csv", self.csv)
        from idp.registry.importer import import_csv

        with self.app.app_context(), (DATA / "professionals.csv").open("rb") as fh:
            import_csv("professional", fh)
            db.session.commit()

    def fresh(self) -> int:
        return next(self.counter)

    def existing_portal(self) -> str:
        return self.factories.portal(client_id=f"portail-{self.fresh()}").client_id

    def existing_account(self) -> str:
        return self.factories.account(email=f"compte{self.fresh()}@example.fr").email

    def pending_letter(self) -> None:
        """A letter waiting for export, so that `letters export` writes a file."""
        from idp.registry.models import ProfessionalRecord
        from idp.registry.services import queue_letter

        with self.app.app_context():
            record = db.session.scalars(select(ProfessionalRecord)).first()
            queue_letter(record, "confidential_code")
            db.session.commit()

    def state(self) -> tuple:
        """Row counts of every table, and the files of the keys and work folders."""
        tables = Base.metadata.sorted_tables
        with self.app.app_context():
            counts = db.session.execute(
                select(*(select(func.count()).select_from(t).scalar_subquery() for t in tables))
            ).one()
            db.session.rollback()
        files = sorted(
            str(p) for d in (Path(self.app.config["KEYS_DIR"]), self.tmp) for p in d.rglob("*")
        )
        return dict(zip((t.name for t in tables), counts, strict=True)), files


# Valid values, by parameter name: arguments name existing things, options new ones.
def valid_value(param: click.Parameter, world: World) -> str:
    name = param.name
    n = world.fresh()
    if isinstance(param, click.Argument) and name == "client_id":
        return world.existing_portal()
    if isinstance(param, click.Argument) and name == "identifier":
        return world.existing_account()
    if isinstance(param.type, click.Choice):
        return str(param.type.choices[0])
    if reads_a_file(param):
        return str(world.csv)
    if isinstance(param.type, click.Path):
        return str(world.tmp / f"sortie-{n}")
    if isinstance(param.type, click.types.IntParamType):
        return "5"
    return {
        "client_id": f"portail-neuf-{n}",
        "name": "Portail neuf",
        "redirect_uris": REDIRECT,
        "post_logout": POST_LOGOUT,
        "backchannel_logout_uri": "https://portal.example/backchannel",
        "scope": "openid profile",
        "grants": "authorization_code",
        "journey": "citoyen",
        "min_acr": "eidas1",
        "email": f"nouvelle{n}@example.fr",
        "password": PASSWORD,
        "username": f"nouvelle{n}",
        "given_name": "Jeanne",
        "family_name": "MARTIN",
        "birthdate": "1980-02-29",
        "reason": "demande de la personne",
        "address": "destinataire@example.fr",
        "number": "06 12 34 56 78",
        "portal_name": "Portail",
    }.get(name, "valeur")


def reads_a_file(param: click.Parameter) -> bool:
    kind = param.type
    return isinstance(kind, click.File) or (isinstance(kind, click.Path) and kind.exists)


def tokens(param: click.Parameter, value: str) -> list[str]:
    if isinstance(param, click.Argument):
        return [value]
    return [param.opts[-1] if len(param.opts) > 1 else param.opts[0], value]


def baseline(command: click.Command, world: World, without: str | None = None) -> list[str]:
    """A valid invocation: a value for each parameter that takes one; confirmations given."""
    args: list[str] = []
    for param in command.params:
        if param.name == without:
            continue
        if isinstance(param, click.Option) and param.is_flag:
            if not param.expose_value:  # --yes of a confirmation
                args.append(param.opts[0])
            continue
        args += tokens(param, valid_value(param, world))
    return args


@dataclass
class Hostile:
    label: str
    value: str
    must_fail: bool


LONG = "x" * 10_000
URLS = (
    "javascript:alert(1)",
    "http://portal.example/cb",  # http outside loopback
    "https://portal.example/cb#fragment",
    "https://*.example/cb",
    "https://portal.example:port/cb",
    "data:text/html,<script>alert(1)</script>",
    "//portal.example/cb",
)
EMAILS = ("pas-un-email", "a@", "a@b@example.fr", "marie@example.fr\nBcc: x@example.fr")
DATES = ("1980-02-30", "30/02/1980", "2999-01-01", "demain")


def hostile_values(param: click.Parameter, world: World) -> list[Hostile]:
    """Values the command must refuse (must_fail) or may accept, never crash on."""
    kind = param.type
    name = param.name or ""
    if isinstance(kind, click.Choice):
        return [Hostile("choix inconnu", "inconnu", True), Hostile("choix vide", "", True)]
    if isinstance(kind, click.types.IntParamType):
        return [
            Hostile("pas un nombre", "abc", True),
            Hostile("négatif", "-1", True),
            Hostile("énorme", "9" * 30, True),
        ]
    if reads_a_file(param):
        nul = world.tmp / "nul.csv"
        nul.write_bytes(b"nir;card_serial\x00\n\x00\x00\x00;1\n")
        empty = world.tmp / "vide.csv"
        empty.write_bytes(b"")
        garbage = world.tmp / "binaire.csv"
        garbage.write_bytes(bytes(range(256)) * 4)
        return [
            Hostile("fichier absent", str(world.tmp / "absent.csv"), True),
            Hostile("dossier", str(world.tmp), True),
            Hostile("octets NUL", str(nul), True),
            Hostile("fichier vide", str(empty), True),
            Hostile("binaire", str(garbage), True),
        ]
    if isinstance(kind, click.Path):
        return [
            Hostile("dossier absent", str(world.tmp / "absent" / "sortie"), True),
            Hostile("un dossier", str(world.tmp), True),
            Hostile("chemin vide", "", True),
        ]
    lookup = isinstance(param, click.Argument)  # every argument names an existing thing
    # Empty is a value only where the help says so ('"" removes it').
    empty_means_none = '""' in (getattr(param, "help", None) or "")
    values = [
        Hostile("vide", "", not empty_means_none),
        Hostile("espaces", "   ", True),
        Hostile("10 000 caractères", LONG, True),
        Hostile("octet NUL", "a\x00b", True),
        Hostile("caractères de contrôle", "a\x1b[2Jb\rc", True),
        Hostile("inversion bidi", "abc\u202edcba", True),
    ]
    if name == "client_id" and not lookup:
        values += [Hostile("identifiant en option", "-x", True), Hostile("espace", "a b", True)]
    if lookup:
        values += [Hostile("inconnu", "inconnu", True), Hostile("inconnu", "x@example.fr", True)]
    if "uri" in name:
        values += [Hostile("URL refusée", url, True) for url in URLS]
    if name in ("email", "address"):
        values += [Hostile("adresse mal formée", email, True) for email in EMAILS]
    if "date" in name:
        values += [Hostile("date invalide", date, True) for date in DATES]
    if name == "number":
        values += [Hostile("numéro invalide", n, True) for n in ("pas-un-numéro", "+999")]
    if name in ("journey", "min_acr", "grants", "scope", "subject_type"):
        values.append(Hostile("valeur inconnue", "inconnu", True))
    return values


def invoke(runner, world: World, path: str, args: list[str]):
    """Run one command line; return its result and what is wrong with how it ended."""
    world.pending_letter()
    before = world.state()
    result = runner.invoke(args=[*path.split(), *args])
    output = result.output
    problems = []
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        problems.append(f"exception {type(result.exception).__name__}: {result.exception}"[:300])
    if "Traceback" in output:
        problems.append("traceback in the output")
    if "\x00" in output or "\x1b" in output:
        problems.append("raw control character echoed to the terminal")
    if result.exit_code:
        if not any(line.startswith(("Error: ", "Aborted")) for line in output.splitlines()):
            problems.append(f"no error message: {output[-200:]!r}")
        if world.state() != before:
            problems.append("data changed by a command that failed")
    return result, [f"exit={result.exit_code} {p}" for p in problems]


def describe(path: str, args: list[str]) -> str:
    shown = " ".join(a if len(a) < 40 else a[:20] + "…" for a in args)
    return f"idp {path} {shown!r}"


@pytest.fixture
def world(cli_app, tmp_path) -> World:
    return World(cli_app, tmp_path)


@pytest.fixture
def cli(cli_app):
    return cli_app.test_cli_runner()


def test_the_walk_finds_every_command_group(cli_app):
    paths = set(own_commands(cli_app))
    for expected in ("clients create", "users grant-role", "federation keys generate",
                     "outbox test", "registry import", "letters export", "purge"):  # fmt: skip
        assert expected in paths
    assert not any(p.startswith(("db ", "run", "shell", "routes")) for p in paths)


def test_every_command_has_help(cli_app, cli):
    for path, command in own_commands(cli_app).items():
        assert command.help, f"{path}: no docstring"
        result = cli.invoke(args=[*path.split(), "--help"])
        assert result.exit_code == 0, (path, result.output)
        first_line = " ".join(command.help.split("\n")[0].split())
        assert first_line in " ".join(result.output.split()), path  # wrapped by click
        assert "Usage: " in result.output


def test_missing_required_values_print_the_usage(cli_app, cli, world):
    checked = 0
    for path, command in own_commands(cli_app).items():
        for param in (p for p in command.params if p.required):
            args = baseline(command, world, without=param.name)
            result = cli.invoke(args=[*path.split(), *args])
            assert result.exit_code == 2, (path, param.name, result.output)
            assert "Usage: " in result.output and "Missing" in result.output, (path, param.name)
            assert result.exception is None or isinstance(result.exception, SystemExit)
            checked += 1
    assert checked >= 10


def test_every_command_runs_with_valid_values(cli_app, cli, world):
    problems = []
    for path, command in own_commands(cli_app).items():
        args = baseline(command, world)
        result, found = invoke(cli, world, path, args)
        if command.params and result.exit_code:  # without parameters it may need a service
            problems.append(f"{describe(path, args)}: {result.output[-300:]}")
        problems += [f"{describe(path, args)}: {p}" for p in found]
    assert not problems, "\n".join(problems)


def test_hostile_values_are_refused_with_a_message_and_change_nothing(cli_app, cli, world):
    problems = []
    for path, command in own_commands(cli_app).items():
        for param in command.params:
            if isinstance(param, click.Option) and param.is_flag:
                continue
            for bad in hostile_values(param, world):
                args = [*baseline(command, world, without=param.name), *tokens(param, bad.value)]
                result, found = invoke(cli, world, path, args)
                if bad.must_fail and result.exit_code == 0:
                    found.append(f"accepted: {result.output[-150:]!r}")
                shown = f"idp {path} {param.name}={bad.value[:30]!r} [{bad.label}]"
                problems += [f"{shown}: {p}" for p in found]
    assert not problems, "\n".join(problems)


def test_creating_the_same_thing_twice_is_refused(cli_app, cli, world):
    creating = {p: c for p, c in own_commands(cli_app).items() if p.endswith(" create")}
    assert creating
    for path, command in creating.items():
        args = baseline(command, world)
        first, found = invoke(cli, world, path, args)
        assert first.exit_code == 0 and not found, (path, first.output, found)
        again, found = invoke(cli, world, path, args)
        assert again.exit_code != 0 and not found, (path, again.output, found)
