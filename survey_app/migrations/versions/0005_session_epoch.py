"""a session epoch per staff account

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

Sessions live in the signed cookie alone, so a copy taken before a sign-out kept the account
signed in until it expired. Each account now carries a number that its sessions must show and
that signing out raises: every earlier copy of the cookie stops working at once.

Self-contained on purpose: a migration must not import models that later revisions change.
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_epoch', sa.Integer(), nullable=False, server_default='0'))


def downgrade():
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_column('session_epoch')
