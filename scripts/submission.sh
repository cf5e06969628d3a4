#!/usr/bin/env bash
# Writes a Rinha de Backend 2025 submission folder:
#
#   <out>/<NAME>/docker-compose.yml   this repository's, with a pinned public image
#                                     and no `build:` (the contest only pulls)
#   <out>/<NAME>/haproxy.cfg          and every other ./file the compose mounts
#   <out>/<NAME>/info.json            the contest's metadata format
#   <out>/<NAME>/README.md            what it is and where the source lives
#
# and nothing else: the contest forbids source code and logs in the folder.
# Copy the folder into `participantes/` of the contest repository in a PR.
#
# usage: scripts/submission.sh NAME [OUT_DIR]      (OUT_DIR defaults to ./submission)
#
# Environment (all optional):
#   RINHA_IMAGE              image for the api services, e.g. ghcr.io/you/rinha:1.0.0
#                            (default: ghcr.io/rinha-rs/rinha:<Cargo.toml version>,
#                            what .github/workflows/image.yml publishes for the tag
#                            v<version>). It must carry a version tag or a digest:
#                            `latest` or no tag is refused, so a later push cannot
#                            change a run that is already scheduled.
#   SUBMISSION_PARTICIPANT   "name" in info.json  (default: git config user.name)
#   SUBMISSION_SOCIAL        comma-separated URLs for "social"
#   SUBMISSION_REPO          "source-code-repo"   (default: git remote origin, as https)
set -euo pipefail

usage() {
    echo "usage: scripts/submission.sh NAME [OUT_DIR]   (OUT_DIR defaults to ./submission)" >&2
    exit 2
}

[[ $# -ge 1 && $# -le 2 ]] || usage
name=$1
# The name becomes a directory in someone else's repository: keep it plain.
[[ $name =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || {
    echo "submission.sh: NAME must match [A-Za-z0-9][A-Za-z0-9._-]*, got '$name'" >&2
    exit 2
}

repo_root=$(cd "$(dirname "$0")/.." && pwd)
out_root=${2:-$repo_root/submission}
compose=$repo_root/docker-compose.yml
# What docker-compose.yml names (and builds locally when absent).
compose_image=ghcr.io/rinha-rs/rinha:latest
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$repo_root/Cargo.toml" | head -n 1)
image=${RINHA_IMAGE:-ghcr.io/rinha-rs/rinha:$version}

[[ -f $compose ]] || { echo "submission.sh: $compose not found" >&2; exit 1; }
# Pinned: a digest, or a tag other than `latest` on the last path component.
last_component=${image##*/}
if [[ $image != *@sha256:* && ( $last_component != *:* || $last_component == *:latest ) ]]; then
    echo "submission.sh: RINHA_IMAGE=$image is not pinned; name a version tag (e.g. :1.0.0) or a digest" >&2
    exit 1
fi

# JSON string literal: escape backslashes and quotes; control characters
# have no business in these fields and are refused.
json_string() {
    local s=$1
    if [[ $s =~ [[:cntrl:]] ]]; then
        echo "submission.sh: control character in '$s'" >&2
        exit 1
    fi
    s=${s//\\/\\\\}
    s=${s//\"/\\\"}
    printf '"%s"' "$s"
}

json_array() {
    local IFS=, first=1 item
    printf '['
    for item in $1; do
        item=${item#"${item%%[![:space:]]*}"}
        item=${item%"${item##*[![:space:]]}"}
        [[ -n $item ]] || continue
        ((first)) || printf ', '
        json_string "$item"
        first=0
    done
    printf ']'
}

git_in_repo() { git -C "$repo_root" "$@" 2>/dev/null || true; }

participant=${SUBMISSION_PARTICIPANT:-$(git_in_repo config user.name)}
social=${SUBMISSION_SOCIAL:-}
source_repo=${SUBMISSION_REPO:-$(git_in_repo remote get-url origin)}
# git@host:owner/repo.git -> https://host/owner/repo
if [[ $source_repo =~ ^git@([^:]+):(.+)$ ]]; then
    source_repo="https://${BASH_REMATCH[1]}/${BASH_REMATCH[2]}"
fi
source_repo=${source_repo%.git}
if [[ -z $participant ]]; then
    participant="TODO: your name"
    echo "submission.sh: warning: set SUBMISSION_PARTICIPANT; info.json says '$participant'" >&2
fi
if [[ -z $source_repo ]]; then
    source_repo="TODO: https://github.com/you/rinha"
    echo "submission.sh: warning: set SUBMISSION_REPO; info.json says '$source_repo'" >&2
fi

dest=$out_root/$name
rm -rf "$dest"
mkdir -p "$dest"

# The compose file with the pinned image and without `build: .`: the
# contest machine pulls every image and must never build one.
grep -q "image: $compose_image\$" "$compose" || {
    echo "submission.sh: docker-compose.yml no longer names $compose_image; update this script" >&2
    exit 1
}
sed -e "s|image: $compose_image\$|image: $image|" -e '/^    build: \.$/d' "$compose" >"$dest/docker-compose.yml"
if grep -qE '^[[:space:]]+build:' "$dest/docker-compose.yml"; then
    echo "submission.sh: docker-compose.yml has a build: this script cannot remove; update it" >&2
    exit 1
fi

# Every relative file the compose mounts (./haproxy.cfg today).
mounted=$(grep -oE '^\s*- \./[^: ]+' "$compose" | sed -E 's/^\s*- \.\///' | sort -u)
for file in $mounted; do
    [[ -f $repo_root/$file ]] || {
        echo "submission.sh: docker-compose.yml mounts ./$file, which does not exist" >&2
        exit 1
    }
    mkdir -p "$dest/$(dirname "$file")"
    cp "$repo_root/$file" "$dest/$file"
done

cat >"$dest/info.json" <<EOF
{
    "name": $(json_string "$participant"),
    "social": $(json_array "$social"),
    "source-code-repo": $(json_string "$source_repo"),
    "langs": ["rust"],
    "storages": ["shared memory-mapped file"],
    "messaging": [],
    "load-balancers": ["haproxy"],
    "other-technologies": ["mio", "unix sockets", "flock leader election"]
}
EOF

cat >"$dest/README.md" <<EOF
# rinha — Rust, HAProxy, Unix sockets and one shared memory-mapped file

Source code: $source_repo

- **Language**: Rust (mio event loop, no async runtime), one static binary in a \`FROM scratch\` image (\`$image\`).
- **Load balancer**: HAProxy, reaching two api instances through Unix sockets.
- **Storage / messaging**: none external. Both instances share a memory-mapped
  file on a tmpfs volume: a lock-free ring of accepted payments and a ledger
  of processed ones. \`POST /payments\` only pushes into the ring and answers;
  the instance holding an \`flock\` drains the ring to the processors (cheap
  default first), and either instance answers \`GET /payments-summary\` from
  the ledger. If the drainer dies, the other instance takes the lock over
  at once.

Run: start the official payment processors (they create the external network
\`payment-processor\`), then \`docker compose up -d\` here; the backend answers
on http://localhost:9999.

| service | cpus | memory |
|---|---|---|
$(awk '
    /^  [a-z0-9_-]+:$/ { svc = $1; sub(":", "", svc) }
    /cpus:/            { c = $2; gsub("\"", "", c) }
    /memory:/          { m = $2; gsub("\"", "", m); printf "| %s | %s | %s |\n", svc, c, m }
' "$dest/docker-compose.yml")
EOF

echo "wrote $dest:"
(cd "$dest" && find . -type f | sort | sed 's|^\./|  |')
