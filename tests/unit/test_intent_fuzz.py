"""Property tests of the intent loader: any input gives a model or the project's own error."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from models.errors import IntentError
from models.intent import Intent, parse_intent
from tests.conftest import EXAMPLE

ENVIRON = {"SMTP_PASSWORD": "fuzzpassword"}
EXAMPLE_DATA: dict[str, Any] = json.loads(json.dumps(YAML(typ="safe").load(EXAMPLE.read_text())))

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=False), st.text(max_size=30)
)
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
keys = st.sampled_from(
    ["environment", "applets", "trustpoints", "provided_variables", "existing_trustpoints", "name", "event",
     "actions", "label", "mail", "none", "syslog", "if", "else", "username", "host", "password_env"]
)


def load(data: object) -> None:
    try:
        result = parse_intent(json.dumps(data), environ=ENVIRON)
    except IntentError as error:
        assert error.problems
        for problem in error.problems:
            assert problem.message
            assert "fuzzpassword" not in str(problem)
        return
    assert isinstance(result, Intent)


def paths(node: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, child in node.items():
            found.extend(paths(child, (*prefix, key)))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found.extend(paths(child, (*prefix, index)))
    return found


EXAMPLE_PATHS = paths(EXAMPLE_DATA)[1:]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(keys, values, max_size=5))
def test_random_documents_load_or_fail_cleanly(document: dict[str, Any]) -> None:
    load(document)


@settings(max_examples=400, deadline=None)
@example(("environment", "_email_server", "password_env"), "\U00010000", "replace", "")
@given(st.sampled_from(EXAMPLE_PATHS), values, st.sampled_from(["replace", "delete", "rename"]), st.text(max_size=10))
def test_mutated_example_loads_or_fails_cleanly(path: tuple[object, ...], value: object, how: str, new_key: str) -> None:
    data = copy.deepcopy(EXAMPLE_DATA)
    parent: Any = data
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if how == "replace":
        parent[last] = value
    elif how == "delete":
        del parent[last]
    elif isinstance(parent, dict):
        parent[new_key] = parent.pop(last)
    load(data)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_random_text_loads_or_fails_cleanly(text: str) -> None:
    try:
        parse_intent(text, environ=ENVIRON)
    except IntentError as error:
        assert error.problems
