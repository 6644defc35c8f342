"""Master-data files: what loads, and the one line that says why a file does not."""

import pytest

from common.catalogue import catalogue
from jobs.ingest.load_catalogue import PRODUCT_COLUMNS, STORE_COLUMNS, MasterDataError, demo_rows, parse_args, read_csv


def test_demo_rows_are_the_generators_catalogue():
    products, stores = demo_rows(5, 2)
    assert products == [(p.item_id, p.name, p.brand, p.product_type) for p in catalogue(5, 2).products]
    assert [s[0] for s in stores] == [1, 2] and stores[0][1].startswith("Retail Pulse ")


def test_csv_in_any_column_order_with_a_bom(tmp_path):
    path = tmp_path / "stores.csv"
    path.write_text("\ufeffcity,store_id,store_name\nOslo,3,North\nBergen,4,West\n", encoding="utf-8")
    assert read_csv(path, STORE_COLUMNS) == [(3, "North", "Oslo"), (4, "West", "Bergen")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("item_id,product_name,brand\n1,a,b\n", r"missing column\(s\) category"),
        ("item_id,product_name,brand,category\nx1,a,b,c\n", ":2: item_id='x1' is not an integer id"),
        ("item_id,product_name,brand,category\n1,a,,c\n", ":2: empty product_name, brand, category for item_id 1"),
        ("item_id,product_name,brand,category\n1,a,b,c\n1,d,e,f\n", ":3: item_id 1 appears twice"),
    ],
)
def test_bad_product_files_are_refused_with_file_and_line(tmp_path, text, message):
    path = tmp_path / "products.csv"
    path.write_text(text)
    with pytest.raises(MasterDataError, match=message):
        read_csv(path, PRODUCT_COLUMNS)


def test_a_missing_file_and_bad_arguments_are_clear(tmp_path, capsys):
    with pytest.raises(MasterDataError, match="cannot read it"):
        read_csv(tmp_path / "nope.csv", PRODUCT_COLUMNS)
    for argv in (["csv"], ["demo", "--items", "241"]):
        with pytest.raises(SystemExit):
            parse_args(argv)
    assert "give --products, --stores or both" in capsys.readouterr().err
