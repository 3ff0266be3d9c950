import pickle
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kit import errors
from kit.errors import KitError

# child -> direct parent, as drawn in the kit/errors.py docstring (docs/style.md 4).
TREE = {
    "ConfigError": "KitError",
    "SecretNotFound": "ConfigError",
    "GuardRefused": "KitError",
    "StageError": "GuardRefused",
    "CapExceeded": "GuardRefused",
    "KillSwitchEngaged": "GuardRefused",
    "AuthError": "KitError",
    "ClockSkew": "AuthError",
    "PermissionRefused": "AuthError",
    "OrderRejected": "KitError",
    "InsufficientFunds": "OrderRejected",
    "FilterViolation": "OrderRejected",
    "OrderUnknown": "OrderRejected",
    "AmendFailed": "OrderRejected",
    "TransientError": "KitError",
    "ExchangeUnavailable": "TransientError",
    "RateLimited": "TransientError",
    "DataError": "KitError",
    "ReportFailed": "KitError",
}
ALL = [getattr(errors, name) for name in errors.__all__]


def test_tree_shape() -> None:
    assert set(errors.__all__) == {"KitError", *TREE}
    assert KitError.__bases__ == (Exception,)
    for child, parent in TREE.items():
        assert getattr(errors, child).__bases__ == (getattr(errors, parent),), child


def test_tree_is_drawn_in_the_module_docstring() -> None:
    doc = errors.__doc__ or ""
    for name in errors.__all__:
        assert f"── {name}" in doc or f"    {name} " in doc, name


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_only_the_transient_branch_is_retryable(cls: type[KitError]) -> None:
    assert cls.retryable is issubclass(cls, errors.TransientError)


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_each_class_has_its_own_hint_and_a_docstring(cls: type[KitError]) -> None:
    assert "hint" in vars(cls), f"{cls.__name__} should say what to do next"
    assert cls.hint.endswith(".")
    assert cls.__doc__


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_message_ends_with_the_hint(cls: type[KitError]) -> None:
    err = cls("something went wrong", symbol="BTC/USDT")
    text = str(err)
    assert text.startswith("something went wrong (symbol='BTC/USDT').")
    assert text.endswith(cls.hint)


def test_hint_can_be_overridden_per_instance() -> None:
    err = errors.DataError("gap in candles", hint="Run the fill again.")
    assert str(err) == "gap in candles. Run the fill again."
    assert errors.DataError.hint != "Run the fill again."


def test_context_attributes_are_kept() -> None:
    context: dict[str, Any] = {"symbol": "ETH/USDT", "order_id": "42"}
    context.update(value=Decimal("100.005"), allowed=Decimal("0.01"))
    err = errors.FilterViolation("price off tick", **context)
    assert (err.symbol, err.order_id, err.value, err.allowed) == tuple(context.values())
    assert err.context == context
    assert err.message == "price off tick"
    assert err.args == ("price off tick",)


def test_value_is_named_for_what_it_is_and_limit_still_reads_it() -> None:
    """#17.6: ``limit=59.95`` read as the cap when it was the order's value; it is ``value`` now."""
    err = errors.CapExceeded("order notional 59.95 USDT is over the per-order cap 20 USDT", value=Decimal("59.95"),
                             allowed=Decimal("20"))  # fmt: skip
    assert "(value=59.95, allowed=20)" in str(err) and "limit" not in str(err)
    old = errors.CapExceeded("over cap", limit=Decimal("59.95"), allowed=Decimal("20"))  # the deprecated keyword
    assert old.value == old.limit == err.limit == Decimal("59.95") and old.context == err.context
    with pytest.raises(TypeError, match="not both"):
        errors.CapExceeded("over cap", value=1, limit=2)


def test_subclass_context() -> None:
    assert errors.RateLimited("429", retry_after_ms=1500).retry_after_ms == 1500
    assert "retry_after_ms=1500" in str(errors.RateLimited("429", retry_after_ms=1500))
    assert errors.ExchangeUnavailable("503").retry_after_ms is None
    failed = errors.ReportFailed("cell raised", cell_index=3, ename="KeyError")
    assert (failed.cell_index, failed.ename) == (3, "KeyError")
    assert errors.ClockSkew("outside recvWindow", skew_ms=-1200).skew_ms == -1200


def test_secret_not_found_names_the_variable() -> None:
    err = errors.SecretNotFound("no API key for binance", env_var="KIT_BINANCE_KEY")
    assert err.env_var == "KIT_BINANCE_KEY"
    assert "Set KIT_BINANCE_KEY" in err.hint
    assert str(err).endswith(err.hint)
    assert errors.SecretNotFound("x").hint == errors.SecretNotFound.hint


@pytest.mark.parametrize(
    "err",
    [
        errors.CapExceeded("over cap", symbol="BTC/USDT", value=50, allowed=20, hint="custom."),
        errors.RateLimited("429", retry_after_ms=10),
        errors.ReportFailed("boom", cell_index=1, ename="ValueError"),
        errors.SecretNotFound("missing", env_var="K"),
        errors.ClockSkew("skew", skew_ms=5),
    ],
    ids=lambda e: type(e).__name__,
)
def test_pickle_round_trip_keeps_context(err: KitError) -> None:
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err)
    assert str(back) == str(err)
    assert repr(back) == repr(err)


def test_repr_shows_context() -> None:
    assert repr(errors.OrderUnknown("gone", order_id="7")) == "OrderUnknown('gone', order_id='7')"


@pytest.mark.slow  # 100 random texts per run: several seconds on a loaded machine
@given(message=st.text(min_size=1), cls=st.sampled_from(ALL))
def test_any_message_ends_with_the_hint(message: str, cls: type[KitError]) -> None:
    assert str(cls(message)).endswith(cls.hint)
