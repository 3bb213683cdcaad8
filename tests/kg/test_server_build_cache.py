"""The Neo4j launcher's build cache: Maven runs once per machine, and again only when the Maven
project changes or a jar of its classpath is gone."""

import os
import shutil

import pytest

from kg import server
from kg.errors import StoreError


@pytest.fixture
def project_copy(tmp_path, monkeypatch):
    """A copy of ``kg/neo4j_jars`` as the launcher's Maven projects, and an empty cache."""
    jars = tmp_path / "neo4j_jars"
    shutil.copytree(server.JARS, jars)
    monkeypatch.setattr(server, "JARS", jars)
    monkeypatch.setenv("GRAPHREC_CACHE_DIR", str(tmp_path / "cache"))
    return jars


def test_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GRAPHREC_CACHE_DIR", str(tmp_path / "mine"))
    assert server.build_cache() == tmp_path / "mine"
    monkeypatch.delenv("GRAPHREC_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert server.build_cache() == tmp_path / "xdg" / "graphrec"


def test_digest_changes_with_any_file_of_the_project(project_copy):
    before = server._project_digest("server")
    assert before == server._project_digest("server")  # stable
    assert before != server._project_digest("shell")
    main = next(project_copy.joinpath("server").rglob("*.java"))
    main.write_text(main.read_text() + "\n// changed\n")
    assert server._project_digest("server") != before


def test_an_intact_build_is_reused_and_a_broken_one_rebuilt(project_copy, tmp_path, monkeypatch):
    builds: list = []

    def fake_build(project, out):  # stands in for `mvn package`: writes what Maven writes
        builds.append(project)
        out.mkdir(parents=True, exist_ok=True)
        jar = tmp_path / f"{project}-{len(builds)}.jar"
        jar.write_bytes(b"jar")
        (out / "classpath.txt").write_text(str(jar))
        (out / "graphrec-neo4j-server-0.1.0.jar").write_bytes(b"main")

    monkeypatch.setattr(server, "_maven_build", fake_build)
    first = server._maven_classpath("shell")
    assert builds == ["shell"]
    assert server._maven_classpath("shell") == first  # a second home: no second build
    assert builds == ["shell"]

    os.remove(first)  # a jar left the local Maven repository: resolve again
    second = server._maven_classpath("shell")
    assert builds == ["shell", "shell"] and second != first and os.path.exists(second)

    server_cp = server._maven_classpath("server").split(os.pathsep)
    assert builds[-1] == "server"
    assert server_cp[0].endswith("graphrec-neo4j-server-0.1.0.jar")  # the main comes first
    digest = server._project_digest("server")
    assert server_cp[0].startswith(str(server.build_cache() / "neo4j" / f"server-{digest}"))


def test_classpath_check_rejects_missing_and_empty_files(tmp_path):
    cp = tmp_path / "classpath.txt"
    assert not server._classpath_intact(cp)
    cp.write_text("")
    assert not server._classpath_intact(cp)
    jar = tmp_path / "a.jar"
    jar.write_bytes(b"x")
    cp.write_text(f"{jar}{os.pathsep}{tmp_path / 'gone.jar'}")
    assert not server._classpath_intact(cp)
    cp.write_text(str(jar))
    assert server._classpath_intact(cp)


def test_class_sharing_dumps_once_then_maps_the_archive(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHREC_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "cache" / "neo4j").mkdir(parents=True)
    jdk = tmp_path / "jdk"
    (jdk / "bin").mkdir(parents=True)
    (jdk / "lib" / "server").mkdir(parents=True)
    java = jdk / "bin" / "java"
    java.write_text("")
    # no base archive in the JDK: a dump would stop the JVM from starting, so no option
    assert server._class_sharing(str(java), "a.jar") == ([], None)

    (jdk / "lib" / "server" / "classes.jsa").write_bytes(b"base")
    options, dump = server._class_sharing(str(java), "a.jar")
    assert options == [f"-XX:ArchiveClassesAtExit={dump}"] and not dump.exists()
    state = server.ServerState(uri="bolt://127.0.0.1:1", pid=1, port=1, home=str(tmp_path),
                               auth=False, started_at=0.0, class_dump=str(dump))
    dump.write_bytes(b"partial")
    server._keep_class_dump(state, clean_exit=False)  # killed: a dump may be cut off
    assert not dump.exists() and server._class_sharing(str(java), "a.jar")[1] is not None

    dump.write_bytes(b"archive")
    server._keep_class_dump(state, clean_exit=True)
    archive = server.archive_of(dump)
    assert archive.read_bytes() == b"archive" and not dump.exists()
    assert server._class_sharing(str(java), "a.jar") == ([f"-XX:SharedArchiveFile={archive}"],
                                                         None)
    other, other_dump = server._class_sharing(str(java), "b.jar")  # another classpath
    assert other_dump is not None and other_dump.name.split(".")[0] != archive.name.split(".")[0]
    monkeypatch.setenv(server.CLASS_SHARING_ENV, "off")
    assert server._class_sharing(str(java), "a.jar") == ([], None)


def test_an_unwritable_cache_is_a_clear_error(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("GRAPHREC_CACHE_DIR", str(blocker / "cache"))
    with pytest.raises(StoreError, match="cannot create the build cache.*GRAPHREC_CACHE_DIR"):
        server._maven_classpath("server")
