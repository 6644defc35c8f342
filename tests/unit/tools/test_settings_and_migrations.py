import pytest

from common.migrations import Migration, load_migrations
from common.settings import load_settings


def test_profiles_and_env_overrides(tmp_path):
    base = {"RP_STATE_DIR": str(tmp_path)}
    assert load_settings(base).mysql_port == 3307
    docker = load_settings({**base, "RETAIL_PULSE_ENV": "docker"})
    assert docker.mysql_host == "mysql" and docker.kafka_bootstrap == "kafka:9092"
    custom = load_settings({**base, "RP_MYSQL_PORT": "3999", "RP_TOPIC_TRANSACTIONS": "tx2"})
    assert custom.mysql_port == 3999 and custom.topics["transactions"] == "tx2"


def test_bad_profile_and_bad_int_give_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="RETAIL_PULSE_ENV='prod' is not one of local, ci, docker"):
        load_settings({"RETAIL_PULSE_ENV": "prod"})
    with pytest.raises(ValueError, match="RP_MYSQL_PORT must be an integer"):
        load_settings({"RP_STATE_DIR": str(tmp_path), "RP_MYSQL_PORT": "abc"})


def test_generated_credentials_file_is_read_but_env_wins(tmp_path):
    (tmp_path / "credentials.env").write_text("# secrets\nRP_MYSQL_WRITER_PASSWORD=fromfile\n")
    assert load_settings({"RP_STATE_DIR": str(tmp_path)}).mysql_writer_password == "fromfile"
    env = {"RP_STATE_DIR": str(tmp_path), "RP_MYSQL_WRITER_PASSWORD": "fromenv"}
    settings = load_settings(env)
    assert settings.mysql_writer_password == "fromenv"


def test_mlflow_uri_follows_port(tmp_path):
    assert (
        load_settings({"RP_STATE_DIR": str(tmp_path), "RP_MLFLOW_PORT": "6000"}).mlflow_tracking_uri
        == "http://127.0.0.1:6000"
    )


def test_migrations_are_ordered_and_split_into_statements():
    migrations = load_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert migrations[0].name == "0001_platform.sql"
    statements = migrations[0].statements()
    assert all(s.upper().startswith("CREATE TABLE") for s in statements) and len(statements) == 2


@pytest.mark.parametrize(
    "files, message",
    [
        ({"0001_a.sql": "", "0003_b.sql": ""}, "without gaps"),
        ({"0001_a.sql": "", "0001_b.sql": ""}, "share version"),
        ({"1_bad.sql": ""}, "must be named"),
    ],
)
def test_bad_migration_sets_are_rejected(tmp_path, files, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(ValueError, match=message):
        load_migrations(tmp_path)


def test_checksum_changes_with_content():
    assert Migration(1, "0001_a.sql", "A;").checksum != Migration(1, "0001_a.sql", "B;").checksum


def test_migrations_use_only_sql_that_mysql_84_and_mariadb_accept():
    from common.migrations import MARIADB_ONLY, load_migrations

    for migration in load_migrations():
        for statement in migration.statements():
            assert not MARIADB_ONLY.search(statement), f"{migration.name}: MariaDB-only syntax in {statement[:80]!r}"
    for bad in (
        "ALTER TABLE t ADD COLUMN IF NOT EXISTS c INT",
        "CREATE OR REPLACE TABLE t (a INT)",
        "ALTER TABLE t DROP INDEX IF EXISTS ix",
        "ALTER TABLE t ADD IF NOT EXISTS c INT",
    ):
        assert MARIADB_ONLY.search(bad), bad
    assert not MARIADB_ONLY.search("CREATE OR REPLACE VIEW v AS SELECT 1")  # both accept this


def test_a_rewritten_migration_keeps_databases_that_applied_the_original():
    from common.migrations import REWRITTEN, load_migrations

    sales = load_migrations()[2]
    assert sales.name == "0003_sales.sql" and sales.checksum not in REWRITTEN[3]


def test_every_setting_is_in_the_operator_guide_configuration_table():
    import re
    from dataclasses import fields

    from common.settings import REPO_ROOT, Settings

    text = (REPO_ROOT / "docs" / "operator.md").read_text()
    section = text[text.index("### Configuration") : text.index("### Troubleshooting")]
    documented = re.findall(r"^\| `RP_(\w+)` \|", section, flags=re.M)
    assert sorted(documented) == sorted(f.name.upper() for f in fields(Settings) if f.name != "profile")
