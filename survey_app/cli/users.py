"""``pingyi create-user``."""
import click
from flask.cli import with_appcontext

from survey_app.models.user import ROLES
from survey_app.services.users import UserError, create_user


@click.command("create-user")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), default="admin", show_default=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="Asked for when not given; at least 10 characters.")
@click.option("--scope", "scope_code", metavar="ORG_CODE",
              help="Limit the user to this organisation's subtree (e.g. one town).")
@with_appcontext
def create_user_command(username: str, role: str, password: str, scope_code: str | None) -> None:
    """Create a staff account (admin, analyst or assessor)."""
    try:
        user = create_user(username, password, role, scope_code=scope_code)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"已创建用户 {user.username}（{role}）")


COMMANDS = [create_user_command]
