#!/usr/bin/env bash
# Every path in a document's "Where to find X" table exists in the source
# tree: each `backticked` word with a slash in it, except patterns holding
# "<" or "*". Fails naming each missing path.
#   tools/check-doc-paths.sh [DOC]        (default docs/architecture.md)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
doc="${1:-$root/docs/architecture.md}"
[ -r "$doc" ] || { echo "error: cannot read $doc" >&2; exit 1; }
table=$(awk '/^## Where to find X/{on=1; next} /^## /{on=0} on' "$doc")
[ -n "$table" ] || { echo "error: $doc has no \"Where to find X\" section" >&2; exit 1; }
checked=0; missing=0
while read -r path; do
  case "$path" in *'<'*|*'*'*) continue ;; esac
  checked=$((checked + 1))
  if [ ! -e "$root/$path" ]; then
    echo "missing: $path" >&2; missing=$((missing + 1))
  fi
done < <(printf '%s\n' "$table" | grep -oE '`[^` ]*/[^` ]*`' | tr -d '`' | sort -u)
if [ "$missing" -gt 0 ]; then
  echo "error: $missing of $checked paths in $doc do not exist" >&2; exit 1
fi
[ "$checked" -gt 0 ] || { echo "error: no paths found in $doc" >&2; exit 1; }
echo "$checked paths in $(basename "$doc") exist"
