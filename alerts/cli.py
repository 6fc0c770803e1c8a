"""``flask --app app alerts …``: the same code the scheduler's weekly job runs."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from alerts.services import WeeklyOutcome, check_week, retry_unsent, send_weekly, week_monday

alerts_cli = AppGroup("alerts", help="The weekly overdue alert emails.")


def _parse_week(_ctx, _param, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        week_monday(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    return value.strip()


def _checked_week(week: str | None) -> str | None:
    """Not in the future (in the district's time zone: needs the app, so not a callback)."""
    if week is None:
        return None
    try:
        return check_week(week)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="'--week'") from None


def _report(outcome: WeeklyOutcome) -> None:
    if outcome.dry_run:
        click.echo(f"Dry run for {outcome.week}: nothing is sent or written.")
        delivered = set(outcome.already)
        for email in outcome.composed:
            recipient = email.recipient
            state = " (already sent)" if recipient.key in delivered else ""
            click.echo(
                f"  {recipient.email} [{recipient.kind}"
                f"{': ' + recipient.scope if recipient.scope else ''}, {recipient.locale}]"
                f" {email.inspection_count} inspection(s), {email.hazard_count} hazard(s):"
                f" {email.subject}{state}"
            )
        click.echo(f"{len(outcome.composed)} email(s) would go out.")
        return
    click.echo(
        f"Week {outcome.week}: {len(outcome.sent)} sent, {len(outcome.failed)} failed, "
        f"{len(outcome.already)} already handled."
    )
    for key, error in sorted(outcome.failed.items()):
        click.echo(f"  failed {key}: {error}", err=True)


@alerts_cli.command("send-weekly")
@click.option("--dry-run", is_flag=True, help="Print what would go to whom; send nothing.")
@click.option(
    "--week",
    callback=_parse_week,
    metavar="YYYY-Www",
    help="The ISO week (default: this week in the district). Contents are as of today.",
)
def send_weekly_command(dry_run: bool, week: str | None) -> None:
    """Send the weekly overdue alert; each recipient gets the week's email once.

    Unsent deliveries of the week (an SMTP failure) are retried at once.
    """
    outcome = send_weekly(_checked_week(week), dry_run=dry_run)
    _report(outcome)
    if outcome.failed:
        raise SystemExit(1)


@alerts_cli.command("retry")
@click.option("--week", callback=_parse_week, metavar="YYYY-Www")
def retry_command(week: str | None) -> None:
    """Send the week's unsent deliveries again, ignoring the backoff."""
    outcome = retry_unsent(_checked_week(week), ignore_backoff=True)
    _report(outcome)
    if outcome.failed:
        raise SystemExit(1)
