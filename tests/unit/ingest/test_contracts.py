import json
from datetime import datetime

import pytest

from streaming.contracts import CONTRACTS, TRANSACTION, ContractError, render_ddl
from streaming.producer import MALFORMED_KINDS, malform
from streaming.sales.transaction_sources import generated_transactions

GOOD = {
    "event_id": "txn-1",
    "txn_id": "r1",
    "event_time": "2024-03-01T10:00:00Z",
    "store_id": 3,
    "item_id": 7,
    "quantity": 2,
    "unit_price": 4.5,
    "customer_id": None,
}


def encode(**changes):
    return json.dumps({"event_type": "transaction", **GOOD, **changes}).encode()


def test_valid_transaction_parses_to_typed_values():
    record = TRANSACTION.parse(encode())
    assert record["event_time"] == datetime(2024, 3, 1, 10, 0)  # converted to naive UTC
    assert record["store_id"] == 3 and record["unit_price"] == 4.5 and record["customer_id"] is None


def test_timezone_offsets_are_normalised_to_utc():
    assert TRANSACTION.parse(encode(event_time="2024-03-01T12:00:00+02:00"))["event_time"] == datetime(2024, 3, 1, 10)


@pytest.mark.parametrize(
    "payload, code",
    [
        (b"{not json", "bad_json"),
        (b"[1, 2]", "bad_json"),
        (None, "bad_json"),
        (b"\xff\xfe", "bad_json"),
        (
            json.dumps({k: v for k, v in {"event_type": "transaction", **GOOD}.items() if k != "store_id"}).encode(),
            "missing_field",
        ),
        (encode(txn_id="   "), "missing_field"),
        (encode(store_id="3"), "wrong_type"),
        (encode(store_id=True), "wrong_type"),
        (encode(unit_price="cheap"), "wrong_type"),
        (encode(event_time="yesterday"), "wrong_type"),
        (encode(quantity=-1), "out_of_range"),
        (encode(quantity=10_001), "out_of_range"),
        (encode(event_time="1900-01-01T00:00:00"), "out_of_range"),
        (encode(txn_id="x" * 65), "out_of_range"),
        (encode(event_type="refund"), "unknown_event_type"),
    ],
)
def test_each_kind_of_invalid_input_gets_its_reason(payload, code):
    record, error = TRANSACTION.validate(payload)
    assert record is None
    assert isinstance(error, ContractError) and error.code == code
    assert str(error).startswith(f"{code}: ")


def test_choices_are_enforced():
    contract = CONTRACTS["shopper_event"]
    msg = {
        "event_type": "shopper_event",
        "event_id": "e",
        "event_time": "2024-01-01T00:00:00",
        "visitor_id": 1,
        "action": "wishlist",
        "item_id": 2,
    }
    assert contract.validate(json.dumps(msg))[1].code == "invalid_value"
    msg["action"] = "view"
    assert contract.validate(json.dumps(msg))[0]["action"] == "view"


def test_serialize_roundtrips_and_rejects_invalid_records():
    record = next(generated_transactions(seed=1))
    assert TRANSACTION.parse(TRANSACTION.serialize(record)) == record
    with pytest.raises(ContractError):
        TRANSACTION.serialize({**record, "quantity": -5})


@pytest.mark.parametrize("contract", list(CONTRACTS.values()), ids=list(CONTRACTS))
@pytest.mark.parametrize("kind", MALFORMED_KINDS)
def test_malformed_records_fail_with_the_intended_reason(contract, kind):
    record = {f.name: _sample(f) for f in contract.all_fields}
    assert contract.validate(contract.serialize(record))[1] is None
    assert contract.validate(malform(contract, record, kind))[1].code == kind


def _sample(field):
    if field.choices:
        return field.choices[0]
    return {"string": "abc", "int": int(field.max or 2), "float": 2.0, "timestamp": datetime(2024, 1, 2)}[field.kind]


def test_committed_migration_holds_exactly_the_contract_ddl():
    from common.migrations import MIGRATIONS_DIR

    assert (MIGRATIONS_DIR / "0002_raw_tables.sql").read_text() == render_ddl()
    # columns added to a contract later come with the migration that adds them, generated likewise
    assert render_ddl(7) in (MIGRATIONS_DIR / "0007_reviews.sql").read_text()
    added = {f.added_in for c in CONTRACTS.values() for f in c.all_fields} - {None}
    assert added == {7}, "a new added_in needs its migration checked here"


@pytest.mark.parametrize("contract", list(CONTRACTS.values()), ids=list(CONTRACTS))
def test_spark_schema_and_ddl_name_the_same_columns(contract):
    spark_columns = [f.name for f in contract.spark_schema().fields]
    ddl_columns = [
        line.split()[0]
        for line in contract.ddl().splitlines()[1:]
        if line.startswith("  ") and not line.strip().startswith("PRIMARY")
    ]
    added = [line.split()[2] for line in (contract.alter_ddl(7) or "").splitlines()[1:]]
    assert spark_columns == contract.field_names
    assert sorted(ddl_columns + added) == sorted(contract.table_columns + ["ingested_at"])
    nullable = {f.name: f.nullable for f in contract.spark_schema().fields}
    for line in contract.ddl().splitlines()[1:]:
        name = line.split()[0] if line.startswith("  ") else None
        if name in nullable:
            assert ("NOT NULL" not in line) == nullable[name], line


def test_keys_are_deterministic_and_generator_replays_identically():
    a = list(zip(range(200), generated_transactions(seed=3), strict=False))
    b = list(zip(range(200), generated_transactions(seed=3), strict=False))
    assert a == b
    assert len({r["event_id"] for _, r in a}) == 200
    assert TRANSACTION.key(a[0][1]) == f"{a[0][1]['store_id']}-{a[0][1]['item_id']}".encode()
