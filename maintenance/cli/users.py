"""``facility users``, ``facility login``/``logout``/``whoami``: people and who is acting.

    facility users add li.ming --role admin            the first user (no sign-in needed)
    facility login                                     sign in; a token for this OS user
    facility users add wang.wei --role supervisor --site HT --site JU
    facility users list | passwd NAME | disable NAME | enable NAME | role NAME --role ...
    facility users audit [--user NAME] [--action login_failed]

Every command that changes something acts as the signed-in person: the token from
``$FACILITY_TOKEN`` (services, scripts) or the token file ``facility login`` wrote
(``$FACILITY_TOKEN_FILE``, default ``~/.config/facility/token``, mode 0600). Without one,
such commands refuse and say how to sign in; reading needs no sign-in on the command line
(whoever can run it here can read the database file itself).
"""

from __future__ import annotations

import contextlib
import getpass
import os
import sys
from datetime import timedelta
from pathlib import Path

import click

from facility.config import Settings
from facility.errors import AuthError
from maintenance.identity.roles import Permission, Principal, Role, Source
from maintenance.identity.store import UserStore

TOKEN_ENV = "FACILITY_TOKEN"
TOKEN_FILE_ENV = "FACILITY_TOKEN_FILE"
ROLE_CHOICE = click.Choice([r.value for r in Role], case_sensitive=False)


