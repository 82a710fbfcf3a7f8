#!/usr/bin/env bash
# Installs what the appliance needs on Debian, only when something is missing.
#
#   Appliance/install-deps.sh            build/run: libsqlite3-dev libssl-dev libzstd-dev poppler-utils (pdftotext)
#   Appliance/install-deps.sh --test     + curl sqlite3, python3-venv if needed, and a virtualenv in
#                                          .build-py/venv with Tests/integration/requirements.txt
#   Appliance/install-deps.sh --bench    + wrk nginx sqlite3 curl redis-server time, and a virtualenv
#                                          in .build-py/bench with Tests/bench/requirements.txt (RQ)
#
# Idempotent and silent when everything is present (a second run takes well under a second).
# `apt-get update` runs at most once, and only when a package is missing. No version pins:
# Debian's current packages are what the appliance is tested against.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
want_test=0
want_bench=0
for arg in "$@"; do
    case "$arg" in
        --test) want_test=1 ;;
        --bench) want_bench=1 ;;
        -h|--help) sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install-deps: unknown option: $arg" >&2; exit 2 ;;
    esac
done

say() { echo "install-deps: $*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        say "need root (or sudo) to run: $*"
        exit 1
    fi
}

# The python that builds the test virtualenv: the first python3 on PATH whose venv module
# works (pyenv's on the development image), else Debian's.
find_python() {
    local candidate
    for candidate in "$(command -v python3 || true)" /usr/bin/python3; do
        if [ -n "$candidate" ] && [ -x "$candidate" ] \
            && "$candidate" -c 'import venv, ensurepip' >/dev/null 2>&1; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

packages=(libsqlite3-dev libssl-dev libzstd-dev poppler-utils)
if [ "$want_test" -eq 1 ] || [ "$want_bench" -eq 1 ]; then
    packages+=(curl sqlite3)
    if ! find_python >/dev/null; then
        packages+=(python3 python3-venv)
    fi
fi
if [ "$want_bench" -eq 1 ]; then
    packages+=(wrk nginx sqlite3 curl redis-server time)
fi

# One dpkg-query for all of them; a package is present when its status is "install ok installed".
missing=()
installed="$(dpkg-query -W -f='${Package} ${Status}\n' "${packages[@]}" 2>/dev/null || true)"
for pkg in "${packages[@]}"; do
    if ! grep -q "^${pkg} install ok installed$" <<<"$installed"; then
        case " ${missing[*]-} " in *" $pkg "*) ;; *) missing+=("$pkg") ;; esac
    fi
done

if [ "${#missing[@]}" -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ensure_venv DIR REQUIREMENTS: a virtualenv at DIR with the packages of REQUIREMENTS.
# Ready when its python still runs (pyenv versions come and go) and it was set up from the
# current requirements file.
ensure_venv() {
    local venv="$1" requirements="$2" stamp="$1/.ats-requirements" python
    if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c '' >/dev/null 2>&1 \
        && [ -f "$stamp" ] && cmp -s "$stamp" "$requirements"; then
        return 0
    fi
    python="$(find_python)" || { say "no python3 with a working venv module"; exit 1; }
    say "creating $venv with $python and installing $(grep -v '^#' "$requirements" | xargs)"
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$stamp"
}

if [ "$want_test" -eq 1 ]; then
    ensure_venv "$repo_root/.build-py/venv" "$repo_root/Tests/integration/requirements.txt"
fi
if [ "$want_bench" -eq 1 ]; then
    ensure_venv "$repo_root/.build-py/bench" "$repo_root/Tests/bench/requirements.txt"
fi
