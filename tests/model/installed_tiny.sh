#!/usr/bin/env bash
# `--model tiny` resolves to the installed copy of the built-in model: install into a scratch
# prefix, then ask the installed program (from another directory) where tiny is.
#   installed_tiny.sh <build dir> <scratch dir>
set -euo pipefail
build=$1
prefix=$2/prefix
rm -rf "$2"
cmake --install "$build" --prefix "$prefix" >/dev/null
cd "$2"
out=$("$prefix/bin/attnscope" models)
echo "$out"
grep -E "^tiny +built-in +$prefix/share/attnscope/models/tiny$" <<<"$out" >/dev/null \
  || { echo "tiny did not resolve to the installed copy under $prefix"; exit 1; }
"$prefix/bin/attnscope" info --model tiny | grep -q "layers: *4"
echo "installed tiny: ok"
