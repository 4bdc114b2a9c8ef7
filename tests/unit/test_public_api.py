"""The public surface that controllers import from ``provisioner``."""

from __future__ import annotations

import inspect

import provisioner


def test_all_is_sorted_and_importable() -> None:
    assert provisioner.__all__ == sorted(provisioner.__all__)
    for name in provisioner.__all__:
        assert hasattr(provisioner, name), name


def test_every_public_name_has_docstring() -> None:
    missing = [name for name in provisioner.__all__ if not inspect.getdoc(getattr(provisioner, name))]

    assert missing == []


def test_library_functions_take_keyword_options() -> None:
    signature = inspect.signature(provisioner.apply_device)

    assert list(signature.parameters)[:2] == ["intent", "host"]
    assert all(
        parameter.kind is inspect.Parameter.KEYWORD_ONLY for parameter in list(signature.parameters.values())[2:]
    )


def test_fleet_functions_take_keyword_options() -> None:
    for function in (provisioner.plan_devices, provisioner.apply_devices, provisioner.check_fleet):
        parameters = list(inspect.signature(function).parameters.values())

        assert [parameter.name for parameter in parameters[:2]] == ["intent", "hosts"]
        options = [parameter for parameter in parameters[2:] if parameter.name != "options"]
        assert all(parameter.kind is inspect.Parameter.KEYWORD_ONLY for parameter in options), function


def test_async_variants_are_coroutines() -> None:
    for function in (provisioner.aplan_devices, provisioner.aapply_devices, provisioner.acheck_fleet):
        assert inspect.iscoroutinefunction(function), function
