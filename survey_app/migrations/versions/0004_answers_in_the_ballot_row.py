"""answers in the ballot row

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22

Each ballot's answers move from rows of their own (table ``answer``) into a JSON column of the
ballot, ``{"subject": {"item": [choice, value]}}``. Existing ballots are carried over answer for
answer, inside the migration's transaction; the downgrade puts them back.

"""
import json
from itertools import groupby

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

CHUNK = 1000


def _pack(answers):
    packed = {}
    for subject, item, choice, value in answers:
        packed.setdefault(subject, {})[item] = [choice, value]
    return json.dumps(packed, ensure_ascii=False, separators=(",", ":"))


def upgrade():
    # Plain ALTER TABLE, not batch mode: a rebuilt ballot table would lose WITHOUT ROWID on SQLite.
    op.add_column('ballot', sa.Column('answers', sa.Text(), nullable=False, server_default='{}'))
    connection = op.get_bind()
    ids = connection.execute(sa.text("SELECT id FROM ballot ORDER BY id")).scalars().all()
    select = sa.text("SELECT ballot_id, subject_key, item_key, choice, value FROM answer WHERE ballot_id IN :ids "
                     "ORDER BY ballot_id, subject_key, item_key").bindparams(sa.bindparam("ids", expanding=True))
    update = sa.text("UPDATE ballot SET answers = :answers WHERE id = :id")
    for start in range(0, len(ids), CHUNK):
        rows = connection.execute(select, {"ids": ids[start:start + CHUNK]}).all()
        packed = [{"id": ballot_id, "answers": _pack(row[1:] for row in answers)}
                  for ballot_id, answers in groupby(rows, key=lambda row: row[0])]
        if packed:
            connection.execute(update, packed)
    op.drop_table('answer')


def downgrade():
    op.create_table('answer',
    sa.Column('ballot_id', sa.String(length=32), nullable=False),
    sa.Column('subject_key', sa.String(length=200), nullable=False),
    sa.Column('item_key', sa.String(length=64), nullable=False),
    sa.Column('choice', sa.String(length=64), nullable=True),
    sa.Column('value', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['ballot_id'], ['ballot.id'], name=op.f('fk_answer_ballot_id_ballot'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('ballot_id', 'subject_key', 'item_key', name=op.f('pk_answer')),
    sqlite_with_rowid=False
    )
    connection = op.get_bind()
    insert = sa.text("INSERT INTO answer (ballot_id, subject_key, item_key, choice, value) "
                     "VALUES (:ballot_id, :subject_key, :item_key, :choice, :value)")
    batch = []
    for ballot_id, answers in connection.execute(sa.text("SELECT id, answers FROM ballot")).all():
        for subject, items in json.loads(answers).items():
            for item, (choice, value) in items.items():
                batch.append({"ballot_id": ballot_id, "subject_key": subject, "item_key": item,
                              "choice": choice, "value": value})
        if len(batch) >= CHUNK:
            connection.execute(insert, batch)
            batch = []
    if batch:
        connection.execute(insert, batch)
    op.drop_column('ballot', 'answers')
