"""Point-in-time universes (issue 23): membership files, and a run whose forecasts, scores, holdings,
benchmark and sentiment index respect who was a member on every date."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from backtests.data.membership import Membership, Spell, read_membership
from backtests.data.synthetic import synthetic_bars
from backtests.errors import UserError
from backtests.modes.experiment import run_experiment
from backtests.pipeline.portfolio import run_portfolio
from strategies.portfolio.equal_weight import EqualWeight
from strategies.portfolio.topk import TopK
from tests.paths import FREE, bars
from tests.test_universe import CSV, independent_ic

T = pd.Timestamp


# -- the three layouts ---------------------------------------------------------------------------
def test_csv_qlib_and_snapshot_files_give_the_same_spells(tmp_path):
    (tmp_path / "m.csv").write_text("ticker,start,end\nAAA,2020-01-01,\nBBB,2020-01-01,2020-02-29\n"
                                    "CCC,2020-02-01,2020-02-29\nCCC,2020-04-01,\n")
    (tmp_path / "m.txt").write_text("AAA\t2020-01-01\t2099-12-31\nBBB\t2020-01-01\t2020-02-29\n"
                                    "CCC\t2020-02-01\t2020-02-29\nCCC\t2020-04-01\t2099-12-31\n")
    (tmp_path / "s.csv").write_text('date,tickers\n2020-01-01,AAA BBB\n2020-02-01,"AAA;BBB;CCC"\n'
                                    "2020-03-01,AAA\n2020-04-01,AAA|CCC\n")
    csv, qlib, snap = (read_membership(tmp_path / n) for n in ("m.csv", "m.txt", "s.csv"))
    assert csv.spells["CCC"] == (Spell(T("2020-02-01"), T("2020-02-29")), Spell(T("2020-04-01"), None))
    assert snap.spells == csv.spells  # a snapshot's member stays until the day before it is absent
    assert qlib.spells["BBB"] == csv.spells["BBB"]
    dates = pd.to_datetime(["2019-12-31", "2020-01-01", "2020-02-29", "2020-03-02", "2020-04-01"])
    mask = csv.mask(dates, ["AAA", "BBB", "CCC"])
    assert mask.to_numpy().tolist() == [[False, False, False], [True, True, False],
                                        [True, True, True], [True, False, False],
                                        [True, False, True]]
    assert qlib.mask(dates, ["AAA", "BBB", "CCC"]).equals(mask)  # qlib's 2099-12-31: still a member
    assert csv.today() == qlib.today() == snap.today() == ["AAA", "CCC"]


@pytest.mark.parametrize(("text", "message"), [
    ("ticker,start,end\nAAA,2020-01-01,2020-03-01\nAAA,2020-02-01,\n", "AAA's spells overlap"),
    ("ticker,start,end\nAAA,2020-03-01,2020-01-01\n", "ends on 2020-01-01, before it starts"),
    ("ticker,start,end\nAAA,someday,\n", "row 1 has start 'someday', not a date"),
    ("name;from;to\nAAA;2020;2021\n", "no membership header"),
    ("", "is empty"),
])
def test_a_bad_membership_file_is_one_user_error_naming_the_problem(tmp_path, text, message):
    (tmp_path / "m.csv").write_text(text)
    with pytest.raises(UserError, match=message) as info:
        read_membership(tmp_path / "m.csv")
    assert info.value.hint
    with pytest.raises(UserError, match="is not a file"):
        read_membership(tmp_path / "absent.csv")


# -- the portfolio engine: exact holdings under membership -----------------------------------------
def test_only_members_are_held_a_leaver_is_sold_at_the_next_open_and_the_benchmark_follows():
    """C scores best all along but joins at close 3; B leaves after close 1 (a member on closes 0-1),
    so at close 2, no rebalance day, it is sold at open 3; A is a member throughout."""
    n = 12
    data = {"A": bars([10.0] * n, signal=[.02] * n), "B": bars([20.0] * n, signal=[.01] * n),
            "C": bars([50.0] * n, signal=[.03] * n)}
    days = data["A"].index
    members = Membership({"A": (Spell(days[0], None),), "B": (Spell(days[0], days[1]),),
                          "C": (Spell(days[3], None),)}).mask(days, ["A", "B", "C"])
    result = run_portfolio(data, TopK, {"k": 2, "rebalance": 3, "members": members}, FREE, days[0])
    held = [sorted(t for t, v in row.items() if v) for _, row in result.holdings.iterrows()]
    # open 1: A, B; open 3: B sold (left), A kept; open 4: C bought (rebalance at close 3)
    assert held[:5] == [[], ["A", "B"], ["A", "B"], ["A"], ["A", "C"]]
    assert all(h == ["A", "C"] for h in held[4:])
    b = result.trades[result.trades["ticker"] == "B"].iloc[0]
    assert (b["exit_date"], b["exit_reason"]) == (days[3].date(), "left_universe")
    assert sorted(result.targets.loc[days[0]][lambda w: w > 0].index) == ["A", "B"]  # not C
    bench = run_portfolio(data, EqualWeight, {"members": members}, FREE, days[0])
    # the benchmark rebalances when the members change: {A, B} -> {A} -> {A, C}
    assert list(bench.targets.index) == [days[0], days[2], days[3]]
    assert bench.targets.loc[days[0]].tolist() == pytest.approx([0.5, 0.5, 0.0])
    assert bench.targets.loc[days[2]].tolist() == pytest.approx([1.0, 0.0, 0.0])
    assert bench.targets.loc[days[3]].tolist() == pytest.approx([0.5, 0.0, 0.5])
    bench_held = [sorted(t for t, v in row.items() if v) for _, row in bench.holdings.iterrows()]
    assert bench_held[:5] == [[], ["A", "B"], ["A", "B"], ["A"], ["A", "C"]]


# -- a whole run on a hand-made membership file ----------------------------------------------------
BARS = 420
JOIN, LEAVE, DELIST = 300, 320, 349  # bar numbers: JJJ joins, LLL's last member day, DDD's last bar


def write_universe(folder):
    """Six synthetic tickers on one calendar; DDD's file stops at bar DELIST (delisted)."""
    folder.mkdir(parents=True, exist_ok=True)
    calendar = synthetic_bars(BARS, seed=0).index
    for number, ticker in enumerate(["AAA", "BBB", "CCC", "DDD", "JJJ", "LLL"]):
        frame = synthetic_bars(BARS, seed=300 + number)
        frame.index = calendar
        if ticker == "DDD":
            frame = frame.iloc[:DELIST + 1]
        frame.rename_axis("Date").to_csv(folder / f"{ticker}.csv")
    day = lambda i: calendar[i].date().isoformat()  # noqa: E731
    (folder.parent / "members.csv").write_text(
        "ticker,start,end\n" + "".join(f"{t},{day(0)},\n" for t in ("AAA", "BBB", "CCC"))
        + f"DDD,{day(0)},{day(DELIST)}\nJJJ,{day(JOIN)},\nLLL,{day(0)},{day(LEAVE)}\n")
    return calendar


