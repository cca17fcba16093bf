# Sourced by test and benchmark scripts: npm_fetch PACKAGE@VERSION DIR unpacks a package from the
# npm registry into DIR/package (once; nothing is installed or run). Returns non-zero when the
# registry cannot be reached, so callers can skip with a message.
npm_fetch() {
  local spec=$1 dir=$2
  [ -d "$dir/package" ] && return 0
  mkdir -p "$dir"
  local tgz
  tgz=$(cd "$dir" && timeout 300 npm pack "$spec" --silent 2>/dev/null | tail -1) || return 1
  [ -n "$tgz" ] && tar xzf "$dir/$tgz" -C "$dir" && rm -f "$dir/$tgz"
}
