"""Lifecycle of the project's local Neo4j 5.26 Community server (Bolt on 127.0.0.1).

The server is the Maven project in ``kg/neo4j_jars/server``: Neo4j's jars come from Maven
Central and a tiny Java main (``graphrec.neo4j.LocalServer``) serves Bolt with a capped heap.
All state of one instance lives under its *home* folder::

    <home>/data/             the Neo4j store (survives restarts; mode 0700)
    <home>/store.json        the store's authentication mode, fixed at its first start
    <home>/server.json       uri, pid, port, auth flag of the running instance (no secrets)
    <home>/server.log        the server's stdout/stderr
    <home>/.start.lock       held (flock) while a start or stop is in progress

The compiled main and the resolved classpaths are built once per machine, not per home: Maven's
output lives in the build cache (:func:`build_cache`, ``$GRAPHREC_CACHE_DIR`` or
``~/.cache/graphrec``) under a name that hashes the Maven project's files, so a changed pom or
main is rebuilt, and a classpath whose jars left the local Maven repository is resolved again.
The same cache keeps a class-data sharing archive of the server's classes, written by the first
server that stops cleanly and mapped by every later start (:func:`_class_sharing`).

:func:`start` is idempotent (a second call finds the running server and returns it) and waits
until Bolt answers; two starts at once are serialised by a lock, so the second one finds the
server the first one started. :func:`stop` shuts the DBMS down cleanly (SIGTERM, then SIGKILL
after a grace period), and signals a pid only after checking that it is this home's JVM (its
command line names the main class and this home's data folder), so a stale ``server.json``
never kills an unrelated process. A store first started with authentication is not served
without it unless the caller says so (``allow_no_auth``). Several instances may run side by side
with different homes and ports.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from kg.errors import StoreError
from kg.files import atomic_write

logger = logging.getLogger(__name__)

JARS = Path(__file__).parent / "neo4j_jars"
MAIN_CLASS = "graphrec.neo4j.LocalServer"
SHELL_MAIN_CLASS = "org.neo4j.shell.Main"
DEFAULT_PORT = 7687
AUTH_PASSWORD_ENV = "GRAPHREC_NEO4J_AUTH_PASSWORD"  # read by the Java main only
#: set to ``off`` to start the JVM without class-data sharing (see :func:`_class_sharing`)
CLASS_SHARING_ENV = "GRAPHREC_NEO4J_CLASS_SHARING"


@dataclass(frozen=True)
class ServerState:
    """What ``server.json`` records about a running instance (never a password)."""

    uri: str
    pid: int
    port: int
    home: str
    auth: bool
    started_at: float
    #: where the JVM writes its class-data archive when it exits (first starts only; see
    #: :func:`_class_sharing`); moved into place by :func:`stop`
    class_dump: str | None = None


def _state_file(home: Path) -> Path:
    return Path(home) / "server.json"


# Servers started by this process: polling them through Popen reaps them when they exit, so
# no zombie stays behind and Popen does not warn that its child is still running.
_CHILDREN: dict[int, subprocess.Popen] = {}


def _alive(pid: int) -> bool:
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is None:
            return True
        del _CHILDREN[pid]
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child still answers kill(0); reap it when it is ours
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def _command_line(pid: int) -> str:
    """The command line of ``pid`` ('' when it cannot be read)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace")
    except OSError:
        pass
    try:  # no /proc (macOS): ask ps
        out = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def _ours(state: ServerState) -> bool:
    """Whether ``state.pid`` is alive and is the JVM this home started (not a reused pid)."""
    if not _alive(state.pid):
        return False
    if state.pid in _CHILDREN:
        return True
    cmd = _command_line(state.pid)
    return MAIN_CLASS in cmd and str(Path(state.home) / "data") in cmd


