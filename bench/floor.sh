#!/bin/sh
# floor.sh: the lower bound for copying an image between two registries
# with plain HTTP tools: every blob is piped from a GET on the source
# straight into one monolithic PUT on the destination (curl | curl), all
# blobs at once, then the manifest is copied. No existence checks, no
# retries, no verification.
#
#   floor.sh SRC_HOST SRC_REPO DST_HOST DST_REPO TAG MANIFEST_DIGEST MEDIA_TYPE BLOB_DIGEST...
set -eu
src=$1 srepo=$2 dst=$3 drepo=$4 tag=$5 manifest=$6 mediatype=$7
shift 7

copy_blob() { # DIGEST
  loc=$(curl -sSf -X POST -o /dev/null -D - "http://$dst/v2/$drepo/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
  case $loc in http*) ;; *) loc="http://$dst$loc" ;; esac
  case $loc in *\?*) sep='&' ;; *) sep='?' ;; esac
  curl -sSf "http://$src/v2/$srepo/blobs/$1" |
    curl -sSf -X PUT -H 'Content-Type: application/octet-stream' -H 'Expect:' -T - -o /dev/null "$loc${sep}digest=$1"
}

pids=
for d in "$@"; do
  copy_blob "$d" &
  pids="$pids $!"
done
fail=0
for p in $pids; do wait "$p" || fail=1; done
[ "$fail" = 0 ] || { echo "floor.sh: a blob copy failed" >&2; exit 1; }

curl -sSf -H "Accept: $mediatype" "http://$src/v2/$srepo/manifests/$manifest" |
  curl -sSf -X PUT -H "Content-Type: $mediatype" --data-binary @- -o /dev/null "http://$dst/v2/$drepo/manifests/$tag"
