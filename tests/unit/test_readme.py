"""The README is the front door: keep its catalogue equal to the code."""
from pathlib import Path

from shared.catalogue_doc import embedded, markdown

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_catalogue_matches_the_schemas():
    assert embedded(README.read_text()) == markdown(), "run `make catalogue`"


def test_readme_shows_the_two_commands_first():
    text = README.read_text()
    assert text.index("make run") < text.index("make test") < text.index("## A walk")
