"""``pingyi create-user``."""
import click
from flask.cli import with_appcontext

from survey_app.models.user import ROLES
from survey_app.services.users import UserError, create_user


@click.command("create-user")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), default="admin", show_default=True,
              help="admin 管理员、analyst 分析员、assessor 考评员。")
@click.option("--password", prompt="密码", hide_input=True, confirmation_prompt=True,
              help="未给出时会提示输入；至少 10 个字符。")
@click.option("--scope", "scope_code", metavar="ORG_CODE",
              help="该用户的权限限于此组织及其下级（如一个镇）。")
@with_appcontext
def create_user_command(username: str, role: str, password: str, scope_code: str | None) -> None:
    """创建工作人员账号（管理员、分析员或考评员）。"""
    try:
        user = create_user(username, password, role, scope_code=scope_code)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"已创建用户 {user.username}（{role}）")


COMMANDS = [create_user_command]
