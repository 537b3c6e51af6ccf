#!/usr/bin/env bash
# Builds the test Kubernetes control plane that internal/kube starts: etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler and kwok, from the
# module versions pinned in tools/kube/go.mod, and copies kwok's node/fast,
# node/heartbeat and pod/fast stage definitions out of its module beside it.
#
# Usage: tools/kube/install.sh <repo-bin-dir>
#
# Result, where CACHE is $CANARYFLOW_CACHE or ~/.cache/canaryflow:
#   $CACHE/kube@<k8s version>/{kube-apiserver,kube-controller-manager,kube-scheduler}
#   $CACHE/etcd@<etcd version>/etcd
#   $CACHE/kwok@<kwok version>/{kwok,stages/*.yaml}
# and a symlink to each binary in <repo-bin-dir>. A cold build takes about
# 13-17 minutes on 2 cores (builds share compiled packages through Go's
# build cache); a warm run only checks the cache and the links.
set -euo pipefail

usage() {
	echo "usage: $0 <repo-bin-dir>" >&2
	exit 2
}

die() {
	echo "tools/kube/install.sh: $*" >&2
	exit 1
}

[[ $# -eq 1 && -n $1 ]] || usage
bin_dir=$(mkdir -p "$1" && cd "$1" && pwd)
go=${GO:-go}
cache_root=${CANARYFLOW_CACHE:-$HOME/.cache/canaryflow}
module_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Versions come from go.mod, so bumping a module there is the whole upgrade.
versions=$(cd "$module_dir" && "$go" list -m -f '{{.Version}}' k8s.io/kubernetes go.etcd.io/etcd/server/v3 sigs.k8s.io/kwok) ||
	die "could not read module versions from $module_dir/go.mod"
read -r k8s_version etcd_version kwok_version <<<"$(echo $versions)"
[[ -n $k8s_version && -n $etcd_version && -n $kwok_version ]] ||
	die "could not read module versions from $module_dir/go.mod"

kube_dir=$cache_root/kube@$k8s_version
etcd_dir=$cache_root/etcd@$etcd_version
kwok_dir=$cache_root/kwok@$kwok_version

# name → cache directory and package; etcd's main package is its server
# module's root, which `go build` would name "server".
declare -A dest=(
	[kube-apiserver]=$kube_dir
	[kube-controller-manager]=$kube_dir
	[kube-scheduler]=$kube_dir
	[etcd]=$etcd_dir
	[kwok]=$kwok_dir
)
declare -A pkg=(
	[kube-apiserver]=k8s.io/kubernetes/cmd/kube-apiserver
	[kube-controller-manager]=k8s.io/kubernetes/cmd/kube-controller-manager
	[kube-scheduler]=k8s.io/kubernetes/cmd/kube-scheduler
	[etcd]=go.etcd.io/etcd/server/v3
	[kwok]=sigs.k8s.io/kwok/cmd/kwok
)
names=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

# link makes <repo-bin-dir>/<name> point at the cached binary, touching
# nothing when it already does so that repeated runs change no mtimes.
link() {
	local name=$1 target=${dest[$1]}/$1
	if [[ $(readlink "$bin_dir/$name" 2>/dev/null || true) != "$target" ]]; then
		ln -sfn "$target" "$bin_dir/$name"
	fi
}

# kwok has no built-in stages: they are YAML files in its module, passed to
# it with --config. These are the ones kwokctl uses by default.
install_stages() {
	[[ -d $kwok_dir/stages ]] && return 0
	local src
	src=$(cd "$module_dir" && "$go" list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
	[[ -d $src/kustomize/stage ]] || die "no kustomize/stage in the kwok module at $src"
	local stage
	stage=$(mktemp -d "$kwok_dir/.stages.XXXXXX")
	install -m 0644 \
		"$src/kustomize/stage/node/fast/node-initialize.yaml" \
		"$src/kustomize/stage/node/heartbeat/node-heartbeat.yaml" \
		"$src/kustomize/stage/pod/fast/pod-ready.yaml" \
		"$src/kustomize/stage/pod/fast/pod-complete.yaml" \
		"$src/kustomize/stage/pod/fast/pod-delete.yaml" \
		"$stage/"
	chmod 0755 "$stage"
	mv -T "$stage" "$kwok_dir/stages" 2>/dev/null || rm -rf "$stage"
}

missing=()
for name in "${names[@]}"; do
	[[ -x ${dest[$name]}/$name ]] || missing+=("$name")
done

# The Kubernetes binaries report the version they were built from, as a
# release build does (hack/lib/version.sh): without it they call themselves
# v0.0.0-master, which clients that check the server version (Helm's
# kubeVersion constraints, version-skew warnings) reject or complain about.
k8s_minor=${k8s_version#v*.}
k8s_minor=${k8s_minor%%.*}
k8s_ldflags=""
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	k8s_ldflags+=" -X $p.gitVersion=$k8s_version -X $p.gitMajor=1 -X $p.gitMinor=$k8s_minor -X $p.gitTreeState=clean"
done

work=""
trap 'rm -rf "$work"' EXIT

# build compiles the named binaries in one `go build` (so packages they share
# compile once) and renames each into its cache directory.
build() {
	local ldflags=$1
	shift
	local pkgs=() name
	for name in "$@"; do
		pkgs+=("${pkg[$name]}")
	done
	mkdir -p "$cache_root"
	work=$(mktemp -d "$cache_root/.kube-build.XXXXXX")
	# nice: a cold build takes both cores for a quarter of an hour, and
	# tests or other builds on the machine must still get scheduled.
	if ! (cd "$module_dir" && nice -n 19 "$go" build -ldflags="$ldflags" -o "$work/" "${pkgs[@]}"); then
		die "go build of ${pkgs[*]} failed"
	fi
	[[ -f $work/server && ! -e $work/etcd ]] && mv "$work/server" "$work/etcd"
	for name in "$@"; do
		[[ -x $work/$name ]] || die "go build left no $name in $work"
		mkdir -p "${dest[$name]}"
		# Rename into place so an interrupted run never leaves half a binary.
		mv "$work/$name" "${dest[$name]}/.$name.new"
		mv -f "${dest[$name]}/.$name.new" "${dest[$name]}/$name"
	done
	rm -rf "$work"
}

missing_kube=() missing_other=()
for name in "${names[@]}"; do
	[[ -x ${dest[$name]}/$name ]] && continue
	case $name in
	kube-*) missing_kube+=("$name") ;;
	*) missing_other+=("$name") ;;
	esac
done

if ((${#missing_kube[@]} + ${#missing_other[@]} > 0)); then
	echo "building ${missing_kube[*]} ${missing_other[*]} (kubernetes $k8s_version, etcd $etcd_version, kwok $kwok_version); ~15 min cold on 2 cores" >&2
	start=$SECONDS
	# One build at a time: the second reuses what the first compiled.
	((${#missing_kube[@]} == 0)) || build "$k8s_ldflags" "${missing_kube[@]}"
	((${#missing_other[@]} == 0)) || build "" "${missing_other[@]}"
	echo "built ${missing_kube[*]} ${missing_other[*]} in $((SECONDS - start)) s" >&2
fi

mkdir -p "$kwok_dir"
install_stages
for name in "${names[@]}"; do
	link "$name"
done
