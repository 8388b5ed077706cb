"""AdapterSettings: per-agency defaults and the environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from adapters.config import AdapterSettings
from gateway.contracts.agencies import Agency


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TSW_KAFKA_BOOTSTRAP_SERVERS", "TSW_DATA_DIR", "TSW_ADAPTER_AGENCY"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("agency", "port"), [("customs", 9101), ("tid", 9102), ("censtatd", 9103), ("logistics", 9104)]
)
def test_agency_defaults(agency: str, port: int) -> None:
    settings = AdapterSettings(agency=Agency(agency))
    assert settings.effective_backend_url == f"http://127.0.0.1:{port}"
    assert settings.effective_group_id == f"tsw-adapter-{agency}"
    assert settings.effective_data_dir == Path("var") / "adapters" / agency
    assert settings.kafka_bootstrap_servers == "127.0.0.1:9092"
    assert settings.jwks_source == "http://127.0.0.1:8000/.well-known/jwks.json"
    assert settings.source == f"urn:tsw:adapter:{agency}"


def test_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TSW_ADAPTER_AGENCY", "tid")
    monkeypatch.setenv("TSW_KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    monkeypatch.setenv("TSW_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TSW_ADAPTER_JWKS_FILE", str(tmp_path / "jwks.json"))
    monkeypatch.setenv("TSW_ADAPTER_CIRCUIT_COOLDOWN_S", "2.5")
    settings = AdapterSettings()  # type: ignore[call-arg]
    assert settings.agency is Agency.TID
    assert settings.kafka_bootstrap_servers == "kafka:9092"
    assert settings.effective_data_dir == tmp_path / "adapters" / "tid"
    assert settings.jwks_source == str(tmp_path / "jwks.json")
    assert settings.circuit_cooldown_s == 2.5
    monkeypatch.setenv("TSW_ADAPTER_KAFKA_BOOTSTRAP_SERVERS", "adapter-kafka:9092")
    assert AdapterSettings().kafka_bootstrap_servers == "adapter-kafka:9092"  # type: ignore[call-arg]
    explicit = AdapterSettings(agency=Agency.TID, kafka_bootstrap_servers="x:1", backend_url="http://b:1")
    assert (explicit.kafka_bootstrap_servers, explicit.effective_backend_url) == ("x:1", "http://b:1")


def test_invalid_settings() -> None:
    with pytest.raises(ValidationError):
        AdapterSettings(agency="nobody")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        AdapterSettings(agency=Agency.CUSTOMS, retry_base_backoff_s=5.0, retry_max_backoff_s=1.0)
