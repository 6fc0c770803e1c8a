import click
from flask import Blueprint

from accounts.services import (
    AccountError,
    create_user,
    deactivate_user,
    issue_api_token,
    live_api_tokens,
    reactivate_user,
    revoke_api_token,
    revoke_api_tokens,
    user_by_email,
)
from core.clock import district_time
from core.errors import ConflictError, ValidationError
from core.extensions import db


def existing_user(email: str):
    """The user with ``email``, or the command stops saying there is none."""
    user = user_by_email(email)
    if user is None:
        raise click.ClickException(f"no user with email {email}")
    return user


def register_commands(bp: Blueprint) -> None:
    @bp.cli.command("create")
    @click.option("--role", required=True, type=click.Choice(["admin", "officer", "contractor"]))
    @click.option("--email", required=True)
    @click.option("--password", required=True)
    @click.option("--contractor", "contractor_name", help="The contractor company's name.")
    @click.option("--name", default="", help="The person's name.")
    @click.option("--grid", help="An officer's grid scope (a grid's code); default: the district.")
    def create_user_command(role, email, password, contractor_name, name, grid):
        """Create a user account."""
        try:
            user = create_user(email, password, role, contractor_name, name, grid)
        except AccountError as error:
            db.session.rollback()
            raise click.ClickException(str(error)) from error
        db.session.commit()
        click.echo(f"created {user.role} {user.email}")

    @bp.cli.command("token")
    @click.argument("email")
    @click.option("--name", default="", help="What the token is for (shown on the profile page).")
    @click.option(
        "--days",
        type=int,
        help="Days until it expires (default API_TOKEN_DAYS, at most API_TOKEN_MAX_DAYS).",
    )
    @click.option("--replace", is_flag=True, help="Revoke the user's other tokens first.")
    def issue_token_command(email, name, days, replace):
        """Print a new API token for the user with EMAIL (shown once; only its hash is kept)."""
        user = existing_user(email)
        try:
            if replace:
                revoke_api_tokens(user)
            token = issue_api_token(user, name, days)
        except AccountError as error:
            db.session.rollback()
            raise click.ClickException(str(error)) from error
        db.session.commit()
        click.echo(token)

    @bp.cli.command("tokens")
    @click.argument("email")
    def list_tokens_command(email):
        """List the live API tokens of the user with EMAIL: id, name, created, expires."""
        for token in live_api_tokens(existing_user(email)):
            created, expires = district_time(token.created_at), district_time(token.expires_at)
            click.echo(f"{token.id}\t{token.name or '-'}\t{created}\t{expires}")

    @bp.cli.command("revoke-token")
    @click.argument("email")
    @click.option("--id", "token_id", type=int, help="The token's id (see `users tokens`).")
    @click.option("--all", "every", is_flag=True, help="Every live token of the user.")
    def revoke_token_command(email, token_id, every):
        """Revoke one API token (--id) or every one (--all) of the user with EMAIL."""
        user = existing_user(email)
        if every == (token_id is not None):
            raise click.UsageError("give either --id or --all")
        if every:
            count = revoke_api_tokens(user)
        else:
            try:
                revoke_api_token(user, token_id)
            except AccountError as error:
                db.session.rollback()
                raise click.ClickException(str(error)) from error
            count = 1
        db.session.commit()
        click.echo(f"revoked {count} token(s) of {user.email}")

    @bp.cli.command("deactivate")
    @click.argument("email")
    def deactivate_command(email):
        """Deactivate the user with EMAIL: sessions end, API tokens are revoked."""
        user = existing_user(email)
        try:
            changed = deactivate_user(user)
        except (ValidationError, ConflictError) as error:
            db.session.rollback()
            raise click.ClickException(str(error)) from error
        db.session.commit()
        click.echo(f"deactivated {user.email}" if changed else f"{user.email} is inactive already")

    @bp.cli.command("reactivate")
    @click.argument("email")
    def reactivate_command(email):
        """Let the user with EMAIL sign in again."""
        user = existing_user(email)
        changed = reactivate_user(user)
        db.session.commit()
        click.echo(f"reactivated {user.email}" if changed else f"{user.email} is active already")
