#!/usr/bin/env bash
# Install llama-cpp-python into a venv from a wheel compiled once per (version, CMAKE_ARGS).
#
#   scripts/llama-wheel.sh PYTHON "llama-cpp-python[server]==0.3.36" "CMAKE ARGS..."
#
# The wheel lives in $TUTOR_WHEEL_CACHE (default ~/.cache/stack-tutor/wheels/<key>/), where <key> is a
# hash of the requirement and the CMake flags, so a rebuilt venv on the same machine installs it in
# seconds, and a wheel built with other flags (another CPU) is never reused. A fresh machine compiles it
# (~5-13 min on 2 cores, depending on the CPU) and prints a progress line every 30 s while it does.
set -euo pipefail
PY="$1"; REQ="$2"; FLAGS="$3"
NAME="${REQ%%[*}"; NAME="${NAME%%=*}"; VERSION="${REQ##*==}"
CACHE="${TUTOR_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/stack-tutor/wheels}"
KEY=$(printf '%s\n%s\n%s\n' "$REQ" "$FLAGS" "$("$PY" -c 'import sys,platform;print(sys.version_info[:2],platform.machine())')" | sha256sum | cut -c1-16)
DIR="$CACHE/$KEY"
PIP=("$PY" -m pip --disable-pip-version-check)

if ! ls "$DIR"/*.whl >/dev/null 2>&1; then
  mkdir -p "$CACHE"
  TMP=$(mktemp -d "$CACHE/.build-XXXXXX")
  LOG="$TMP/build.log"
  echo "Compiling $NAME $VERSION for this CPU (CMAKE_ARGS: ${FLAGS:-none})."
  echo "  This happens once per machine: about 5 min on a 2-core AVX-512 CPU, about 13 min on AVX2-only."
  echo "  The wheel is kept in $DIR for the next venv. Build log: $LOG"
  start=$(date +%s)
  CMAKE_ARGS="$FLAGS" "${PIP[@]}" wheel -q --no-deps --no-cache-dir -w "$TMP" "$NAME==$VERSION" >"$LOG" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 5
    el=$(( $(date +%s) - start ))
    if (( el % 30 < 5 )); then echo "  … still compiling $NAME: $((el / 60)) min $((el % 60)) s elapsed"; fi
  done
  if ! wait "$pid"; then
    echo "Error: compiling $NAME failed; the last lines of $LOG:" >&2
    tail -n 30 "$LOG" >&2
    rm -rf "$TMP"
    exit 1
  fi
  mkdir -p "$DIR"
  mv "$TMP"/*.whl "$DIR"/
  rm -rf "$TMP"
  echo "  compiled in $(( $(date +%s) - start )) s."
else
  echo "Using the cached $NAME wheel for these CMake flags ($DIR)."
fi
# The extras and dependencies come from PyPI; the compiled package only from the cache (never rebuilt here).
"${PIP[@]}" install -q --find-links "$DIR" --only-binary "$NAME" "$REQ"
