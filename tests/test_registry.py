"""Models from an MLflow model registry (issue 35), against a real tracking server (SQLite store,
local artifact folder, tests/mlflow_server.py) whose models are registered, aliased and tagged by
MLflow's own client; no mock of the registry."""

import json
import shutil
from datetime import datetime
from pathlib import Path

import architectures as arch
import pytest
from fact_checker import numbers_not_in_facts
from mlflow_server import MlflowServer

from crnnaudit import ModelCard, load_model
from crnnaudit.cli.main import main
from crnnaudit.errors import ModelError, RegistryError
from crnnaudit.footage.video import sha256_file
from crnnaudit.model import registry

CLASSES = ["normal", "fight", "fire", "shooting"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    try:
        s = MlflowServer(tmp_path_factory.mktemp("mlflow")).start()
    except RuntimeError as e:
        pytest.fail(str(e))
    yield s
    s.stop()


@pytest.fixture(scope="module")
def fights(server, tmp_path_factory):
    """``fights`` version 1 (model A with its card) and 2 (model B, other weights, no card);
    ``champion`` -> 1, ``challenger`` -> 2; ``empty`` version 1 has no Keras file."""
    folder = tmp_path_factory.mktemp("registered")
    files = {}
    for tag, seed in (("a", 0), ("b", 1)):
        (folder / tag).mkdir()
        path = folder / tag / "fights.keras"
        arch.td_cnn_gru_softmax(t=8, s=32, classes=4, seed=seed).save(path)
        files[tag] = path
    ModelCard(name="fights", version="1", classes=CLASSES, stride=8).write(folder / "a" / "fights.card.json")
    (folder / "notes.txt").write_text("weights were lost")
    v1 = server.register("fights", files["a"], folder / "a" / "fights.card.json")
    v2 = server.register("fights", files["b"])
    server.alias("fights", "champion", v1)
    server.alias("fights", "challenger", v2)
    server.register("empty", folder / "notes.txt")
    return {"v1": v1, "v2": v2, "a": files["a"], "b": files["b"]}


@pytest.fixture
def registry_env(server, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    monkeypatch.setenv("CRNNAUDIT_REGISTRY_MODELS", "fights,empty")


def test_an_alias_and_a_version_resolve_to_their_files_pinned(fights, registry_env):
    pin = registry.resolve("models:/fights@champion")
    assert (pin.name, pin.version, pin.alias) == ("fights", fights["v1"], "champion")
    assert pin.sha256 == sha256_file(fights["a"]) == sha256_file(pin.path)
    model = load_model(pin.path)  # the sandboxed load, the hash check, the card from the version's files
    assert model.card.classes == CLASSES and model.sha256 == pin.sha256
    assert model.registry["uri"] == "models:/fights@champion" and model.registry["version"] == fights["v1"]
    assert model.name == f"models:/fights@champion (version {fights['v1']})"
    two = registry.resolve(f"models:/fights/{fights['v2']}")
    assert (two.version, two.alias, two.sha256) == (fights["v2"], None, sha256_file(fights["b"]))
    assert load_model(two.path).card.classes != CLASSES  # version 2 has no card: defaults
    # the listing the pickers offer: allowed names only, each alias and each version
    uris = registry.choice_uris(registry.choices())
    assert uris == ["models:/empty/1", "models:/fights@challenger", "models:/fights@champion",
                    f"models:/fights/{fights['v2']}", f"models:/fights/{fights['v1']}"]


def test_an_alias_that_moves_changes_nothing_pinned_and_is_said(fights, registry_env, server):
    pin = registry.resolve("models:/fights@challenger")
    state = registry.check(pin)  # compared item by item: two checks a second apart differ in "checked_at"
    assert (state["alias_version"], state["moved"]) == (fights["v2"], False)
    assert datetime.fromisoformat(state["checked_at"]).tzinfo is not None
    server.alias("fights", "challenger", fights["v1"])
    try:
        assert load_model(pin.path).sha256 == sha256_file(fights["b"])  # the pinned version, still
        state = registry.check(pin)
        assert state["moved"] and state["alias_version"] == fights["v1"]
        assert registry.resolve("models:/fights@challenger").version == fights["v1"]  # a new review: the new one
    finally:
        server.alias("fights", "challenger", fights["v2"])


def test_each_registry_failure_is_one_line_naming_the_uri(fights, registry_env, server, monkeypatch):
    cases = {
        "models:/fights@nobody": "not found in the registry",
        "models:/fights/99": "not found in the registry",
        "models:/empty/1": "holds no Keras model file",
        "models:/secret@champion": "not among those that may be audited",
        "models:/fights": "not a registry URI",
        "models:/fights@champion/2": "not a registry URI",
    }
    for uri, words in cases.items():
        with pytest.raises(RegistryError) as e:
            registry.resolve(uri)
        assert words in str(e.value) and uri in str(e.value) and "\n" not in str(e.value), (uri, str(e.value))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(RegistryError, match=r"models:/fights@champion: the registry at http://127.0.0.1:9 does not answer"):
        registry.resolve("models:/fights@champion")
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    with pytest.raises(RegistryError, match="set MLFLOW_TRACKING_URI"):
        registry.resolve("models:/fights@champion")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db")
    with pytest.raises(RegistryError, match="through an MLflow tracking server"):
        registry.resolve("models:/fights@champion")


def test_a_version_whose_file_changed_since_it_was_pinned_is_refused(tmp_path, registry_env, server):
    path = tmp_path / "m.keras"
    arch.td_cnn_gru_softmax(t=8, s=32, classes=4, seed=5).save(path)
    version = server.register("fights", path)
    uri = f"models:/fights/{version}"
    pin = registry.resolve(uri)
    (stored,) = [p for p in server.artifacts.rglob("m.keras")]
    original = stored.read_bytes()
    arch.td_cnn_gru_softmax(t=8, s=32, classes=4, seed=6).save(stored)  # someone rewrites the stored file
    try:
        with pytest.raises(RegistryError, match=rf"{uri}: version {version}'s file changed since it was pinned"):
            registry.check(pin)
        with pytest.raises(RegistryError, match=rf"{uri}: version {version}'s file now has SHA-256 .* must not change"):
            registry.resolve(uri)
        assert sha256_file(pin.path) == pin.sha256, "the pinned copy under review is untouched"
    finally:
        stored.write_bytes(original)
    # a pinned copy altered on this machine is refused by the loader
    pin.path.write_bytes(pin.path.read_bytes() + b"\0")
    with pytest.raises(ModelError, match="no longer has the SHA-256 it was downloaded with"):
        load_model(pin.path)


def test_a_report_names_the_version_reviewed_and_says_when_the_alias_moved(fights, registry_env, server, tmp_path,
                                                                          capsys, sample_clips, monkeypatch):
    from crnnaudit.evidence.accounts import Accounts
    Accounts().add("R", "auditor password", "auditor")
    Accounts().add("P", "approver password", "approver")
    out = tmp_path / "rep"
    monkeypatch.setenv("CRNNAUDIT_PASSWORD", "auditor password")
    monkeypatch.setenv("CRNNAUDIT_MODELS_DIR", str(tmp_path / "nothing-here"))  # only the registry
    assert main(["report", "write", "models:/fights@champion", str(sample_clips[1]), "--decision", "escalate",
                 "--as", "R", "--out", str(out)]) == 0, capsys.readouterr().err
    (report,) = out.glob("report-*.json")
    body = json.loads(report.read_text())["report"]
    reg = body["model"]["registry"]
    assert (reg["pin"]["version"], reg["pin"]["sha256"]) == (fights["v1"], sha256_file(fights["a"]))
    assert reg["at_signing"]["moved"] is False and body["model"]["sha256"] == reg["pin"]["sha256"]
    assert body["facts"]["model"]["registry"]["uri"] == "models:/fights@champion"
    (rows,) = [lines for title, lines in body["annex"] if title == "The model reviewed"]
    assert f"fights version {fights['v1']}" in rows[0] and "still pointed to version" in rows[1]
    # the alias moves between the review and the decision, and the registry may be written to
    server.alias("fights", "champion", fights["v2"])
    monkeypatch.setenv("CRNNAUDIT_CONTROLLER", "Example Transit Ltd")
    monkeypatch.setenv("CRNNAUDIT_CONTEST_CONTACT", "dpo@example.org")
    monkeypatch.setenv("CRNNAUDIT_PASSWORD", "approver password")
    monkeypatch.setenv("CRNNAUDIT_REGISTRY_TAGS", "1")
    try:
        assert main(["report", "countersign", str(report), "--as", "P"]) == 0, capsys.readouterr().err
    finally:
        server.alias("fights", "champion", fights["v1"])
    final = json.loads((out / "countersigned" / report.name).read_text())["report"]
    facts = final["facts"]["model"]["registry"]
    assert facts["version"] == fights["v1"] and facts["at_decision"]["moved"]
    assert facts["at_decision"]["alias_version"] == fights["v2"]
    (rows,) = [lines for title, lines in final["annex"] if title == "The model reviewed"]
    assert rows[2].endswith(f"had moved to version {fights['v2']}; this report concerns version {fights['v1']}, the "
                            f"version reviewed, not version {fights['v2']}.")
    for line in rows:
        assert numbers_not_in_facts(line, final["facts"]) == [], line
    html = (out / "countersigned" / report.with_suffix(".html").name).read_text()
    assert "had moved to version" in html and "models:/fights@champion" in html
    from crnnaudit import AuditLog
    rows = [json.loads(r["payload"]) for r in AuditLog().rows() if r["kind"] in ("review", "countersign")]
    assert [(r["model_uri"], r["model_version"], r["model_sha256"], r["alias_version_at_signing"]) for r in rows] == [
        ("models:/fights@champion", fights["v1"], sha256_file(fights["a"]), fights["v1"]),
        ("models:/fights@champion", fights["v1"], sha256_file(fights["a"]), fights["v2"])]
    tags = server.tags("fights", fights["v1"])
    assert tags["crnnaudit.last_report"] == body["report_id"] and tags["crnnaudit.last_outcome"]
    assert "crnnaudit.last_report" not in server.tags("fights", fights["v2"]), "tags go to the version reviewed"


def test_a_run_uses_one_version_throughout_and_survives_the_server_going_down(tmp_path, sample_clips, monkeypatch):
    """The alias moves and then the server goes down while the run is under way: every clip is
    scored by the version pinned at the start, and the run is sealed; the tags cannot be written,
    and the summary says so."""
    from crnnaudit import build_instructions, run_batch
    s = MlflowServer(tmp_path / "mlflow").start()
    try:
        a, b = tmp_path / "a" / "m.keras", tmp_path / "b" / "m.keras"
        for path, seed in ((a, 0), (b, 1)):
            path.parent.mkdir()
            arch.td_cnn_gru_softmax(t=8, s=32, classes=4, seed=seed).save(path)
        ModelCard(name="m", classes=CLASSES, stride=8).write(a.parent / "m.card.json")
        v1, v2 = s.register("runs", a, a.parent / "m.card.json"), s.register("runs", b)
        s.alias("runs", "champion", v1)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", s.url)
        monkeypatch.setenv("CRNNAUDIT_REGISTRY_MODELS", "*")
        monkeypatch.setenv("CRNNAUDIT_REGISTRY_TAGS", "1")
        clips = tmp_path / "clips"
        clips.mkdir()
        for c in sample_clips:
            shutil.copy(c, clips / c.name)
        labels = tmp_path / "labels.csv"
        labels.write_text("clip,label\n" + "".join(f"{c.name},{c.name.split('_')[0]}\n" for c in sample_clips))

        def progress(done, total, rate):
            if done == 1:
                s.alias("runs", "champion", v2)
                s.stop()
        summary = run_batch("models:/runs@champion", [str(clips)], tmp_path / "run", progress=progress, labels=labels)
    finally:
        s.stop()
    assert summary["clips"] == len(sample_clips) and summary["failed"] == 0
    assert summary["model_registry"]["version"] == v1 and summary["model_sha256"] == sha256_file(a)
    assert summary["registry_tags"].startswith("not written: models:/runs@champion: the registry at")
    model_json = json.loads((tmp_path / "run" / "model.json").read_text())
    assert model_json["registry"]["version"] == v1 and model_json["sha256"] == sha256_file(a)
    from crnnaudit.dataset.instructions import sections
    (system,) = [lines for title, lines in sections(build_instructions(tmp_path / "run")) if title == "The system"]
    assert system[1] == (f"From the model registry: runs version {v1}, opened as models:/runs@champion (the alias "
                         f"champion pointed to it then) on {model_json['registry']['pinned_at'][:10]}; file SHA-256 "
                         f"{sha256_file(a)}.")


def test_the_command_line_takes_registry_uris(fights, registry_env, sample_clips, capsys, tmp_path):
    assert main(["info", "models:/fights@champion"]) == 0
    assert f"models:/fights@champion (version {fights['v1']})" in capsys.readouterr().out
    assert main(["score", "models:/fights@challenger", str(sample_clips[0]), "--out", str(tmp_path / "t.csv")]) == 0
    capsys.readouterr()
    assert main(["info", "models:/fights@gone"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "models:/fights@gone" in err and "not found in the registry" in err


def test_calibrate_stores_the_card_it_writes_back_in_the_registry(registry_env, server, tmp_path, sample_clips,
                                                                  capsys):
    path = tmp_path / "calib.keras"
    arch.td_cnn_gru_softmax(t=8, s=32, classes=4, seed=4).save(path)
    ModelCard(name="calib", classes=CLASSES, stride=8).write(tmp_path / "calib.card.json")
    uri = f"models:/fights/{server.register('fights', path, tmp_path / 'calib.card.json')}"
    assert main(["calibrate", uri, *map(str, sample_clips)]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert f"stored in the registry as files of {uri}" in out
    stored = json.loads(next(server.artifacts.rglob("calib.card.json")).read_text())
    assert stored["calibration"] and stored["model_sha256"] == sha256_file(path)
    assert load_model(registry.resolve(uri).path).feature_stats is not None  # a new pin reads the calibration


def test_an_admin_card_is_stored_back_as_an_artifact_of_the_version(registry_env, server, tmp_path):
    path = tmp_path / "nocard.keras"
    arch.td_cnn_gru_softmax(t=8, s=32, classes=4, seed=3).save(path)
    uri = f"models:/fights/{server.register('fights', path)}"
    pin = registry.resolve(uri)
    assert load_model(pin.path).card.classes != CLASSES
    card = pin.path.with_name("nocard.card.json")
    ModelCard(name="fights", version="3", classes=CLASSES, stride=8, model_sha256=pin.sha256).write(card)
    assert registry.store_card(pin, card) == "nocard.card.json"
    (stored,) = [p for p in server.artifacts.rglob("nocard.card.json")]
    assert json.loads(stored.read_text())["classes"] == CLASSES
    card.unlink()
    again = registry.resolve(uri)  # a new review reads the card the registry now holds
    assert load_model(again.path).card.classes == CLASSES


def test_a_review_pins_the_configured_alias_as_it_starts_and_says_why_when_it_cannot(fights, registry_env, server,
                                                                                  sample_clips, monkeypatch):
    from test_review import Who

    from crnnaudit.review import ReviewSession, World
    world = World(default_model="models:/fights@champion", samples=sample_clips[0].parent)
    review = ReviewSession(world, Who("ana"))
    assert review.model().registry["version"] == fights["v1"]
    server.alias("fights", "champion", fights["v2"])
    try:
        review.settle()
        assert review.model().sha256 == sha256_file(fights["a"]), "the review keeps the version it started on"
        review.use_model(None)  # back to the configured model: pinned again, now
        assert review.model().registry["version"] == fights["v2"]
        review.use_model(f"models:/fights/{fights['v1']}")  # a URI given to the service is pinned as it is taken
        assert review.model().registry["uri"] == f"models:/fights/{fights['v1']}"
        assert review.state.model_path == str(registry.pin_of(review.state.model_path).path)
    finally:
        server.alias("fights", "champion", fights["v1"])
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    down = World(default_model="models:/fights@champion", samples=sample_clips[0].parent)
    with pytest.raises(RegistryError, match=r"models:/fights@champion: the registry at http://127.0.0.1:9 does not answer"):
        ReviewSession(down, Who("bo"))  # the sign-in opens the model, as with a configured file that cannot be read


def test_a_registry_that_does_not_answer_at_signing_refuses_the_report_and_keeps_the_review(tmp_path, sample_clips,
                                                                                            monkeypatch):
    from crnnaudit.review import ReviewSession, World
    from test_review import Who
    s = MlflowServer(tmp_path / "mlflow").start()
    try:
        path = tmp_path / "m.keras"
        arch.td_cnn_gru_softmax(t=8, s=32, classes=4).save(path)
        ModelCard(name="m", classes=CLASSES, stride=8).write(tmp_path / "m.card.json")
        s.alias("signing", "champion", s.register("signing", path, tmp_path / "m.card.json"))
        monkeypatch.setenv("MLFLOW_TRACKING_URI", s.url)
        monkeypatch.setenv("CRNNAUDIT_REGISTRY_MODELS", "signing")
        review = ReviewSession(World(default_model="models:/signing@champion", samples=sample_clips[0].parent),
                               Who("ana", "auditor"))
        review.settle()
        review.explain()
        review.draft(decision="escalate", reason="", language="en", blur=False)
        before, out = review.state, tmp_path / "report"
        s.stop()
        with pytest.raises(RegistryError, match=r"models:/signing@champion: the registry at .* does not answer"):
            review.build_report(out=out)
        assert review.state == before and not (out.exists() and any(out.iterdir())), "nothing written, review kept"
        s.start()
        report = review.build_report(out=out)
        body = json.loads(Path(report["files"]["json"]).read_text())["report"]
        assert body["model"]["registry"]["at_signing"]["alias_version"] == "1"
    finally:
        s.stop()


def test_a_pinned_version_signs_only_while_its_name_is_allowed(fights, registry_env, monkeypatch):
    from crnnaudit import allowed_model
    pin = registry.resolve("models:/fights@champion")
    assert allowed_model(pin.path) == pin.path.resolve()
    monkeypatch.setenv("CRNNAUDIT_REGISTRY_MODELS", "empty")  # an admin takes the name off the list
    with pytest.raises(RegistryError, match="'fights' is not among those that may be audited"):
        allowed_model(pin.path)
    stray = pin.path.parent.parent / "stray.keras"  # a file in the pins folder that no pin names
    stray.write_bytes(pin.path.read_bytes())
    with pytest.raises(ModelError, match="load only from the models folders"):
        allowed_model(stray)


def test_reviews_of_one_version_share_its_loaded_model_and_each_keeps_its_own_pin(fights, registry_env, sample_clips,
                                                                                  tmp_path):
    """A second review of the configured alias downloads the version again, finds the same bytes
    and leaves the pinned files as they were: the server's model cache (keyed by the files'
    modification times) serves the model loaded for the first review instead of loading (and
    sandbox-checking) it again. Each review still says when it pinned the version: its own
    report carries its own pin's time, not the shared model's."""
    import time

    from test_review import Who

    from crnnaudit.review import ReviewSession, World
    from crnnaudit.review.work import registry_pin
    world = World(default_model="models:/fights@champion", samples=sample_clips[0].parent)
    first = ReviewSession(world, Who("ana", "auditor"))
    model, pinned = first.model(), Path(first.state.model_path)
    stamps = {p.name: p.stat().st_mtime_ns for p in (pinned, pinned.with_name("fights.card.json"))}
    time.sleep(1.1)  # pins record seconds
    second = ReviewSession(world, Who("bo", "auditor"))
    assert second.state.model_path == str(pinned) and second.model() is model, "one load for both reviews"
    assert {p.name: p.stat().st_mtime_ns for p in (pinned, pinned.with_name("fights.card.json"))} == stamps
    assert first.state.model_pinned_at < second.state.model_pinned_at
    assert [registry_pin(r)["pinned_at"] for r in (first, second)] == [first.state.model_pinned_at,
                                                                       second.state.model_pinned_at]
    assert registry_pin(second)["sha256"] == model.registry["sha256"] == sha256_file(fights["a"])
    # the second review's report: the shared model was loaded (and its own pin read) for the first
    second.settle()
    second.explain()
    second.draft(decision="escalate", reason="", language="en", blur=False, checks=False)
    body = json.loads(Path(second.build_report(out=tmp_path / "r")["files"]["json"]).read_text())["report"]
    assert body["model"]["registry"]["pin"]["pinned_at"] == second.state.model_pinned_at
    assert body["facts"]["model"]["registry"]["pinned_on"] == second.state.model_pinned_at[:10]


def test_random_walks_over_registry_models_keep_each_review_on_its_own_pin(fights, registry_env, server,
                                                                           sample_clips):
    """Sequences nobody wrote by hand: reviews pick registry URIs, sign in again, explain, while
    the alias moves. After each step the review holds the version its last pin named (an oracle
    kept here from the moves), its own pin's time, and the model the server loaded once for that
    pinned file (the same object every time: an unchanged version is never loaded again)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from test_review import Who

    from crnnaudit.review import ReviewSession, World, violations
    from crnnaudit.review.work import registry_pin
    v1, v2 = fights["v1"], fights["v2"]
    sha = {v1: sha256_file(fights["a"]), v2: sha256_file(fights["b"])}
    # four pinned files at most (the champion alias at either version, each version by number): the
    # world's model cache holds four, so nothing is evicted and each file must load exactly once
    step = st.one_of(st.tuples(st.just("use"), st.sampled_from([None, "models:/fights@champion",
                                                                f"models:/fights/{v1}", f"models:/fights/{v2}"])),
                     st.tuples(st.just("move"), st.sampled_from([v1, v2])),
                     st.tuples(st.just("sign_in"), st.sampled_from(["ana", "bo"])),
                     st.tuples(st.just("explain"), st.none()))
    loaded: dict[str, object] = {}
    world = World(default_model="models:/fights@champion", samples=sample_clips[0].parent)

    @settings(max_examples=8, derandomize=True, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(walk=st.lists(step, min_size=4, max_size=10))
    def walk_once(walk):
        champion = v1
        server.alias("fights", "champion", champion)
        review = ReviewSession(world, Who("ana"))
        expected = champion
        try:
            for verb, arg in walk:
                if verb == "move":
                    server.alias("fights", "champion", arg)
                    champion = arg
                elif verb == "use":
                    review.use_model(arg)
                    expected = champion if arg in (None, "models:/fights@champion") else arg.rsplit("/", 1)[1]
                elif verb == "sign_in":
                    review.sign_in(Who(arg))
                    expected = champion
                else:
                    review.settle()
                    review.explain()
                review.settle()
                s, model = review.state, review.model()
                assert violations(s, review) == [], (verb, arg, violations(s, review))
                assert (model.registry["version"], model.sha256) == (expected, sha[expected]), (verb, arg)
                pin = registry_pin(review)
                assert pin["pinned_at"] == s.model_pinned_at and pin["version"] == expected
                assert loaded.setdefault(s.model_path, model) is model, f"{s.model_path} was loaded again"
                assert registry.pin_of(s.model_path).sha256 == sha[expected]
        finally:
            server.alias("fights", "champion", v1)

    walk_once()
    assert 1 <= len(loaded) <= 4
