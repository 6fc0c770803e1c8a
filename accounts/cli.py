import click
from flask import Blueprint

from accounts.services import (
    AccountError,
    create_user,
    deactivate_user,
    issue_api_token,
    reactivate_user,
    user_by_email,
)
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
    def issue_token_command(email):
        """Print a new API token for the user with EMAIL."""
        user = existing_user(email)
        token = issue_api_token(user)
        db.session.commit()
        click.echo(token)

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