def membership_cfg(make_cfg, root, *extra):
    return make_cfg(*CSV, f"data.path={root / 'prices'}", "universe=membership",
                    f"universe.file={root / 'members.csv'}", "universe.n_jobs=1",
                    "risk_model.enabled=false", "forecaster=ridge", *extra)


@pytest.mark.parametrize("model", ["global", "per_ticker"])
def test_forecasts_scores_holdings_and_sentiment_respect_membership_on_every_date(
        make_cfg, tmp_path, model, monkeypatch):
    from backtests.stages import portfolio

    books = {}

    def keep_book(bars, cls, params, *rest):  # the run's own engine, its books kept for the checks
        books[cls.__name__] = result = run_portfolio(bars, cls, params, *rest)
        return result

    monkeypatch.setattr(portfolio, "run_portfolio", keep_book)
    calendar = write_universe(tmp_path / "prices")
    cfg = membership_cfg(make_cfg, tmp_path, f"universe.model={model}", "strategy=topk",
                         "strategy.k=5", "strategy.rebalance=5", "report.plots=false")
    run_experiment(cfg)
    out = tmp_path / "run"
    membership = read_membership(tmp_path / "members.csv")
    predictions = pd.read_csv(out / "predictions.csv", parse_dates=["date"])
    mask = membership.mask(calendar, membership.tickers)
    # forecasts: exactly the members with a bar, on every test date
    by_date = predictions.groupby("date")["ticker"].apply(lambda s: sorted(s))
    for date, tickers in by_date.items():
        expected = [t for t in membership.tickers if mask.at[date, t]
                    and (t != "DDD" or date <= calendar[DELIST])]
        assert tickers == expected, date
    first = predictions.groupby("ticker")["date"].min()
    last = predictions.groupby("ticker")["date"].max()
    assert first["JJJ"] == calendar[JOIN] and last["LLL"] == calendar[LEAVE]
    assert last["DDD"] == calendar[DELIST]
    # scores: per ticker and across tickers from those rows alone
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["cross_section"]["ic"] == pytest.approx(independent_ic(predictions)[0], abs=1e-12)
    for ticker, block in metrics["per_ticker"].items():
        rows = predictions[(predictions["ticker"] == ticker) & (predictions["scored"] == 1)]
        assert block["samples"] == len(rows.dropna(subset=["actual"])), ticker
    # holdings: a name is held only while a member, or on the close it is found gone (sold at
    # the next open)
    holdings = pd.read_csv(out / "holdings.csv", index_col="date", parse_dates=True)
    sessions = list(holdings.index)
    for ticker in holdings.columns:
        for i, date in enumerate(sessions):
            if holdings.at[date, ticker] != 0 and ticker != "DDD":
                assert mask.at[date, ticker] or (i and mask.at[sessions[i - 1], ticker]), (ticker, date)
    bench = books["EqualWeight"].holdings  # the equal-weight benchmark: each day's members at 1/N
    for before, date in zip(bench.index[:-1], bench.index[1:], strict=True):
        held = {t for t in bench.columns if bench.at[date, t] != 0}
        members = {t for t in bench.columns if mask.at[before, t]}  # decided at the close before
        if before > calendar[DELIST]:  # a delisted position stays marked at its last close
            held, members = held - {"DDD"}, members - {"DDD"}
        assert held == members, date
    assert (bench.loc[calendar[LEAVE + 2]:, "LLL"] == 0).all()
    assert (bench.loc[calendar[JOIN + 1]:, "JJJ"] != 0).all()
    assert (holdings.loc[:calendar[JOIN], "JJJ"] == 0).all()
    assert (holdings.loc[calendar[JOIN + 1]:, "JJJ"] != 0).any()
    trades = pd.read_csv(out / "trades.csv", parse_dates=["exit_date"])
    lll = trades[trades["ticker"] == "LLL"]
    assert lll["exit_date"].max() == calendar[LEAVE + 2]  # found gone at close LEAVE+1
    assert lll.iloc[-1]["exit_reason"] == "left_universe"
    ddd = trades[trades["ticker"] == "DDD"]
    assert ddd["exit_date"].max() <= calendar[DELIST]  # no fill after its last bar
    # sentiment: counted over each date's members' forecasts
    sentiment = pd.read_csv(out / "sentiment.csv", index_col="date", parse_dates=True)
    counts = predictions.groupby("date").size()
    means = predictions.groupby("date")["forecast"].mean()
    assert (sentiment["tickers"] == counts.reindex(sentiment.index)).all()
    np.testing.assert_allclose(sentiment["mean_forecast"], means.reindex(sentiment.index), rtol=1e-7)  # %.8g
    assert metrics["universe"]["membership"]["file"] == str(tmp_path / "members.csv")


