"""The fideslang category ratings: every category of the shipped route map is rated; bad files are refused."""

import pytest

from scrapeguard.compliance.categories import packaged_taxonomy, parse_taxonomy
from scrapeguard.policy import default_policy


def test_every_route_map_category_is_rated_exactly() -> None:
    taxonomy = packaged_taxonomy()
    for route in default_policy().routes:
        for key in route.categories:
            found = taxonomy.lookup(key)
            assert found is not None and found.key == key, key


def test_labels() -> None:
    taxonomy = packaged_taxonomy()
    assert taxonomy.label("user.professional_information.workplace") == "employer"
    assert taxonomy.label("user.demographic.gender") == "demographic details (gender)"
    assert taxonomy.label("vendor.thing") == "vendor.thing"


@pytest.mark.parametrize(("text", "message"), [
    ("version = ", "not valid TOML"),
    ('version = "1"\n', "needs version"),
    ('version = "1"\n[categories."user.x"]\nlabel = "x"\ndpc = "secret"\nei = 1.0\n', "dpc: 'secret'"),
    ('version = "1"\n[categories."user.x"]\nlabel = "x"\ndpc = "simple"\nei = 0.3\n', "ei: 0.3"),
    ('version = "1"\n[categories."user.x"]\ndpc = "simple"\nei = 0.5\n', "label: must be"),
    ('version = "1"\n[categories."system.x"]\nlabel = "x"\ndpc = "simple"\nei = 0.5\n', "user.* key"),
])
def test_bad_category_files(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=r"cats\.toml") as info:
        parse_taxonomy(text, "cats.toml")
    assert message in str(info.value)
