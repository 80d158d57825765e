"""answers in the ballot row

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22

Each ballot's answers move from rows of their own (table ``answer``) into a short JSON list in
the ballot row, read through an ``answer_layout`` (the sheet's (subject, item) pairs and choices).
The ballot's key becomes (sheet_id, id), which replaces the index on sheet_id. Existing ballots
are carried over answer for answer, inside the migration's transaction, with one layout per sheet
made from the answers stored for it; the downgrade puts every answer back into its own row.

Self-contained on purpose: a migration must not import models that later revisions change.
"""
import hashlib
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


def _rename_primary_key(old, new):
    # PostgreSQL keeps a primary key's index by name in the schema; SQLite's WITHOUT ROWID key has none.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER INDEX {old} RENAME TO {new}")


def _layout_spec(rows):
    """One layout from a sheet's stored answers: every pair seen, with every choice seen for it."""
    pairs, answered = {}, set()
    for _ballot, subject, item, choice, value in rows:
        if subject is None:  # a ballot without any answer row
            continue
        choices = pairs.setdefault((subject, item), {})
        if choice is not None:
            choices[choice] = value
        elif value is not None:
            answered.add((subject, item))
    numeric = {pair for pair in answered if not pairs[pair]}  # numbers, never a choice
    return [[s, i, None if (s, i) in numeric else [[k, v] for k, v in sorted(pairs[(s, i)].items())]]
            for s, i in sorted(pairs)]


def upgrade():
    connection = op.get_bind()
    op.create_table('answer_layout',
    sa.Column('id', sa.String(length=16), nullable=False),
    sa.Column('spec', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_answer_layout'))
    )
    op.drop_index(op.f('ix_ballot_sheet_id'), table_name='ballot')
    op.rename_table('ballot', 'ballot_0003')
    _rename_primary_key('pk_ballot', 'pk_ballot_0003')
    op.create_table('ballot',
    sa.Column('sheet_id', sa.Integer(), nullable=False),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('mode', sa.String(length=10), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('duration_bucket', sa.String(length=10), nullable=True),
    sa.Column('fingerprint', sa.String(length=64), nullable=True),
    sa.Column('layout_id', sa.String(length=16), nullable=False),
    sa.Column('answers', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['layout_id'], ['answer_layout.id'], name=op.f('fk_ballot_layout_id_answer_layout'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['sheet_id'], ['ballot_sheet.id'], name=op.f('fk_ballot_sheet_id_ballot_sheet'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('sheet_id', 'id', name=op.f('pk_ballot')),
    sqlite_with_rowid=False
    )
    insert_layout = sa.text("INSERT INTO answer_layout (id, spec) VALUES (:id, :spec)")
    insert_ballot = sa.text(
        "INSERT INTO ballot (sheet_id, id, mode, day, duration_bucket, fingerprint, layout_id, answers) "
        "VALUES (:sheet_id, :id, :mode, :day, :duration_bucket, :fingerprint, :layout_id, :answers)")
    read = sa.text("SELECT b.id, a.subject_key, a.item_key, a.choice, a.value FROM ballot_0003 b "
                   "LEFT JOIN answer a ON a.ballot_id = b.id WHERE b.sheet_id = :sheet ORDER BY b.id")
    stored = set()
    for (sheet_id,) in connection.execute(sa.text("SELECT DISTINCT sheet_id FROM ballot_0003")).all():
        rows = connection.execute(read, {"sheet": sheet_id}).all()
        spec = _layout_spec(rows)
        text = json.dumps(spec, ensure_ascii=False, separators=(",", ":"))
        layout_id = hashlib.sha256(text.encode()).hexdigest()[:16]
        if layout_id not in stored:
            connection.execute(insert_layout, {"id": layout_id, "spec": text})
            stored.add(layout_id)
        position = {(s, i): n for n, (s, i, _c) in enumerate(spec)}
        choice_index = {(s, i): {k: n for n, (k, _v) in enumerate(c)} for s, i, c in spec if c is not None}
        answers = {}
        for ballot_id, group in groupby(rows, key=lambda row: row[0]):
            values = [None] * len(spec)
            for _b, subject, item, choice, value in group:
                if subject is None or value is None:
                    continue
                pair = (subject, item)
                values[position[pair]] = choice_index[pair][choice] if pair in choice_index else value
            answers[ballot_id] = json.dumps(values, separators=(",", ":"))
        ballots = connection.execute(sa.text(
            "SELECT id, mode, day, duration_bucket, fingerprint FROM ballot_0003 WHERE sheet_id = :sheet"),
            {"sheet": sheet_id}).all()
        for start in range(0, len(ballots), CHUNK):
            connection.execute(insert_ballot, [
                {"sheet_id": sheet_id, "id": b.id, "mode": b.mode, "day": b.day, "duration_bucket": b.duration_bucket,
                 "fingerprint": b.fingerprint, "layout_id": layout_id, "answers": answers[b.id]}
                for b in ballots[start:start + CHUNK]])
    op.drop_table('answer')
    op.drop_table('ballot_0003')


def downgrade():
    connection = op.get_bind()
    op.rename_table('ballot', 'ballot_0004')
    _rename_primary_key('pk_ballot', 'pk_ballot_0004')
    op.create_table('ballot',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('sheet_id', sa.Integer(), nullable=False),
    sa.Column('mode', sa.String(length=10), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('duration_bucket', sa.String(length=10), nullable=True),
    sa.Column('fingerprint', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['sheet_id'], ['ballot_sheet.id'], name=op.f('fk_ballot_sheet_id_ballot_sheet'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ballot')),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('ballot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ballot_sheet_id'), ['sheet_id'], unique=False)
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
    layouts = {layout_id: json.loads(spec)
               for layout_id, spec in connection.execute(sa.text("SELECT id, spec FROM answer_layout")).all()}
    ballots = connection.execute(sa.text(
        "SELECT id, sheet_id, mode, day, duration_bucket, fingerprint, layout_id, answers FROM ballot_0004")).all()
    insert_ballot = sa.text("INSERT INTO ballot (id, sheet_id, mode, day, duration_bucket, fingerprint) "
                            "VALUES (:id, :sheet_id, :mode, :day, :duration_bucket, :fingerprint)")
    insert_answer = sa.text("INSERT INTO answer (ballot_id, subject_key, item_key, choice, value) "
                            "VALUES (:ballot_id, :subject_key, :item_key, :choice, :value)")
    for start in range(0, len(ballots), CHUNK):
        chunk = ballots[start:start + CHUNK]
        connection.execute(insert_ballot, [
            {"id": b.id, "sheet_id": b.sheet_id, "mode": b.mode, "day": b.day, "duration_bucket": b.duration_bucket,
             "fingerprint": b.fingerprint} for b in chunk])
        rows = []
        for b in chunk:
            for (subject, item, choices), value in zip(layouts[b.layout_id], json.loads(b.answers)):
                if value is None:
                    choice, number = None, None
                elif choices is None:
                    choice, number = None, value
                else:
                    choice, number = choices[value]
                rows.append({"ballot_id": b.id, "subject_key": subject, "item_key": item, "choice": choice,
                             "value": number})
        if rows:
            connection.execute(insert_answer, rows)
    op.drop_table('ballot_0004')
    op.drop_table('answer_layout')
