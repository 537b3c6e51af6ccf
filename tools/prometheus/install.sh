#!/usr/bin/env bash
# Installs the Prometheus server that tests and `make demo` run, from Debian's
# package, without installing the package: the .deb is only unpacked, so no
# postinst runs (no system user, no service, no /var/lib/prometheus). Building
# Prometheus from its Go module instead takes ~11 minutes cold; this takes
# seconds, and is a no-op once the binary is cached.
#
# Usage: tools/prometheus/install.sh <repo-bin-dir>
#
# Result: $CACHE/prometheus@2.42.0/{prometheus,promtool,web/}, where CACHE is
# $CANARYFLOW_CACHE or ~/.cache/canaryflow, and symlinks to both binaries in
# <repo-bin-dir>. internal/devstack finds the web/ assets beside the binary.
set -euo pipefail

readonly upstream_version=2.42.0

usage() {
	echo "usage: $0 <repo-bin-dir>" >&2
	exit 2
}

die() {
	echo "tools/prometheus/install.sh: $*" >&2
	exit 1
}

[[ $# -eq 1 && -n $1 ]] || usage
bin_dir=$1
cache_root=${CANARYFLOW_CACHE:-$HOME/.cache/canaryflow}
dest=$cache_root/prometheus@$upstream_version

# link makes <repo-bin-dir>/<name> point at the cached binary, touching
# nothing when it already does so that repeated runs change no mtimes.
link() {
	local name=$1
	if [[ $(readlink "$bin_dir/$name" 2>/dev/null || true) != "$dest/$name" ]]; then
		ln -sfn "$dest/$name" "$bin_dir/$name"
	fi
}

finish() {
	mkdir -p "$bin_dir"
	link prometheus
	link promtool
}

# Fast path, taken on every `make test`.
if [[ -x $dest/prometheus && -x $dest/promtool ]]; then
	finish
	exit 0
fi

command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null ||
	die "needs apt-get and dpkg-deb (Debian/Ubuntu); elsewhere build github.com/prometheus/prometheus/cmd/prometheus and put it at $dest/prometheus"

work=$(mktemp -d "${TMPDIR:-/tmp}/canaryflow-prometheus.XXXXXX")
trap 'rm -rf "$work"' EXIT

apt_opts=()
if [[ $EUID -eq 0 ]]; then
	# apt drops to the _apt user to download, and _apt cannot write into
	# mktemp's private directory; as root, download as root instead.
	apt_opts+=(-o APT::Sandbox::User=root)
fi

download() {
	(cd "$work" && apt-get "${apt_opts[@]}" -q download prometheus)
}

if ! download; then
	# Usually stale package lists (a fresh container, or the mirror moved on).
	echo "apt-get download failed; refreshing package lists once and retrying" >&2
	if [[ $EUID -eq 0 ]]; then
		apt-get -q update
	else
		sudo -n apt-get -q update || die "apt-get update needs root: run 'sudo apt-get update' and retry"
	fi
	download || die "apt-get download prometheus failed after apt-get update"
fi

debs=("$work"/prometheus_*.deb)
[[ -f ${debs[0]} ]] || die "apt-get download left no prometheus_*.deb in $work"
deb=${debs[0]}
deb_version=$(dpkg-deb -f "$deb" Version)
case $deb_version in
"$upstream_version" | "$upstream_version"[+~-]*) ;;
*) die "apt offers prometheus $deb_version, but canaryflow pins $upstream_version (Debian bookworm); use a bookworm apt source" ;;
esac

dpkg-deb -x "$deb" "$work/root"
"$work/root/usr/bin/prometheus" --version >/dev/null 2>&1 ||
	die "the unpacked prometheus binary does not run (from $deb)"

# Assemble beside the destination and rename it into place, so an
# interrupted or concurrent run never leaves a half-written cache entry.
mkdir -p "$cache_root"
stage=$(mktemp -d "$cache_root/.prometheus@$upstream_version.XXXXXX")
install -m 0755 "$work/root/usr/bin/prometheus" "$work/root/usr/bin/promtool" "$stage/"
if [[ -d $work/root/usr/share/prometheus/web ]]; then
	cp -a "$work/root/usr/share/prometheus/web" "$stage/web"
fi
echo "$deb_version" >"$stage/DEBIAN_VERSION"
chmod 0755 "$stage"
if ! mv -T "$stage" "$dest" 2>/dev/null; then
	# Another run won the race, or a broken entry is in the way.
	if [[ -x $dest/prometheus && -x $dest/promtool ]]; then
		rm -rf "$stage"
	else
		rm -rf "$dest"
		mv -T "$stage" "$dest"
	fi
fi

finish
echo "installed prometheus $deb_version to $dest" >&2
