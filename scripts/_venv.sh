# Sourced by scripts/run and scripts/test: make ./.venv with DropTrack and its extras installed.
# Re-installs only when pyproject.toml or constraints/dev.txt changed since the last install.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PYTHON="${PYTHON:-python3}"

# True when the last install was of this pyproject.toml with at least these extras
# (so ./scripts/run after ./scripts/test installs nothing again).
stamp_covers() {
    local stamp="$1" hash="$2" wanted="$3" have_hash have_extras extra
    [ -f "$stamp" ] || return 1
    read -r have_hash have_extras < "$stamp" || return 1
    [ "$have_hash" = "$hash" ] || return 1
    for extra in ${wanted//,/ }; do
        case ",$have_extras," in *",$extra,"*) ;; *) return 1 ;; esac
    done
}

ensure_venv() {
    local extras="$1"
    if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        echo "DropTrack needs Python 3.11 or newer as '$PYTHON' (set PYTHON=...)" >&2
        exit 1
    fi
    if [ ! -x "$VENV/bin/python" ]; then
        if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
            echo "python venv module missing: installing python3-venv" >&2
            apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
            "$PYTHON" -m venv "$VENV"
        fi
    fi
    local stamp="$VENV/.droptrack-installed"
    local hash
    hash="$(cat "$ROOT/pyproject.toml" "$ROOT/constraints/dev.txt" | sha256sum | cut -d' ' -f1)"
    if ! stamp_covers "$stamp" "$hash" "$extras"; then
        echo "installing DropTrack and its dependencies into $VENV" >&2
        "$VENV/bin/python" -m pip install --quiet --upgrade pip
        # Pinned (constraints/dev.txt, made by scripts/lock): an upstream release cannot turn
        # CI red on unchanged code.
        "$VENV/bin/python" -m pip install --quiet -c "$ROOT/constraints/dev.txt" -e "$ROOT[$extras]"
        echo "$hash $extras" > "$stamp"
    fi
}
