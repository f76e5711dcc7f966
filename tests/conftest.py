import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

import av  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from architectures import ARCHITECTURES  # noqa: E402

VTEST = ROOT / "tests" / "data" / "vtest.avi"  # OpenCV sample data; see tests/data/README.md


def pytest_collection_modifyitems(items):
    """Tests marked ``first`` (each many minutes on one core) run before the rest: with the
    Makefile's two workers (whole files each) they start at once, and the other worker takes the
    remaining files beside them rather than after them."""
    items.sort(key=lambda item: item.get_closest_marker("first") is None)  # stable: the rest keep their order


@pytest.fixture(scope="session")
def signing_key_file(tmp_path_factory):
    """The installation's Ed25519 key for the suite, made the way an operator makes one."""
    from crnnaudit.evidence.keys import init_key
    path = tmp_path_factory.mktemp("keys") / "signing.pem"
    init_key(path)
    return path


@pytest.fixture(scope="session", autouse=True)
def _suite_home(signing_key_file, tmp_path_factory):
    """Fixtures shared by a module (a batch run, say) are made before any test's own data folder:
    they get the suite's key and a data folder of the session's (a dataset run is sealed and
    logged when written)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CRNNAUDIT_HOME", str(tmp_path_factory.mktemp("suite-home")))
        mp.setenv("CRNNAUDIT_SIGNING_KEY_FILE", str(signing_key_file))
        for name in ("CRNNAUDIT_SIGNING_KEY", "CRNNAUDIT_TRUSTED_KEYS", "CRNNAUDIT_WITNESS"):
            mp.delenv(name, raising=False)
        yield


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch, signing_key_file):
    """Every test gets its own data folder (cache, audit log), and the suite's signing key,
    kept outside it as an operator would; no witness and nothing pinned unless a test says so."""
    monkeypatch.setenv("CRNNAUDIT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CRNNAUDIT_SIGNING_KEY_FILE", str(signing_key_file))
    for name in ("CRNNAUDIT_SIGNING_KEY", "CRNNAUDIT_TRUSTED_KEYS", "CRNNAUDIT_WITNESS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def vtest():
    if not VTEST.exists():
        pytest.fail(f"the real test clip is missing: {VTEST}")
    return VTEST


@pytest.fixture(scope="session")
def saved_models(tmp_path_factory):
    """Every architecture, built once and saved as .keras and .h5."""
    folder = tmp_path_factory.mktemp("models")
    out = {}
    for name, build in ARCHITECTURES.items():
        model = build()
        for suffix in (".keras", ".h5"):
            path = folder / f"{name}{suffix}"
            model.save(path)
            out[(name, suffix)] = path
    return out


def write_video(path, frames, fps=10, codec="libx264", pix_fmt="yuv420p"):
    """Write RGB (or grey) uint8 frames with PyAV in the container the suffix names."""
    path = Path(path)
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = pix_fmt
        fmt = "gray" if frames[0].ndim == 2 else "rgb24"
        for img in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format=fmt)):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@pytest.fixture(scope="session")
def sample_clips(tmp_path_factory):
    from crnnaudit.demo import synthesize
    return synthesize(tmp_path_factory.mktemp("clips"), count=4, seed=7, frames=24)


DEMO_HOME = ROOT / ".cache" / "demo-home"


@pytest.fixture(scope="session")
def full_demo():
    """The demo as a new user gets it (the shipped weights assembled, or rebuilt when they do
    not check out), once per checkout in ``.cache/demo-home``. Returns that data folder. The
    suite's workers (pytest-xdist) take turns: one assembles, the others find it made."""
    import fcntl
    old = os.environ.get("CRNNAUDIT_HOME")
    os.environ["CRNNAUDIT_HOME"] = str(DEMO_HOME)
    DEMO_HOME.parent.mkdir(parents=True, exist_ok=True)
    try:
        from crnnaudit.lab import ready_demo as ensure_demo
        with open(DEMO_HOME.parent / "demo-home.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            ensure_demo()
    finally:
        if old is None:
            os.environ.pop("CRNNAUDIT_HOME", None)
        else:
            os.environ["CRNNAUDIT_HOME"] = old
    return DEMO_HOME


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server for the session (tests/pg.py); ``postgres()`` gives a fresh database URL."""
    from pg import postgres_server
    try:
        with postgres_server() as new_database:
            yield new_database
    except RuntimeError as e:
        pytest.fail(str(e))


@pytest.fixture(params=["sqlite", "postgresql"])
def log_url(request, tmp_path):
    """The audit log's database: a SQLite file, or a fresh database on a real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'audit.sqlite'}"
    return request.getfixturevalue("postgres")()
