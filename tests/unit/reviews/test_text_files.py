"""Your own review and post files: the shipped examples read as contract records; bad lines are named
with their file, line and column, and refuse the file before anything is sent."""

import gzip
import json
from datetime import datetime
from pathlib import Path

import pytest

from streaming.contracts import PRODUCT_REVIEW, SOCIAL_POST
from streaming.files import DatasetError
from streaming.reviews.text_files import read_text_file

OWN = Path(__file__).resolve().parents[2] / "fixtures" / "own_data"


def test_the_shipped_review_and_post_files_become_valid_events():
    reviews = read_text_file(OWN / "reviews.csv", "review_file")
    assert [r["review_id"] for r in reviews] == [f"own-r{i}" for i in range(1, 7)]
    first = reviews[0]
    assert (first["event_id"], first["product_id"], first["store_id"], first["rating"]) == (
        "review-own-r1",
        "101",
        21,
        5,
    )
    assert first["created_at"] == datetime(2026, 11, 3) and first["source"] == "reviews.csv"
    assert reviews[2]["created_at"] == datetime(2026, 11, 3, 9, 15) and reviews[5]["store_id"] is None
    posts = read_text_file(OWN / "posts.jsonl", "post_file")
    assert [(p["event_id"], p["platform"], p.get("product_id")) for p in posts] == [
        ("post-own-p1", "instagram", None),
        ("post-own-p2", "own", None),
        ("post-own-p3", "reddit", None),
    ]
    assert posts[1]["label"] == "negative"
    for contract, records in ((PRODUCT_REVIEW, reviews), (SOCIAL_POST, posts)):
        assert all(contract.parse(contract.serialize(r)) for r in records)  # what the stream will accept


def test_every_bad_line_is_named_and_nothing_is_read(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text(
        "review_id,product_id,text,rating,created_at\n"
        "a,7,fine,4,2026-11-01\n"
        "b,7,too many stars,6,2026-11-01\n"
        "c,7,,4,2026-11-01\n"
        'd,7,"a quoted, multi\nline text",4,yesterday\n'
        "a,8,again,3,2026-11-02\n"
    )
    with pytest.raises(DatasetError) as caught:
        read_text_file(path, "review_file")
    lines = str(caught.value).splitlines()
    assert lines[0] == f"{path}: 4 bad line(s), nothing sent:"
    assert "line 3: column rating: out_of_range" in lines[1]
    assert "line 4: column text: missing_field" in lines[2]
    assert "line 5: column created_at: wrong_type" in lines[3]  # where the two-line record starts
    assert "line 7: column review_id: 'a' already on line 2" in lines[4]


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("r.csv", "id,text\n1,hi\n", "the header has no column(s) review_id, product_id, created_at"),
        ("r.txt", "review_id\n", "expected a .csv, .jsonl or .ndjson file"),
        ("r.jsonl", '{"review_id": "a"\n', "line 1: not valid JSON"),
        ("r.jsonl", "[1, 2]\n", "line 1: expected a JSON object, got list"),
        ("r.csv", "review_id,product_id,text,created_at\n", "no data rows"),
    ],
)
def test_unreadable_files_say_why(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DatasetError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        read_text_file(path, "review_file")


def test_gzipped_json_lines_are_read(tmp_path):
    path = tmp_path / "posts.jsonl.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(json.dumps({"post_id": "x", "text": "love it", "created_at": "2026-11-01T10:00:00Z"}) + "\n\n")
    [post] = read_text_file(path, "post_file")
    assert post["created_at"] == datetime(2026, 11, 1, 10) and post["platform"] == "own"


def test_the_walkthroughs_sales_and_events_files_read_with_their_own_readers():
    from streaming.contracts import SHOPPER_EVENT, TRANSACTION
    from streaming.files import read_sales_file
    from streaming.recommendations.event_sources import shopper_events, source_events
    from streaming.sales.transaction_sources import file_transactions

    sales = read_sales_file(OWN / "sales.csv")
    assert sales.attrs["format"] == "rich" and len(sales) == 7 and set(sales["item_id"]) == {101, 102, 103, 104}
    assert all(TRANSACTION.parse(TRANSACTION.serialize(r)) for r in file_transactions(OWN / "sales.csv"))
    frame, prefix = source_events("events", OWN / "events.csv")
    events = list(shopper_events(frame, prefix))
    assert len(events) == 7 and all(SHOPPER_EVENT.parse(SHOPPER_EVENT.serialize(e)) for e in events)
    assert min(e["event_time"] for e in events) == datetime(2026, 11, 2)