def token_file() -> Path:
    configured = os.environ.get(TOKEN_FILE_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "facility" / "token"


def _settings(ctx: click.Context) -> Settings:
    settings: Settings = ctx.find_root().obj
    return settings


def user_store(ctx: click.Context) -> UserStore:
    return UserStore(_settings(ctx).database_url)


def read_token() -> str | None:
    token = os.environ.get(TOKEN_ENV)
    if token:
        return token.strip()
    path = token_file()
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def signed_in(ctx: click.Context) -> Principal:
    """The person this command acts for; AuthError saying how to sign in otherwise."""
    token = read_token()
    if token is None:
        raise AuthError(
            "this command acts for a person: sign in first with `facility login` "
            f"(or set ${TOKEN_ENV})"
        )
    with user_store(ctx) as store:
        try:
            return store.resolve(token, source=Source.CLI, kinds=("cli", "api")).principal
        except AuthError as exc:
            raise AuthError(f"{exc} (run `facility login`)") from None


def acting(ctx: click.Context, permission: Permission, site: str | None = None) -> Principal:
    """The signed-in person, if they may do ``permission`` on ``site``; else the refusal,
    which is also written to the audit trail."""
    principal = signed_in(ctx)
    try:
        principal.require(permission, site)
    except AuthError as exc:
        with user_store(ctx) as store:
            store.audit(
                principal,
                "refused",
                ctx.command_path,
                {"permission": permission.value, "site": site, "reason": str(exc)},
            )
        raise
    return principal


def _password(prompt: str, from_stdin: bool, confirm: bool = True) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(click.prompt(prompt, hide_input=True, confirmation_prompt=confirm))


# --- sign in -------------------------------------------------------------------------------


@click.command()
@click.option("--user", "name", prompt="User", help="Your user name.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_context
def login(ctx: click.Context, name: str, password_stdin: bool) -> None:
    """Sign in; later commands act as you until the token expires."""
    password = _password("Password", password_stdin, confirm=False)
    settings = _settings(ctx)
    with user_store(ctx) as store:
        principal = store.authenticate(name, password, source=Source.CLI, remote=_os_user())
        ticket = store.open_session(
            principal, kind="cli", ttl=timedelta(hours=settings.identity.cli_token_hours)
        )
    path = token_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(ticket.token + "\n")
    os.chmod(path, 0o600)
    click.echo(
        f"signed in as {principal.name} ({', '.join(sorted(principal.roles))}) until "
        f"{ticket.expires_at:%Y-%m-%d %H:%M} UTC; token in {path}"
    )


@click.command()
@click.pass_context
def logout(ctx: click.Context) -> None:
    """End the session and delete the token file."""
    token = read_token()
    if token is not None:
        with user_store(ctx) as store:
            store.revoke(token)
    with contextlib.suppress(FileNotFoundError):
        token_file().unlink()
    click.echo("signed out")


@click.command()
@click.pass_context
def whoami(ctx: click.Context) -> None:
    """Who the commands act as."""
    principal = signed_in(ctx)
    click.echo(
        f"{principal.name}  roles: {', '.join(sorted(principal.roles))}  "
        f"estates: {', '.join(sorted(principal.sites))}"
    )


def _os_user() -> str:
    """Where a command-line sign-in comes from: the OS account that ran it."""
    try:
        return f"os:{getpass.getuser()}"
    except (KeyError, OSError):
        return f"os:uid {os.getuid()}"


# --- users --------------------------------------------------------------------------------


@click.group()
def group() -> None:
    """Users, roles and estates; the audit trail."""


@group.command()
@click.argument("name")
@click.option("--role", "roles", multiple=True, required=True, type=ROLE_CHOICE)
@click.option("--site", "sites", multiple=True, help="Estate code (repeat); default: all (*).")
@click.option("--display-name", default="", help="Shown in the dashboard (e.g. 李明).")
@click.option("--email", default=None, help="Where notices to this person go.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_context
def add(
    ctx: click.Context,
    name: str,
    roles: tuple[str, ...],
    sites: tuple[str, ...],
    display_name: str,
    email: str | None,
    password_stdin: bool,
) -> None:
    """Add a user. Without --password-stdin a password is generated and shown once."""
    with user_store(ctx) as store:
        by = signed_in(ctx) if store.count() else None
        password = sys.stdin.readline().rstrip("\n") if password_stdin else None
        try:
            user, secret = store.add(
                name,
                roles,
                sites or ("*",),
                by=by,
                password=password,
                display_name=display_name,
                contact={"email": email} if email else {},
            )
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
    click.echo(f"added {user.name} ({', '.join(sorted(user.roles))}; {', '.join(user.sites)})")
    if password is None:
        click.echo(f"password: {secret}   (shown once; `facility users passwd` changes it)")


@group.command("list")
@click.pass_context
def list_(ctx: click.Context) -> None:
    """Users, their roles, estates and state."""
    with user_store(ctx) as store:
        users = store.users()
    if not users:
        click.echo("no users yet: add the first admin with `facility users add NAME --role admin`")
        return
    for user in users:
        state = "disabled" if user.disabled else ("locked" if user.locked_until else "active")
        last = f"{user.last_login_at:%Y-%m-%d %H:%M}" if user.last_login_at else "never"
        click.echo(
            f"{user.name:<20} {','.join(sorted(user.roles)):<24} {','.join(sorted(user.sites)):<12}"
            f" {state:<9} last sign-in {last}"
        )


@group.command()
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input.")
@click.option("--generate", is_flag=True, help="Generate a password and show it once.")
@click.pass_context
def passwd(ctx: click.Context, name: str, password_stdin: bool, generate: bool) -> None:
    """Change a password (yours, or anyone's as an admin); ends the user's sessions."""
    by = signed_in(ctx)
    new = None if generate else _password("New password", password_stdin)
    with user_store(ctx) as store:
        try:
            secret = store.set_password(name, new, by=by)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
    click.echo(f"password of {name} changed; their sessions have ended")
    if generate:
        click.echo(f"password: {secret}   (shown once)")


@group.command()
@click.argument("name")
@click.pass_context
def disable(ctx: click.Context, name: str) -> None:
    """Disable a user (their sessions end at once)."""
    with user_store(ctx) as store:
        store.set_disabled(name, True, by=signed_in(ctx))
    click.echo(f"{name} disabled")


@group.command()
@click.argument("name")
@click.pass_context
def enable(ctx: click.Context, name: str) -> None:
    """Enable a user again (and lift a lock)."""
    with user_store(ctx) as store:
        store.set_disabled(name, False, by=signed_in(ctx))
    click.echo(f"{name} enabled")


@group.command()
@click.argument("name")
@click.option("--role", "roles", multiple=True, type=ROLE_CHOICE, help="The new roles (repeat).")
@click.option("--site", "sites", multiple=True, help="The new estates (repeat; * for all).")
@click.pass_context
def role(ctx: click.Context, name: str, roles: tuple[str, ...], sites: tuple[str, ...]) -> None:
    """Change a user's roles and/or estates (their sessions end)."""
    if not roles and not sites:
        raise click.UsageError("give --role and/or --site")
    with user_store(ctx) as store:
        try:
            user = store.set_roles(name, roles or None, sites or None, by=signed_in(ctx))
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
    click.echo(f"{user.name}: {', '.join(sorted(user.roles))}; {', '.join(sorted(user.sites))}")


@group.command()
@click.option("--user", "actor", default=None, help="Only this person's entries.")
@click.option("--action", default=None, help="Only this action (login_failed, user_add, ...).")
@click.option("--entity", default=None, help="Only entries about this (user:NAME, HT-PMP-001).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.pass_context
def audit(
    ctx: click.Context, actor: str | None, action: str | None, entity: str | None, limit: int
) -> None:
    """The audit trail, newest first."""
    with user_store(ctx) as store:
        entries = store.audit_log(actor=actor, action=action, entity=entity, limit=limit)
    for e in entries:
        where = e.source + (f"@{e.remote}" if e.remote else "")
        click.echo(
            f"{e.at:%Y-%m-%d %H:%M:%S} {e.actor:<16} {where:<22} {e.action:<14} "
            f"{e.entity} {dict(e.detail) if e.detail else ''}"
        )
