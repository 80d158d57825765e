"""erase the poster fingerprints' salt of closed campaigns

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

A poster ballot's fingerprint was an HMAC of the voter's address keyed by the campaign's salt, and
the salt sat in the same database: anyone holding it could hash a known address and find that
address's ballots. Fingerprints are now keyed by the salt under the instance's token key, and
closing a campaign erases its salt. This does the erasing for campaigns closed before.

Fingerprints already stored stay as they are: the analysis only compares them with each other. In
a campaign open during the upgrade, an address's ballots before and after it get two different
fingerprints, so a burst that spans the upgrade is seen as two.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.execute("UPDATE campaign SET fingerprint_salt = '' WHERE status = 'closed'")


def downgrade():
    pass  # an erased salt cannot come back, and nothing needs it
