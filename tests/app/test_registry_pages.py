"""The registry in the app (issue 35), against a real MLflow tracking server: the configured model
as a registry URI is pinned as each review starts and stays pinned when its alias moves; the
Model page (admins) and Compare's model B list only the allowed registered models, by alias and
version, and load the version they name."""

import json

import architectures as arch
import pytest
from mlflow_server import MlflowServer

from crnnaudit import ModelCard
from crnnaudit.footage.video import sha256_file
from tests.app.test_pages import _app

CLASSES = ["normal", "fight", "fire", "shooting"]


@pytest.fixture(scope="module")
def small_registry(tmp_path_factory):
    folder = tmp_path_factory.mktemp("registered")
    try:
        server = MlflowServer(folder / "server").start()
    except RuntimeError as e:
        pytest.fail(str(e))
    paths = {}
    for version, seed in ((1, 0), (2, 1)):
        (folder / f"v{version}").mkdir()
        path = paths[version] = folder / f"v{version}" / "small.keras"
        arch.td_cnn_gru_softmax(t=8, s=32, classes=4, seed=seed).save(path)
        ModelCard(name="small", version=str(version), classes=CLASSES, stride=8).write(path.with_name("small.card.json"))
        assert server.register("small", path, path.with_name("small.card.json")) == str(version)
    server.register("hidden", paths[1])
    server.alias("small", "champion", 1)
    yield server, paths
    server.stop()


@pytest.fixture
def registry_app(app_env, small_registry, monkeypatch):
    server, paths = small_registry
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    monkeypatch.setenv("CRNNAUDIT_REGISTRY_MODELS", "small")
    monkeypatch.setenv("CRNNAUDIT_MODEL", "models:/small@champion")
    return server, paths


def _model(at):
    return at.session_state["review"].model()


def test_the_configured_alias_is_pinned_as_the_review_starts_and_stays_when_it_moves(registry_app):
    server, paths = registry_app
    at = _app()
    assert _model(at).registry["version"] == "1" and _model(at).sha256 == sha256_file(paths[1])
    server.alias("small", "champion", 2)
    try:
        at.switch_page("views/model.py").run()
        assert not at.exception, at.exception
        assert _model(at).registry["version"] == "1", "the review keeps the version it started on"
        assert any("models:/small@champion, version 1" in i.value for i in at.info)
        fresh = _app("B. Admin")  # a review that starts now gets the version the alias names now
        assert _model(fresh).registry["version"] == "2"
    finally:
        server.alias("small", "champion", 1)


def test_the_model_page_lists_allowed_registered_models_and_loads_the_version_chosen(registry_app):
    at = _app()
    at.switch_page("views/model.py").run()
    picker = at.selectbox(key="model_pick_registry")
    assert picker.options == ["models:/small@champion (version 1 now)", "models:/small/2", "models:/small/1"]
    picker.set_value("models:/small/2")
    at.button(key="load_model").click().run()
    assert not at.exception, at.exception
    assert _model(at).registry["uri"] == "models:/small/2" and _model(at).registry["version"] == "2"
    assert any("models:/small/2, version 2" in i.value for i in at.info)
    # the admin's card edit is stored back as a file of that version, and the log row says where
    [owner] = [t for t in at.text_input if t.label == "Owner"]
    owner.set_value("Night shift team")
    [save] = [b for b in at.button if b.label == "Save card"]
    save.click().run()
    assert not at.exception, at.exception
    server = registry_app[0]
    stored = [json.loads(p.read_text()) for p in server.artifacts.rglob("small.card.json")]
    assert [c["version"] for c in stored if c["owner"] == "Night shift team"] == ["2"]
    from crnnaudit import AuditLog
    row = [json.loads(r["payload"]) for r in AuditLog().rows() if r["kind"] == "card"][-1]
    assert (row["registry_uri"], row["registry_version"], row["stored_in_registry"]) == \
        ("models:/small/2", "2", "small.card.json")
    at.switch_page("views/review.py").run()
    at.button(key="explain").click().run()  # explained by version 2
    assert not at.exception, at.exception
    at.switch_page("views/compare.py").run()  # model B: the same list, nothing typed
    assert not at.exception, at.exception
    assert at.selectbox(key="model_b_registry").options == picker.options
    assert not [t for t in at.text_input if "models:/" in (t.value or "") or "uri" in t.label.lower()]
    at.selectbox(key="model_b_registry").set_value("models:/small/1").run()
    assert not at.exception, at.exception
    assert not [e.value for e in at.error if "models:/" in e.value or "registry" in e.value]
    assert [m for m in at.markdown if m.value.startswith("**B · ")], "model B's maps are shown"
    pinned = at.session_state["registry_pins"]["models:/small/1"]  # pinned once for this session
    assert sha256_file(pinned) == sha256_file(registry_app[1][1])
