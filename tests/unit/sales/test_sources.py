"""Transaction sources: the generator's structure and determinism, the file formats and their errors."""

import gzip
import zipfile

import numpy as np
import pandas as pd
import pytest

from streaming.contracts import TRANSACTION
from streaming.files import DatasetError, read_sales_file
from streaming.sales.transaction_sources import daily_series, file_transactions, generated_daily_sales, missing_default


def test_generator_is_seeded_and_has_weekly_yearly_and_holiday_structure():
    a = generated_daily_sales(seed=3, stores=4, items=5, days=800)
    assert a.equals(generated_daily_sales(seed=3, stores=4, items=5, days=800))
    assert len(a) == 4 * 5 * 800 and a["quantity"].min() >= 0
    day = pd.to_datetime(a["date"])
    by_weekday = a.groupby(day.dt.dayofweek)["quantity"].mean()
    assert by_weekday[5] > 1.2 * by_weekday[0]  # Saturdays sell more than Mondays
    black_friday = a[day == "2023-11-24"]["quantity"].mean()
    assert black_friday > 1.5 * a[(day >= "2023-11-13") & (day <= "2023-11-22")]["quantity"].mean()
    promo = a["unit_price"] < a.groupby("item_id")["unit_price"].transform("max")
    assert 0.02 < promo.mean() < 0.07 and a[promo]["quantity"].mean() > a[~promo]["quantity"].mean()
    per_store = a.groupby("store_id")["quantity"].mean()
    assert per_store.max() > 1.3 * per_store.min()  # store heterogeneity


def write(path, text):
    path.write_text(text)
    return path


def test_reads_kaggle_rich_and_ta_feng_formats(tmp_path):
    kaggle = read_sales_file(write(tmp_path / "train.csv", "date,store,item,sales\n2017-01-01,1,2,13\n"))
    assert kaggle.iloc[0][["store_id", "item_id", "quantity", "unit_price"]].tolist() == [1, 2, 13, 0.0]
    rich = read_sales_file(
        write(
            tmp_path / "rich.csv",
            "date,store_id,item_id,quantity,unit_price,customer_id,txn_id\n"
            "2024-02-01,3,4,2,9.5,c1,t9\n2024-02-01,3,4,1,9.5,,\n",
        )
    )
    assert rich["customer_id"].tolist() == ["c1", None] and rich["txn_id"].tolist() == ["t9", None]
    ta_feng = tmp_path / "ta_feng.csv.zip"
    with zipfile.ZipFile(ta_feng, "w") as archive:
        archive.writestr(
            "ta_feng.csv",
            '\ufeff"TRANSACTION_DT","CUSTOMER_ID","AGE_GROUP","PIN_CODE","PRODUCT_SUBCLASS","PRODUCT_ID","AMOUNT",'
            '"ASSET","SALES_PRICE"\n"11/1/2000","01104905","45-49","115","110411","4710199010372","2","24","30"\n',
        )
    row = read_sales_file(ta_feng).iloc[0]
    assert (str(row["date"]), row["store_id"], row["item_id"], row["quantity"], row["unit_price"]) == (
        "2000-11-01",
        1,
        4710199010372,
        2,
        15.0,
    )  # SALES_PRICE is the line total
    decimal = read_sales_file(write(tmp_path / "weekly.csv", "date,store,item,sales\n2010-02-05,1,1,24924.5\n"))
    assert decimal["quantity"].tolist() == [24924.5]  # currency amounts are sales too
    net = read_sales_file(write(tmp_path / "net.csv", "date,store,item,sales\n2010-02-05,1,1,-12.5\n"))
    assert net["quantity"].tolist() == [-12.5]  # a panel's net sales: returns can exceed sales in a period
    assert missing_default(decimal) == "gap" and missing_default(rich) == "zero"
    gz = tmp_path / "train.csv.gz"
    gz.write_bytes(gzip.compress(b"date,store,item,sales\n2017-01-02,1,2,5\n"))
    assert read_sales_file(gz)["quantity"].tolist() == [5]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b\n1,2\n", "unrecognised header a,b"),
        ("date,store,item,sales\n", "no data rows"),
        ("date,store_id,item_id,quantity,unit_price\n2017-01-01,1,2,-3,1\n", "line 2: quantity='-3' is not a non-neg"),
        ("date,store,item,sales\n2017-01-01,1,2,n/a\n", "line 2: sales='n/a' is not a number"),
        ("date,store,item,sales\n2017-01-01,1,2,3\nnot-a-date,1,2,3\n", "line 3: date='not-a-date'"),
        ("date,store,item,sales\n2017-01-01,x,2,3\n", "line 2: store='x'"),
    ],
)
def test_bad_files_give_one_clear_line(tmp_path, text, message):
    with pytest.raises(DatasetError, match=message.replace("(", r"\(")) as info:
        read_sales_file(write(tmp_path / "bad.csv", text))
    assert "\n" not in str(info.value) and "bad.csv" in str(info.value)
    with pytest.raises(DatasetError, match="no such file"):
        read_sales_file(tmp_path / "missing.csv")


def test_file_events_are_valid_and_replay_identically(tmp_path):
    path = write(tmp_path / "train.csv", "date,store,item,sales\n2017-01-01,1,2,13\n2017-01-02,1,2,0\n")
    events = list(file_transactions(path))
    assert events == list(file_transactions(path))
    ids = [e["event_id"] for e in events]
    assert ids[0].startswith("txn-f") and ids[0].endswith("-000000000") and ids[1].endswith("-000000001")
    for event in events:
        TRANSACTION.parse(TRANSACTION.serialize(event))


def test_the_transaction_stream_refuses_fractional_units_in_one_line(tmp_path):
    path = write(tmp_path / "weekly.csv", "date,store,item,sales\n2010-02-05,1,1,3\n2010-02-12,1,1,24924.5\n")
    with pytest.raises(
        DatasetError, match="line 3: quantity 24924.5 is not a whole, non-negative number of units"
    ) as info:
        list(file_transactions(path))
    assert "retail-pulse sales backtest" in str(info.value) and "\n" not in str(info.value)


def test_file_event_ids_never_collide_across_files_and_follow_the_content(tmp_path):
    # same name prefix, same line numbers, different data: issue #9 saw these share ids
    a = write(tmp_path / "store_item_demand_2024.csv", "date,store,item,sales\n2024-01-01,1,2,13\n")
    b = write(tmp_path / "store_item_demand_2025.csv", "date,store,item,sales\n2025-01-01,1,2,13\n")
    renamed = write(tmp_path / "copy_of_2024.csv", a.read_text())
    ids = {path.name: [e["event_id"] for e in file_transactions(path)] for path in (a, b, renamed)}
    assert ids[a.name] != ids[b.name] and ids[a.name] == ids[renamed.name]  # a renamed copy replays the same


def test_daily_series_sums_lines_per_day():
    lines = pd.DataFrame({"date": ["2024-01-01"] * 3, "store_id": 1, "item_id": [1, 1, 2], "quantity": [2, 3, 4]})
    series = daily_series(lines)
    assert series.sort_values("item_id")["y"].tolist() == [5, 4] and np.issubdtype(series["ds"].dtype, np.datetime64)