@contextmanager
def _home_lock(home: Path) -> Iterator[None]:
    """Serialise starts and stops of one home (an OS file lock, released on exit or crash)."""
    home.mkdir(parents=True, exist_ok=True)
    with open(home / ".start.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (for throw-away servers: tests, benchmarks)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def build_cache() -> Path:
    """The folder where Maven's output for the Neo4j projects is kept, shared by every home.

    ``$GRAPHREC_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/graphrec``, else
    ``~/.cache/graphrec``.
    """
    if os.environ.get("GRAPHREC_CACHE_DIR"):
        return Path(os.environ["GRAPHREC_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "graphrec"


def _project_digest(project: str) -> str:
    """A short hash of the Maven project ``project``: its pom and every file under ``src``
    (not a ``target`` folder a manual ``mvn`` run may have left)."""
    digest = hashlib.sha256()
    root = JARS / project
    files = [root / "pom.xml", *(p for p in (root / "src").rglob("*") if p.is_file())]
    for path in sorted(p for p in files if p.is_file()):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _classpath_intact(cp_file: Path) -> bool:
    """Whether ``cp_file`` exists and every jar it names is still on disk."""
    if not cp_file.is_file():
        return False
    entries = [e for e in cp_file.read_text().strip().split(os.pathsep) if e]
    return bool(entries) and all(Path(e).exists() for e in entries)


def _maven_classpath(project: str) -> str:
    """Build the Maven project ``project`` (server|shell) once; return its runtime classpath.

    The build lands in :func:`build_cache` under the project's digest; concurrent first starts
    (several homes, several processes) are serialised by a file lock, and the second finds the
    first one's build.
    """
    cache = build_cache() / "neo4j"
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the build cache {cache} ({exc.strerror}); point "
                         "GRAPHREC_CACHE_DIR at a writable folder") from None
    out = cache / f"{project}-{_project_digest(project)}"
    cp_file = out / "classpath.txt"
    with open(cache / f".{project}.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not _classpath_intact(cp_file) or (project == "server"
                                                  and not _server_jars(out)):
                _maven_build(project, out)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    classpath = cp_file.read_text().strip()
    if project == "server":  # the main as a jar: class-data sharing archives only jars
        classpath = f"{_server_jars(out)[-1]}{os.pathsep}{classpath}"
    return classpath


def _server_jars(out: Path) -> list[Path]:
    """The jars Maven packaged the server's main into under ``out`` (sorted; one in practice)."""
    return sorted(out.glob("graphrec-neo4j-server-*.jar"))


def _class_sharing(java: str, classpath: str) -> tuple[list[str], Path | None]:
    """JVM options that share the server's loaded classes between starts, and the dump file.

    The first start of a classpath on a JVM runs with ``-XX:ArchiveClassesAtExit``: the JVM
    writes the classes it loaded to a dump file when it exits, which :func:`stop` moves into
    the build cache; later starts map that archive (``-XX:SharedArchiveFile``) instead of
    parsing and verifying the same jars again, about 2-3 s of a 6-8 s start on a 2-core
    machine. The archive's name hashes the JVM and the classpath, and the JVM itself refuses
    an archive whose jars changed (it then starts without one). A JVM without a base archive
    (``lib/server/classes.jsa``) cannot dump one, so it gets no option at all; neither does
    any JVM when ``$GRAPHREC_NEO4J_CLASS_SHARING`` is ``off``.
    """
    if os.environ.get(CLASS_SHARING_ENV, "").lower() in ("0", "off", "false", "no"):
        return [], None
    java_path = Path(java).resolve()
    if not (java_path.parent.parent / "lib" / "server" / "classes.jsa").is_file():
        return [], None
    key = hashlib.sha256(f"{java_path}\0{java_path.stat().st_mtime_ns}\0{classpath}".encode())
    archive = build_cache() / "neo4j" / f"classes-{key.hexdigest()[:16]}.jsa"
    if archive.is_file():
        return [f"-XX:SharedArchiveFile={archive}"], None
    for stale in archive.parent.glob("classes-*.jsa.*.tmp"):  # from servers never stopped
        if time.time() - stale.stat().st_mtime > 3600:
            stale.unlink(missing_ok=True)
    dump = archive.with_name(f"{archive.name}.{os.getpid()}-{time.time_ns()}.tmp")
    return [f"-XX:ArchiveClassesAtExit={dump}"], dump


def archive_of(dump: str | Path) -> Path:
    """The class-data archive a dump file becomes (dumps are named ``<archive>.<token>.tmp``)."""
    dump = Path(dump)
    return dump.with_name(dump.name.rsplit(".", 2)[0])


def _keep_class_dump(state: ServerState, clean_exit: bool) -> None:
    """Move the class-data dump of a server that exited cleanly into place; drop others."""
    if not state.class_dump:
        return
    dump = Path(state.class_dump)
    archive = archive_of(dump)
    if clean_exit and dump.is_file() and dump.stat().st_size > 0 and not archive.exists():
        os.replace(dump, archive)
    dump.unlink(missing_ok=True)


def _maven_build(project: str, out: Path) -> None:
    """Run ``mvn package`` for ``project`` into ``out`` (replacing a partial earlier build)."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StoreError("Maven (mvn) is not on PATH; install it (apt install maven) so the "
                         "Neo4j jars can be resolved from Maven Central")
    shutil.rmtree(out, ignore_errors=True)
    cmd = [mvn, "-B", "-q", "-f", str(JARS / project / "pom.xml"), f"-Dgraphrec.build={out}",
           "package"]
    logger.info("resolving Neo4j %s jars with Maven into %s (once per machine)", project, out)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not (out / "classpath.txt").is_file():
        tail = (proc.stdout + proc.stderr)[-2000:]
        raise StoreError(f"Maven build of {JARS / project} failed:\n{tail}")


def read_state(home: str | Path) -> ServerState | None:
    """The recorded state of the instance under ``home``, or ``None``."""
    f = _state_file(Path(home))
    if not f.is_file():
        return None
    try:
        return ServerState(**json.loads(f.read_text()))
    except (json.JSONDecodeError, TypeError):
        return None


def status(home: str | Path) -> dict:
    """``{'running': bool, 'bolt': bool, **state}`` for the instance under ``home``."""
    state = read_state(home)
    if state is None:
        return {"running": False, "bolt": False, "home": str(home)}
    running = _ours(state)
    return {**asdict(state), "running": running, "bolt": running and _port_open(state.port)}


def _write_state(home: Path, state: ServerState) -> None:
    atomic_write(_state_file(home), json.dumps(asdict(state), indent=2))


def _wait_for_bolt(proc: subprocess.Popen, port: int, log: Path, timeout: float,
                   password: str | None) -> None:
    """Poll until a Bolt session answers ``RETURN 1`` (or the process dies / time runs out)."""
    import neo4j

    deadline = time.monotonic() + timeout
    auth = ("neo4j", password) if password else None
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise StoreError(f"Neo4j exited with code {proc.returncode} during start; "
                             f"log {log}:\n{tail}")
        if _port_open(port):
            try:
                with neo4j.GraphDatabase.driver(f"bolt://127.0.0.1:{port}", auth=auth) as drv:
                    drv.execute_query("RETURN 1", database_="neo4j")
                return
            except neo4j.exceptions.Neo4jError as exc:  # e.g. still starting databases
                last = exc
            except (neo4j.exceptions.DriverError, OSError) as exc:
                last = exc
        time.sleep(0.25)
    raise StoreError(f"Neo4j did not answer on bolt://127.0.0.1:{port} within {timeout:.0f}s "
                     f"(last error: {last}); see {log}")


def start(home: str | Path, port: int = DEFAULT_PORT, *, password: str | None = None,
          heap: str = "1g", timeout: float = 180.0, java: str | None = None,
          allow_no_auth: bool = False) -> ServerState:
    """Start the local Neo4j under ``home`` unless it already runs; return its state.

    Args:
        home: instance folder (store, logs, build output, state file).
        port: Bolt port on 127.0.0.1.
        password: enable authentication with this password for user ``neo4j`` (handed to the
            JVM through its environment, never on a command line, never logged).
        heap: JVM ``-Xmx``.
        timeout: seconds to wait for Bolt to answer.
        java: the ``java`` executable (default: ``$JAVA_HOME/bin/java`` or ``java`` on PATH).
        allow_no_auth: serve a store that was created with authentication without it.

    Raises:
        StoreError: the port is taken by another process, Maven or Java are missing, the
            store needs authentication and no password was given, or the server did not come
            up (the message carries the end of its log).
    """
    home = Path(home).resolve()
    with _home_lock(home):
        return _start(home, port, password, heap, timeout, java, allow_no_auth)


def _check_auth_mode(home: Path, password: str | None, allow_no_auth: bool) -> None:
    """Keep the store's authentication mode: refuse to serve an authenticated store openly."""
    mode_file = home / "store.json"
    created_with_auth = False
    if mode_file.is_file():
        try:
            created_with_auth = bool(json.loads(mode_file.read_text()).get("auth"))
        except (ValueError, AttributeError):
            created_with_auth = True  # unreadable: assume the safer mode
    if created_with_auth and not password and not allow_no_auth:
        raise StoreError(f"the Neo4j store in {home / 'data'} was created with authentication; "
                         "start it with --auth (password in NEO4J_PASSWORD), or with --no-auth "
                         "to serve it without authentication on purpose")
    atomic_write(mode_file, json.dumps({"auth": bool(password) or (created_with_auth
                                                                   and not allow_no_auth)}))


def _start(home: Path, port: int, password: str | None, heap: str, timeout: float,
           java: str | None, allow_no_auth: bool) -> ServerState:
    current = status(home)
    if current["running"]:
        if current["bolt"]:
            logger.info("Neo4j already running at %s (pid %s)", current["uri"], current["pid"])
            return read_state(home)  # type: ignore[return-value]
        raise StoreError(f"a Neo4j process (pid {current['pid']}) of {home} runs but Bolt does "
                         f"not answer on port {current['port']}; run `graphrec neo4j stop`")
    if _port_open(port):
        raise StoreError(f"port {port} is already in use by another process; choose another "
                         "with --port, or point NEO4J_URI at the server that holds it")
    _check_auth_mode(home, password, allow_no_auth)
    data = home / "data"
    data.mkdir(mode=0o700, exist_ok=True)
    data.chmod(0o700)  # the store's files are the graph itself: owner only
    classpath = _maven_classpath("server")
    java = java or (str(Path(os.environ["JAVA_HOME"]) / "bin" / "java")
                    if os.environ.get("JAVA_HOME") else shutil.which("java"))
    if not java:
        raise StoreError("Java 17+ is needed to run Neo4j; set JAVA_HOME or put java on PATH")
    env = {k: v for k, v in os.environ.items() if k != AUTH_PASSWORD_ENV}
    if password:
        env[AUTH_PASSWORD_ENV] = password
    log = home / "server.log"
    sharing, dump = _class_sharing(java, classpath)
    with log.open("ab") as log_fh:
        proc = subprocess.Popen(
            [java, f"-Xmx{heap}", *sharing, "-cp", classpath, MAIN_CLASS,
             str(home / "data"), str(port)],
            stdout=log_fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            start_new_session=True)
    _CHILDREN[proc.pid] = proc
    state = ServerState(uri=f"bolt://127.0.0.1:{port}", pid=proc.pid, port=port,
                        home=str(home), auth=bool(password), started_at=time.time(),
                        class_dump=str(dump) if dump else None)
    _write_state(home, state)
    try:
        _wait_for_bolt(proc, port, log, timeout, password)
    except BaseException:
        _terminate(proc.pid, grace=10)
        _keep_class_dump(state, clean_exit=False)
        _state_file(home).unlink(missing_ok=True)
        raise
    logger.info("Neo4j up at %s (pid %d)", state.uri, proc.pid)
    return state


def _terminate(pid: int, grace: float) -> bool:
    """SIGTERM ``pid``, wait up to ``grace`` seconds, then SIGKILL. True if it stopped cleanly."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.2)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    while _alive(pid):
        time.sleep(0.1)
    return False


def stop(home: str | Path, grace: float = 60.0) -> bool:
    """Stop the instance under ``home``. Returns False when none was running."""
    home = Path(home).resolve()
    with _home_lock(home):
        state = read_state(home)
        if state is None:
            return False
        was_running = _ours(state)
        if not was_running and _alive(state.pid):
            logger.warning("server.json names pid %d, which is not this home's Neo4j (a stale "
                           "record); not signalling it", state.pid)
        clean = was_running and _terminate(state.pid, grace)
        if was_running and not clean:
            logger.warning("Neo4j (pid %d) did not stop within %.0fs and was killed",
                           state.pid, grace)
        _keep_class_dump(state, clean_exit=clean)
        _state_file(home).unlink(missing_ok=True)
        return was_running


def kill(home: str | Path) -> None:
    """SIGKILL the instance under ``home`` (a crash, for fault-injection tests)."""
    state = read_state(home)
    if state is not None and _ours(state):
        os.kill(state.pid, signal.SIGKILL)
        while _alive(state.pid):
            time.sleep(0.05)
        _keep_class_dump(state, clean_exit=False)


def shell_command(uri: str, user: str | None, database: str | None,
                  extra: list[str]) -> list[str]:
    """The ``java ... org.neo4j.shell.Main`` command line of cypher-shell for ``uri``.

    The password is not on the command line: cypher-shell reads ``NEO4J_PASSWORD`` itself.
    """
    classpath = _maven_classpath("shell")
    java = shutil.which("java") or "java"
    cmd = [java, "-cp", classpath, SHELL_MAIN_CLASS, "-a", uri]
    if user:
        cmd += ["-u", user]
    if database:
        cmd += ["-d", database]
    return cmd + list(extra)
