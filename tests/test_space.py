import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from hyperdial import Categorical, Fixed, Float, Int, SearchSpace
from hyperdial.space import distribution_from_dict

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
positive = st.floats(1e-8, 1e6, allow_nan=False, allow_infinity=False)
unit = st.floats(0.0, 1.0)


@st.composite
def floats_dist(draw):
    kind = draw(st.sampled_from(["linear", "log", "step"]))
    if kind == "log":
        lo = draw(positive)
        hi = draw(st.floats(lo, lo * 1e6 + 1))
        return Float(lo, hi, log=True)
    lo = draw(finite)
    if kind == "step":
        step = draw(st.sampled_from([0.5, 0.1, 1.0, 2.5, 0.25]))
        k = draw(st.integers(0, 200))
        return Float(lo, lo + k * step, step=step)
    hi = draw(st.floats(lo, lo + 1e6))
    return Float(lo, hi)


@st.composite
def ints_dist(draw):
    if draw(st.booleans()):
        lo = draw(st.integers(1, 10_000))
        return Int(lo, lo + draw(st.integers(0, 100_000)), log=True)
    lo = draw(st.integers(-10_000, 10_000))
    step = draw(st.integers(1, 7))
    return Int(lo, lo + step * draw(st.integers(0, 1000)), step=step)


@st.composite
def categorical_dist(draw):
    choices = draw(
        st.lists(
            st.one_of(st.text(max_size=4), st.integers(-5, 5), st.booleans(), st.none(), finite),
            min_size=1,
            max_size=8,
            unique_by=lambda x: (type(x), x),
        )
    )
    return Categorical(choices)


any_dist = st.one_of(floats_dist(), ints_dist(), categorical_dist())


@given(any_dist, unit)
@settings(max_examples=300, deadline=None)
def test_from_unit_is_always_admissible(dist, u):
    v = dist.from_unit(u)
    assert dist.contains(v)


@given(any_dist, unit)
@settings(max_examples=300, deadline=None)
def test_round_trip_through_the_unit_cube(dist, u):
    v = dist.from_unit(u)
    w = dist.to_unit(v)
    assert 0.0 <= w <= 1.0
    back = dist.from_unit(w)
    if isinstance(dist, Float) and dist.step is None:
        assert back == pytest.approx(v, rel=1e-9, abs=1e-9)
    else:
        assert back == v and type(back) is type(v)


@given(any_dist, st.lists(unit, min_size=1, max_size=20))
@settings(max_examples=200, deadline=None)
def test_vectorised_maps_agree_with_scalar_ones(dist, us):
    vec = dist.from_unit_array(np.array(us))
    scalar = [dist.from_unit(u) for u in us]
    if isinstance(dist, Float) and dist.step is None:
        np.testing.assert_allclose(vec, scalar, rtol=1e-12)
    else:
        assert vec == scalar
    np.testing.assert_allclose(dist.to_unit_array(scalar), [dist.to_unit(v) for v in scalar])


@given(floats_dist(), unit, unit)
@settings(max_examples=200, deadline=None)
def test_float_map_is_monotone(dist, a, b):
    assume(a <= b)
    assert dist.from_unit(a) <= dist.from_unit(b)


@given(ints_dist(), unit)
@settings(max_examples=200, deadline=None)
def test_ints_respect_step(dist, u):
    v = dist.from_unit(u)
    assert isinstance(v, int)
    if dist.step:
        assert (v - dist.low) % dist.step == 0


def test_log_scale_is_uniform_in_log():
    d = Float(1e-4, 1.0, log=True)
    assert d.from_unit(0.5) == pytest.approx(1e-2)
    assert d.from_unit(0.25) == pytest.approx(1e-3)