def test_a_leavers_prices_after_it_left_change_no_forecast(make_cfg, tmp_path):
    """The global model trains on members' samples only and its market input averages members,
    so LLL's prices after its last member day (and the close that ends it) change nothing at all;
    the audit on the membership universe passes."""
    from backtests.modes.audit import run_audit
    from backtests.stages.forecasts import forecast_stage
    from backtests.stages.markets import load_markets

    calendar = write_universe(tmp_path / "prices")
    cfg = membership_cfg(make_cfg, tmp_path, "universe.model=global")
    loaded = load_markets(cfg)
    before = forecast_stage(cfg, loaded, use_cache=False).long
    after = forecast_stage(cfg, loaded.altered("LLL", calendar[LEAVE + 1], seed=7), use_cache=False).long
    assert not loaded.altered("LLL", calendar[LEAVE + 1], seed=7).markets["LLL"].frame.equals(
        loaded.markets["LLL"].frame)
    pd.testing.assert_frame_equal(before, after)
    assert run_audit(cfg, cutoffs=2, atol=0.0) == 0.0
    assert json.loads((tmp_path / "run" / "audit.json").read_text())["result"] == "PASS"


def test_survivors_runs_todays_members_on_every_date(make_cfg, tmp_path):
    write_universe(tmp_path / "prices")
    cfg = membership_cfg(make_cfg, tmp_path, "universe.model=global", "universe.survivors=true")
    run_experiment(cfg)
    predictions = pd.read_csv(tmp_path / "run" / "predictions.csv", parse_dates=["date"])
    assert sorted(predictions["ticker"].unique()) == ["AAA", "BBB", "CCC", "JJJ"]
    assert predictions.groupby("ticker")["date"].min().nunique() == 1  # JJJ from the start


