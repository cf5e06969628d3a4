#!/usr/bin/env bash
# Builds a Docker image FROM scratch out of host parts: the one image builder
# of bench/docker.sh and tests/docker_e2e.rs. No image can be pulled on the
# development machines, so neither the `rust` base of ./Dockerfile nor the
# official HAProxy image is there; these stand in for them.
#
#   scripts/scratch-image.sh rinha TAG BINARY     # a `rinha` built on this host
#   scripts/scratch-image.sh haproxy TAG          # the host's /usr/sbin/haproxy
#
# - rinha: BINARY at /rinha, user 65532, entrypoint and command as
#   ./Dockerfile's image (`/rinha api`);
# - haproxy: /usr/sbin/haproxy at /usr/local/sbin/haproxy, run as uid 99 with
#   the official image's command line (`haproxy -W -db -f
#   /usr/local/etc/haproxy/haproxy.cfg`), so a configuration that only works
#   as root fails here too.
#
# A host build is dynamic (glibc), so the image also gets every library `ldd`
# resolves (the loader included), the NSS modules where they are separate
# files, and an nsswitch.conf, so that getaddrinfo resolves compose service
# names through Docker's DNS. The build context is a temp dir, removed on exit.
set -euo pipefail

die() { echo "scripts/scratch-image.sh: $*" >&2; exit 1; }
usage() { sed -n '7,8p' "$0" | sed 's/^# *//' >&2; exit 2; }

[ $# -ge 2 ] || usage
kind="$1" tag="$2"
case "$kind" in
    rinha)
        [ $# -eq 3 ] || usage
        [ -x "$3" ] || die "no executable at $3"
        files=("$3:/rinha")
        tail=$'USER 65532:65532\nENTRYPOINT ["/rinha"]\nCMD ["api"]\n'
        ;;
    haproxy)
        [ $# -eq 2 ] || usage
        [ -x /usr/sbin/haproxy ] || die "/usr/sbin/haproxy is needed (apt-get install haproxy)"
        files=(/usr/sbin/haproxy:/usr/local/sbin/haproxy)
        tail=$'USER 99:99\nSTOPSIGNAL SIGUSR1\nENTRYPOINT ["/usr/local/sbin/haproxy", "-W", "-db"]\nCMD ["-f", "/usr/local/etc/haproxy/haproxy.cfg"]\n'
        ;;
    *) usage ;;
esac
command -v ldd >/dev/null || die "ldd is needed"

context="$(mktemp -d /tmp/rinha-scratch-image.XXXXXX)"
trap 'rm -rf "$context"' EXIT
rootfs="$context/rootfs"

# place HOST_PATH IMAGE_PATH: copies the file itself (-L), under the name
# the loader looks for when HOST_PATH is a link.
place() { mkdir -p "$rootfs$(dirname "$2")"; cp -L "$1" "$rootfs$2"; }

for pair in "${files[@]}"; do
    host="${pair%%:*}" inside="${pair#*:}"
    place "$host" "$inside"
    # Every absolute path ldd resolves, the loader included; none for a
    # static binary ("not a dynamic executable").
    for library in $(ldd "$host" 2>/dev/null | grep -oE '/[^ ]+' || true); do
        [ -e "$library" ] || die "ldd $host: $library missing"
        place "$library" "$library"
    done
done
# getaddrinfo: files then Docker's DNS. Recent glibc has both modules built
# in; older ones load them, so ship them where they exist.
for library in /lib/x86_64-linux-gnu/libnss_dns.so.2 /lib/x86_64-linux-gnu/libnss_files.so.2; do
    if [ -e "$library" ]; then place "$library" "$library"; fi
done
mkdir -p "$rootfs/etc"
echo "hosts: files dns" >"$rootfs/etc/nsswitch.conf"
printf 'FROM scratch\nCOPY rootfs/ /\n%s' "$tail" >"$context/Dockerfile"

# The classic builder: BuildKit is not everywhere, and it has nothing to add
# to a two-line Dockerfile.
DOCKER_BUILDKIT=0 timeout 300 docker build -q -t "$tag" "$context" >"$context/build.log" 2>&1 ||
    { cat "$context/build.log" >&2; die "docker build $tag failed"; }
echo "$tag"
