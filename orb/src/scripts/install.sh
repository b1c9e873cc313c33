#!/bin/sh
# Installs ferry for the orb's install command, on an executor of the
# user's own: the archive of release INSTALL_VERSION for this machine's OS
# and CPU, from the project's GitHub release, checked against the release's
# checksums.txt (SHA-256) before anything is unpacked, into
# PARAM_INSTALL_DIR, which later steps find on the PATH.
#
# INSTALL_VERSION is set by the command, not by the user: a released orb
# names its own version (hack/release/pin writes it), so orb X.Y.Z installs
# ferry vX.Y.Z; on main it is "latest", the newest release.
#
# checksums.txt is signed keylessly by the release workflow; to check that
# signature too (cosign v3), see the README, "Releases: install and verify".
#
# POSIX sh: needs curl (or wget), sha256sum (or shasum), tar (unzip on
# Windows) and uname.
set -eu

fail() {
  echo "ferry install: $*" >&2
  exit 2
}

version=${INSTALL_VERSION:?}
dir=${PARAM_INSTALL_DIR:-/usr/local/bin}
case $dir in
  "~") dir=$HOME ;;
  "~"/*) dir=$HOME/${dir#"~/"} ;;
esac
[ "$dir" = / ] || dir=${dir%/}
repo=https://github.com/ferry-dev/ferry
case $version in
  latest) base=$repo/releases/latest/download ;;
  v[0-9]*.*.*) base=$repo/releases/download/$version ;;
  *) fail "'$version' is not a release (vX.Y.Z)" ;;
esac

exe=ferry
ext=tar.gz
case $(uname -s) in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  MINGW* | MSYS* | CYGWIN*) os=windows exe=ferry.exe ext=zip ;;
  *) fail "no ferry release for the OS $(uname -s) (linux, darwin and windows have one)" ;;
esac
case $(uname -m) in
  x86_64 | amd64) arch=amd64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) fail "no ferry release for the CPU $(uname -m) (amd64 and arm64 have one)" ;;
esac

fetch() { # fetch URL FILE
  if command -v curl >/dev/null 2>&1; then
    curl --proto '=https' --tlsv1.2 -fsSL --retry 3 -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$2" "$1"
  else
    fail "neither curl nor wget is installed"
  fi || fail "could not download $1"
}

if command -v sha256sum >/dev/null 2>&1; then
  sha256() { sha256sum "$1" | cut -d ' ' -f 1; }
elif command -v shasum >/dev/null 2>&1; then
  sha256() { shasum -a 256 "$1" | cut -d ' ' -f 1; }
else
  fail "neither sha256sum nor shasum is installed"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fetch "$base/checksums.txt" "$tmp/checksums.txt"
if [ "$version" = latest ]; then
  archive=$(awk -v s="_${os}_${arch}.$ext" '$2 ~ /^ferry_/ && substr($2, length($2) - length(s) + 1) == s { print $2; exit }' "$tmp/checksums.txt")
  [ -n "$archive" ] || fail "the newest release's checksums.txt names no archive for $os/$arch"
else
  archive=ferry_${version#v}_${os}_${arch}.$ext
fi
want=$(awk -v f="$archive" '$2 == f { print $1 }' "$tmp/checksums.txt")
[ -n "$want" ] || fail "checksums.txt of $version names no $archive"

fetch "$base/$archive" "$tmp/$archive"
got=$(sha256 "$tmp/$archive")
[ "$got" = "$want" ] || fail "$archive has SHA-256 $got, but checksums.txt says $want: not installed"

mkdir "$tmp/x"
if [ "$ext" = zip ]; then
  unzip -q "$tmp/$archive" "$exe" -d "$tmp/x"
else
  tar -xzf "$tmp/$archive" -C "$tmp/x" "$exe"
fi
chmod 0755 "$tmp/x/$exe"
out=$("$tmp/x/$exe" version) || fail "$archive's $exe does not run on this machine"
case $version in
  latest) ;;
  *) case $out in "ferry $version "*) ;; *) fail "$archive's $exe says '$out', not ferry $version" ;; esac ;;
esac

put() { mkdir -p "$dir" && cp "$tmp/x/$exe" "$dir/$exe"; }
if ! put 2>/dev/null; then
  if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    { sudo mkdir -p "$dir" && sudo cp "$tmp/x/$exe" "$dir/$exe"; } || fail "could not write $dir/$exe, even with sudo"
  else
    fail "could not write $dir/$exe: set the install-dir parameter to a folder this user may write to"
  fi
fi

# Later steps: bash sources $BASH_ENV before each step.
if [ "$(command -v "$exe" 2>/dev/null || true)" != "$dir/$exe" ]; then
  if [ -n "${BASH_ENV:-}" ]; then
    echo "export PATH=\"$dir:\$PATH\"" >>"$BASH_ENV"
  else
    echo "ferry install: put $dir on the PATH of the steps that run ferry" >&2
  fi
fi
echo "$out"
echo "installed $dir/$exe from $archive (SHA-256 $got, as checksums.txt of $version says)"
