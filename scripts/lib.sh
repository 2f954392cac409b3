# Shared helpers for the scripts in this directory (sourced, not run).

# Configures build directory $1 with extra meson options $2..., once; reconfigures if
# it exists.
weft_setup() {
  local dir=$1; shift
  if [ -f "$dir/build.ninja" ]; then
    meson setup --reconfigure "$dir" "$@" >/dev/null
  else
    meson setup "$dir" "$@" >/dev/null
  fi
}

weft_jobs() { nproc 2>/dev/null || echo 2; }

weft_banner() { printf '\n== %s ==\n' "$*"; }
