import pytest

from netsim.errors import ScenarioError, VariogramError
from netsim.variogram import Variogram
from netsim.yamlfile import yaml_mapping


def test_mapping_and_key_lines():
    data, lines = yaml_mapping("name: a\nchanges:\n  - remove: x\n  - add: y\n", "f.yaml",
                               ScenarioError, what="fields")
    assert data == {"name": "a", "changes": [{"remove": "x"}, {"add": "y"}]}
    assert lines == {"name": 1, "changes": 2, "changes[0]": 3, "changes[0].remove": 3,
                     "changes[1]": 4, "changes[1].add": 4}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: 1\nb:\n  c: 2\n  c: 3\n", r"^f\.yaml:4:3: YAML syntax error: duplicate key 'c'"),
        ("a: [1\n", r"^f\.yaml:2:1: YAML syntax error"),
        ("", r"^f\.yaml: the file is empty; expected a YAML mapping of fields$"),
        ("- 1\n", r"^f\.yaml:1: expected a YAML mapping of fields at the top level, found a list"),
        ("1: x\n", r"^f\.yaml: top-level key 1 is not a name"),
        ("d: 2020-02-30\n", r"^f\.yaml: invalid YAML value"),
    ],
)
def test_one_line_errors_of_the_callers_class(text, message):
    with pytest.raises(ScenarioError, match=message) as info:
        yaml_mapping(text, "f.yaml", ScenarioError, what="fields")
    assert "\n" not in str(info.value)


def test_variogram_yaml_rejects_a_duplicate_key(tmp_path):
    path = tmp_path / "v.yaml"
    path.write_text("model: spherical\npsill: 10\nrange: 5000\nnugget: 1\npsill: 20\n",
                    encoding="utf-8")
    with pytest.raises(VariogramError, match=r"v\.yaml:5:1: YAML syntax error: duplicate key"):
        Variogram.from_file(path)


def test_variogram_json_error_names_line_and_column(tmp_path):
    path = tmp_path / "v.json"
    path.write_text('{"model": "spherical",\n "psill": }\n', encoding="utf-8")
    with pytest.raises(VariogramError, match=r"v\.json:2:11: not valid JSON"):
        Variogram.from_file(path)
