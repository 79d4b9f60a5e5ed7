"""The README is the front door: keep its catalogue equal to the code."""
from pathlib import Path

from shared import config, readme_blocks, subscriptions
from shared.catalogue_doc import embedded, markdown

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_catalogue_matches_the_schemas():
    assert embedded(README.read_text()) == markdown(), "run `make catalogue`"


def test_readme_says_who_consumes_what_as_the_subscription_tables_do():
    assert readme_blocks.embedded(README.read_text(), "consumers") == \
        subscriptions.markdown(config.SERVICES), "run `make catalogue`"


def test_readme_shows_the_two_commands_first():
    text = README.read_text()
    assert text.index("make run") < text.index("make test") < text.index("## A walk")