@pytest.mark.parametrize(("overrides", "message"), [
    (["universe=membership"], "universe=membership needs its membership file"),
    (["universe=folder", "universe.file=m.csv"], "universe.file is the membership file"),
    (["universe=membership", "universe.file=m.csv", "universe.tickers=[A,B,C]"],
     "universe.tickers would be ignored"),
    (["universe=folder", "universe.survivors=true"], "no universe.file is given"),
])
def test_membership_settings_that_would_be_ignored_are_refused_before_any_data(make_cfg, tmp_path,
                                                                               overrides, message):
    from backtests.settings.validate import validate

    cfg = make_cfg(*CSV, f"data.path={tmp_path}", *overrides)
    with pytest.raises(UserError, match=message) as info:
        validate(cfg)
    assert info.value.hint


def test_the_market_input_counts_members_only_and_never_a_return_across_a_rejoin(tmp_path):
    """BBB leaves after close 2 and rejoins at close 5, after doubling while out: the equal-weight
    market return counts it on its member days only, and not from close 2 to close 5."""
    from types import SimpleNamespace

    from backtests.data.base import MarketData
    from backtests.pipeline.universe import member_closes
    from forecasting.universe.market import EqualWeightReturn

    days = pd.bdate_range("2021-01-04", periods=8)
    a = [100.0] * 8
    b = [50.0, 50.0, 50.0, 75.0, 90.0, 100.0, 110.0, 110.0]
    markets = {t: MarketData(ticker=t, frame=pd.DataFrame({"Close": c}, index=days), source="x")
               for t, c in (("AAA", a), ("BBB", b))}
    membership = Membership({"AAA": (Spell(days[0], None),),
                             "BBB": (Spell(days[0], days[2]), Spell(days[5], None))})
    universe = SimpleNamespace(membership=membership)
    closes = member_closes(universe, markets)  # type: ignore[arg-type]
    assert list(closes.columns) == ["AAA", "BBB#1", "BBB#2"]
    market = EqualWeightReturn()(closes)
    assert market.iloc[5] == 0.0  # AAA alone: BBB's 50 -> 100 while out is nobody's return
    assert market.iloc[6] == pytest.approx(np.log(110 / 100) / 2)
    assert market.iloc[3] == 0.0 and market.iloc[4] == 0.0  # BBB out: its moves are not counted
