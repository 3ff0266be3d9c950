"""The public surface is exactly ``kit.__all__`` (after httpx's tests/test_exported_members.py)."""

import types

import kit


def test_all_is_sorted_and_lists_every_public_name() -> None:
    public = [
        name
        for name, value in vars(kit).items()
        if (not name.startswith("_") or name == "__version__") and not isinstance(value, types.ModuleType)
    ]
    public = sorted(set(public) | set(kit._LAZY))
    assert kit.__all__ == sorted(kit.__all__)
    assert kit.__all__ == sorted(public)


def test_exported_errors_are_the_errors_module_tree() -> None:
    from kit import errors

    exported = {name for name in kit.__all__ if isinstance(getattr(kit, name), type) and name not in kit._LAZY}
    assert exported == set(errors.__all__)
    for name in exported:
        assert getattr(kit, name) is getattr(errors, name)


def test_version_matches_installed_metadata() -> None:
    from importlib.metadata import version

    assert kit.__version__ == version("tradekit")


def test_lazy_names_resolve_to_their_classes() -> None:
    from kit.session import Session
    from kit.store import Store

    assert kit.Session is Session and kit.Store is Store
