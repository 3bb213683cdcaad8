#!/usr/bin/env bash
# README command (2): install, start a real Neo4j 5.26 (jars from Maven Central) through the
# project's own launcher, run the whole test suite against it, stop it. Fails if any test is
# skipped, so the Neo4j tests cannot silently drop out.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export GRAPHREC_HOME="${GRAPHREC_HOME:-$PWD/.graphrec/test}"
export GRAPHREC_TEST_PORT_BASE="${GRAPHREC_TEST_PORT_BASE:-17700}"
# a fresh secret for the auth-enabled server of the tests, unless one is given
export GRAPHREC_TEST_NEO4J_PASSWORD="${GRAPHREC_TEST_NEO4J_PASSWORD:-$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(18))')}"
unset NEO4J_URI NEO4J_USER NEO4J_PASSWORD NEO4J_DATABASE
# the tests' Neo4j servers live for seconds to minutes: the JVM's quick (C1) compiler alone
# starts and loads them in about half the time when the other core is busy (docs/benchmarks.md,
# "Starting and stopping the Neo4j server"); JAVA_TOOL_OPTIONS reaches every JVM started below
export JAVA_TOOL_OPTIONS="${JAVA_TOOL_OPTIONS:+$JAVA_TOOL_OPTIONS }-XX:TieredStopAtLevel=1"
.venv/bin/graphrec neo4j start --port "$GRAPHREC_TEST_PORT_BASE"
trap '.venv/bin/graphrec neo4j stop || true' EXIT
NEO4J_URI="$(.venv/bin/graphrec neo4j status --uri)"
export NEO4J_URI
.venv/bin/ruff check graphrec kg loaders tests benchmarks notebooks
# two workers on the machine's two cores, one thread each (OpenMP threads of two processes
# sharing two cores spin against each other, which made some tests 10x slower);
# GRAPHREC_TEST_WORKERS=0 runs the suite in one process with every thread
workers="${GRAPHREC_TEST_WORKERS:-2}"
if [ "$workers" != 0 ]; then export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"; fi
.venv/bin/python -m pytest -ra -p no:cacheprovider -n "$workers" --dist loadgroup "$@" \
  | tee "$GRAPHREC_HOME/pytest.log"
status=${PIPESTATUS[0]}
if grep -qE '^SKIPPED|[0-9]+ skipped' "$GRAPHREC_HOME/pytest.log"; then
  echo "error: some tests were skipped; every test, Neo4j ones included, must run" >&2
  exit 1
fi
exit "$status"
