#!/bin/bash
# base-image.sh ENGINE IMAGE: makes IMAGE, a Debian bookworm base image, from
# Debian's own packages with debootstrap (the minbase variant), for machines
# where no image registry answers. Debian's package mirror is all it needs
# (MIRROR, default http://deb.debian.org/debian). ENGINE is podman or docker.
set -euo pipefail
engine=${1:?usage: base-image.sh ENGINE IMAGE}
image=${2:?usage: base-image.sh ENGINE IMAGE}
mirror=${MIRROR:-http://deb.debian.org/debian}
command -v debootstrap >/dev/null || { echo "base-image: debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }
root=$(mktemp -d /var/tmp/fileconv-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "base-image: no registry answered; making $image from Debian's packages with debootstrap ($mirror)" >&2
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1 || { cat "$root.log" >&2; rm -f "$root.log"; exit 1; }
rm -f "$root.log"
# The security and update suites, as debian:bookworm-slim has them.
cat >"$root/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SOURCES
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | "$engine" import --change 'CMD ["/bin/bash"]' \
	--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$image" >/dev/null
echo "base-image: made $image" >&2
