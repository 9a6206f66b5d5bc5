"""`verkle bench`'s plan: the options select exactly the work they name, the defaults are the ones
--help prints, and the expected duration comes from stated or measured rates."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verkle.benchplan import (
    BLS,
    BN,
    BN254_WARN_LOG2,
    DEFAULTS,
    MERKLE,
    OFFCHAIN,
    ONCHAIN,
    RATES_FILE,
    Line,
    Rates,
    bn254_warning,
    describe,
    duration,
    make_plan,
    parse_ints,
    plan_seconds,
)
from verkle.cli import build_parser


def test_explicit_sizes_keys_and_widths_are_exactly_what_runs() -> None:
    plan = make_plan(ONCHAIN, sizes="8", widths="16", keys="1,4", bn254_size=6)
    assert {(t.scheme, t.width, t.log_n, t.keys) for t in plan.trees} == {
        (BLS, 16, 8, (1, 4)),
        (BN, 16, 6, (1, 4)),
    }
    rows = plan.row_keys()
    assert len(rows) == len(set(rows))
    assert {r[3] for r in rows} == {1, 4} and {r[2] for r in rows} == {256, 64}
    assert {r[4] for r in rows if r[0] == MERKLE} == {"merkle-single", "merkle-multi"}
    # single-proof paths for one key only
    assert ("kzg-bls12-381", 16, 256, 4, "point-evaluation") not in rows
    assert (BLS, 16, 256, 1, "point-evaluation") in rows


def test_the_bn254_tree_has_its_own_size_not_the_smallest_bls_one() -> None:
    plan = make_plan(ONCHAIN, sizes="20", widths="4096", keys="1,128")
    bn = [t for t in plan.trees if t.scheme == BN]
    assert [(t.log_n, t.width) for t in bn] == [(DEFAULTS[(ONCHAIN, False)].bn254_size, 16)]
    assert [t.scheme for t in make_plan(ONCHAIN, sizes="20", no_bn254=True).trees] == [BLS] * 2
    assert bn254_warning(plan, Rates()) is None
    big = make_plan(ONCHAIN, sizes="8", bn254_size=BN254_WARN_LOG2 + 8)
    warning = bn254_warning(big, Rates())
    assert warning and "2^20" in warning and " h " in warning and "--no-bn254" in warning
    assert bn254_warning(make_plan(ONCHAIN, sizes="8", bn254_size=BN254_WARN_LOG2), Rates()) is None


def test_defaults_are_the_ones_help_prints_and_quick_yields_to_explicit_options() -> None:
    parser = build_parser()
    args = parser.parse_args(["bench"])
    assert (args.sizes, args.widths, args.keys, args.bn254_size, args.fork) == (None,) * 5
    help_text = " ".join(parser._subparsers._group_actions[0].choices["bench"].format_help().split())
    for mode in (OFFCHAIN, ONCHAIN):
        for quick in (False, True):
            d = DEFAULTS[(mode, quick)]
            plan = make_plan(mode, quick=quick)
            assert {t.log_n for t in plan.trees if t.scheme == BLS} == set(d.sizes)
            assert {t.width for t in plan.trees if t.scheme == BLS} == set(d.widths)
            assert {k for t in plan.trees for k in t.keys} <= set(d.keys)
            assert ",".join(map(str, d.sizes)) in help_text and ",".join(map(str, d.keys)) in help_text
    quick = make_plan(OFFCHAIN, quick=True, keys="2")
    assert {t.keys for t in quick.trees} == {(2,)} and {t.log_n for t in quick.trees} == {8, 10}


def test_key_counts_above_a_tree_are_left_out_and_said() -> None:
    plan = make_plan(ONCHAIN, sizes="2,8", widths="16", keys="1,8,1024", no_bn254=True)
    small, big = plan.trees
    assert small.keys == (1,) and [k for k, _ in small.left_out] == [8, 1024]
    assert big.keys == (1, 8) and [k for k, _ in big.left_out] == [1024]
    assert sum("1,024 keys left out" in n for n in plan.notes) == 2
    assert "1,024 keys left out" in describe(plan, Rates())


def test_bad_lists_and_settings_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="--sizes: 'x' is not an integer"):
        make_plan(OFFCHAIN, sizes="8,x")
    with pytest.raises(ValueError, match="--keys: 0 is out of range"):
        make_plan(OFFCHAIN, keys="0")
    with pytest.raises(ValueError, match="--widths: .*power of two"):
        make_plan(OFFCHAIN, widths="100")
    with pytest.raises(ValueError, match="--sizes: no values"):
        make_plan(OFFCHAIN, sizes=",")
    with pytest.raises(ValueError, match="leaves nothing to measure"):
        make_plan(ONCHAIN, fork="cancun", with_bls=False, no_bn254=True)
    assert parse_ints("4, 1,4", "--keys", 1) == (4, 1)


def test_no_bls_before_prague_keeps_the_merkle_twin_on_the_bn254_tree() -> None:
    plan = make_plan(ONCHAIN, fork="cancun", with_bls=False)
    assert [(t.scheme, t.merkle) for t in plan.trees] == [(BN, True)]
    assert any("lack EIP-2537" in n for n in plan.notes)


def test_embedded_cross_check_follows_embedded_max_and_never_an_rpc_node() -> None:
    plan = make_plan(ONCHAIN, sizes="8,12", widths="16", embedded_max=10, no_bn254=True)
    assert [t.chains for t in plan.trees] == [("anvil", "embedded"), ("anvil",)]
    rpc = make_plan(ONCHAIN, sizes="8", widths="16", rpc=True, no_bn254=True)
    assert [t.chains for t in rpc.trees] == [("rpc",)] and rpc.chain == "rpc"


@given(st.lists(st.integers(1, 5000), min_size=2, max_size=30), st.floats(0, 5), st.floats(0, 0.01))
def test_a_line_through_exact_points_is_recovered(xs, fixed, per) -> None:
    line = Line()
    for x in xs:
        line.add(x, fixed + per * x)
    fit = line.fit()
    if len(set(xs)) < 2:
        assert fit is None
    else:
        assert fit is not None
        assert fit[0] == pytest.approx(fixed, abs=1e-6) and fit[1] == pytest.approx(per, abs=1e-9)


def test_measured_rates_replace_the_stated_ones_and_survive_a_bad_file(tmp_path) -> None:
    plan = make_plan(ONCHAIN, sizes="16", widths="256", keys="1", no_bn254=True)
    stated = plan_seconds(plan, Rates())
    rates = Rates()
    for n in (1024, 4096):
        rates.record("build:kzg-bls12-381:256", n, 0.001 * n)  # 1 ms per leaf: slower than stated
    rates.save(tmp_path)
    loaded = Rates.load(tmp_path)
    assert "earlier runs" in loaded.source and loaded.uses_measured() == ["build:kzg-bls12-381:256"]
    assert plan_seconds(plan, loaded) == pytest.approx(stated + 65.536 - Rates().predict(
        "build:kzg-bls12-381:256", 65536), rel=1e-6)  # fmt: skip
    (tmp_path / RATES_FILE).write_text(json.dumps({"rates": {"x": "nonsense"}}))
    assert Rates.load(tmp_path).source.startswith("stated")
    # a width without a stated figure takes the nearest one
    assert Rates().predict("build:kzg-bls12-381:512", 1000) == Rates().predict(
        "build:kzg-bls12-381:256", 1000
    )


def test_resumed_rows_cost_nothing_and_show_as_kept() -> None:
    plan = make_plan(ONCHAIN, sizes="8", widths="16", keys="1,4", no_bn254=True)
    done = set(plan.row_keys())
    assert plan_seconds(plan, Rates(), done) == 0
    assert "(8 kept)" in describe(plan, Rates(), done)


def test_durations_read_naturally() -> None:
    assert (
        duration(42) == "42 s" and duration(600) == "10 min" and duration(3 * 3600 + 20 * 60) == "3 h 20 min"
    )


def test_one_measured_size_scales_the_stated_line() -> None:
    rates = Rates()
    stated_1, stated_1024 = (
        rates.predict("tx:anvil:kzg-bls12-381", 1),
        rates.predict("tx:anvil:kzg-bls12-381", 1024),
    )
    rates.record("tx:anvil:kzg-bls12-381", 1, 2 * stated_1)  # a machine twice as slow, seen at one size
    assert rates.predict("tx:anvil:kzg-bls12-381", 1024) == pytest.approx(2 * stated_1024)
