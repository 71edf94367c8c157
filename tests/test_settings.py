from pydantic import ValidationError
import pytest

from tutor.settings import Settings


def test_env_prefix_and_ecosystem_names(monkeypatch, tmp_path):
    monkeypatch.setenv("QDRANT_URL", "http://127.0.0.1:6333")
    monkeypatch.setenv("QDRANT_API_KEY", "secret")
    monkeypatch.setenv("TUTOR_TOP_K", "7")
    s = Settings(_env_file=None)
    assert s.qdrant_url == "http://127.0.0.1:6333" and s.qdrant_api_key.get_secret_value() == "secret"
    assert s.top_k == 7 and s.qdrant_location == "http://127.0.0.1:6333"
    assert "secret" not in repr(s)


def test_dotenv_file_is_read(tmp_path):
    env = tmp_path / ".env"
    env.write_text("TUTOR_EMBED_MODEL=all-mpnet-base-v2\nTUTOR_CHUNK_SIZE=200\n")
    s = Settings(_env_file=env)
    assert s.embed_model == "all-mpnet-base-v2" and s.chunk_size == 200


def test_defaults_are_embedded_and_local(tmp_path):
    s = Settings(_env_file=None, data_dir=tmp_path)
    assert s.qdrant_url is None and s.qdrant_location == str(tmp_path / "qdrant")


@pytest.mark.parametrize("kw", [{"chunk_size": 100, "chunk_overlap": 100}, {"top_k": 0}, {"collection": "../x"}])
def test_invalid_values_are_rejected(kw):
    with pytest.raises(ValidationError):
        Settings(_env_file=None, **kw)


def test_unknown_embedder_is_a_clear_error(tmp_path):
    from tutor.knowledge.embed import resolve_model
    from tutor.errors import ConfigError

    with pytest.raises(ConfigError, match="never downloaded"):
        resolve_model("sentence-transformers/some-hub-model", tmp_path)
