"""Input limits the schemas share (issue 12): a string no longer than the column
it ends in, an alphabet for ids that reach a header, a filename or a pattern,
and LIKE wildcards taken literally."""
from marshmallow import validate

# Ids Praxis does not mint (clinician, user, room ids): letters, digits and . _ - @ :
# (an email-like or an identity provider's subject), never CR/LF, space, / or %.
ID_PATTERN = r"^[A-Za-z0-9._@:|-]+$"
MAX_USER_ID = 64  # a token's user claim: the String(64) columns of who did what
MAX_POSITION = 2 ** 63 - 1  # a store position or audit sequence: BIGINT
ID_ALPHABET = validate.Regexp(ID_PATTERN, error="only letters, digits and . _ - @ : |")


def column_max(table, column):
    """The length of a String(n) column: a schema's Length(max) derived from it."""
    return table.c[column].type.length


def fits(table, column, min=None):
    """Length(max=the column's length)."""
    return validate.Length(min=min, max=column_max(table, column))


def like_literal(text, escape="\\"):
    """`text` with LIKE's wildcards escaped: use with .like(..., escape="\\")."""
    return (text.replace(escape, escape * 2).replace("%", escape + "%")
            .replace("_", escape + "_"))