def test_categorical_tells_true_from_one():
    d = Categorical([1, True, 1.5, None, "a"])
    assert d.index(True) == 1 and d.index(1) == 0 and d.index(None) == 3
    assert [d.from_unit((i + 0.5) / 5) for i in range(5)] == [1, True, 1.5, None, "a"]
    assert d.from_unit(0.5) is d.choices[2]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Float(2, 1), "low must be <= high"),
        (lambda: Float(0, 1, log=True), "log=True needs low > 0"),
        (lambda: Float(0, 1, step=0.3), "does not fit the range"),
        (lambda: Float(0, 1, step=-1), "step must be a positive"),
        (lambda: Float(1, 10, log=True, step=1), "cannot be combined"),
        (lambda: Float("a", 1), "must be real numbers"),
        (lambda: Float(0, math.inf), "finite"),
        (lambda: Int(0, 10, step=3), "does not fit the range"),
        (lambda: Int(0, 10, log=True), "needs low >= 1"),
        (lambda: Int(1.5, 3), "must be an integer"),
        (lambda: Categorical([]), "empty"),
        (lambda: Categorical([[1, 2]]), "not allowed"),
        (lambda: Categorical("abc"), "list of values"),
        (lambda: Categorical(["a", "a"]), "appears twice"),
    ],
)
def test_bad_distributions_name_the_problem(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_yaml_spelling():
    space = SearchSpace.from_yaml(
        """
        lr: {type: float, low: 1.0e-4, high: 1, log: true}
        layers: {type: int, low: 1, high: 4}
        optimizer: [adam, sgd]
        momentum: {type: float, low: 0.0, high: 0.99, when: {optimizer: sgd}}
        epochs: 10
        """
    )
    assert space.names == ("lr", "layers", "optimizer", "momentum")
    assert space.constants == {"epochs": 10}
    assert space.dists["lr"] == Float(1e-4, 1.0, log=True)
    assert SearchSpace(space.to_dict()) == space


def test_conditions_drop_inactive_parameters():
    space = SearchSpace(
        {
            "kernel": Categorical(["linear", "rbf"]),
            "gamma": Float(1e-4, 1, log=True, when={"kernel": "rbf"}),
            "shrink": Fixed(True, when={"kernel": "rbf"}),
        }
    )
    assert space.decode([0.1, 0.5]) == {"kernel": "linear"}
    rbf = space.decode([0.9, 0.5])
    assert rbf["kernel"] == "rbf" and "gamma" in rbf and rbf["shrink"] is True
    mask = space.active_mask(np.array([[0.1, 0.5], [0.9, 0.5]]))
    assert mask.tolist() == [[True, False], [True, True]]


def test_nested_conditions_follow_their_parents():
    space = SearchSpace(
        {
            "model": ["a", "b"],
            "depth": {"type": "int", "low": 1, "high": 3, "when": {"model": "b"}},
            "width": {"type": "int", "low": 1, "high": 2, "when": {"depth": [2, 3]}},
        }
    )
    cells = list(space.grid())
    assert {"model": "a"} in cells
    assert {"model": "b", "depth": 1} in cells
    assert {"model": "b", "depth": 3, "width": 2} in cells
    assert len(cells) == 1 + 1 + 2 * 2
    assert space.grid_size() == 6


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"x": {"type": "float", "low": 0}}, "missing 'high'"),
        ({"x": {"type": "floaty", "low": 0, "high": 1}}, "unknown type"),
        ({"x": {"type": "float", "low": 0, "high": 1, "lg": True}}, "unknown key"),
        ({"x": {"type": "float", "low": 0, "high": 1, "when": {"y": 1}}}, "not a parameter"),
        ({"y": [1, 2], "x": {"type": "float", "low": 0, "high": 1, "when": {"y": 3}}}, "can never be taken"),
        ({"x": {"type": "float", "low": 0, "high": 1, "when": {"y": 1}}, "y": [1, 2]}, "declared before"),
    ],
)
def test_bad_spaces_name_the_key(spec, message):
    with pytest.raises((ValueError, TypeError), match=message):
        SearchSpace(spec)


def test_space_diff_lists_changes():
    a = SearchSpace({"x": Float(0, 1), "y": [1, 2]})
    b = SearchSpace({"x": Float(0, 2), "z": Int(1, 3)})
    diff = a.diff(b)
    assert any(d.startswith("changed x") for d in diff)
    assert any(d.startswith("removed y") for d in diff)
    assert any(d.startswith("added z") for d in diff)


def test_validate_checks_values_and_activity():
    space = SearchSpace({"k": ["a", "b"], "g": Float(0, 1, when={"k": "b"})})
    assert space.validate({"k": "b", "g": 0.5}) == {"k": "b", "g": 0.5}
    with pytest.raises(ValueError, match="outside"):
        space.validate({"k": "b", "g": 3})
    with pytest.raises(ValueError, match="inactive"):
        space.validate({"k": "a", "g": 0.5})
    with pytest.raises(ValueError, match="unknown parameter"):
        space.validate({"q": 1}, partial=True)
    with pytest.raises(ValueError, match="missing parameter"):
        space.validate({"k": "b"})


def test_distribution_from_dict_aliases():
    assert distribution_from_dict({"type": "loguniform", "low": 1e-3, "high": 1}) == Float(1e-3, 1, log=True)
    assert distribution_from_dict({"type": "choice", "choices": [1, 2]}) == Categorical([1, 2])


def test_grid_values():
    assert Float(0, 1).grid(3) == [0.0, 0.5, 1.0]
    assert Float(1e-2, 1, log=True).grid(3) == pytest.approx([1e-2, 1e-1, 1.0])
    assert Int(1, 5).grid(3) == [1, 2, 3, 4, 5]
    assert Int(1, 1000).grid(3) == [1, 500, 1000]
    assert Float(0, 1, step=0.25).grid(2) == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_float_contains_keeps_its_tolerance_and_types():
    f = Float(-5.0, 5.0)
    assert f.contains(5.0) and f.contains(-5.0) and f.contains(0) and f.contains(np.float64(1.5))
    assert f.contains(5.0 + 1e-12) and f.contains(-5.0 - 1e-12)  # float error at the ends
    assert not f.contains(5.0 + 1e-6) and not f.contains(math.nan) and not f.contains(True)
    assert not f.contains("1.0") and not f.contains(None)
    big = Float(1e6, 2e6)
    assert big.contains(2e6 * (1 + 5e-10)) and not big.contains(2e6 * (1 + 2e-9))
    stepped = Float(0.0, 1.0, step=0.25)
    assert stepped.contains(0.5) and not stepped.contains(0.3) and stepped.contains(1.0 + 1e-12)
