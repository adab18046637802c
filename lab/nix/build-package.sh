# Builder of one lab package: a store directory that looks like a package
# (bin/, share/doc, nix-support) and references its runtime dependencies
# the way real binaries do, so the closure has a realistic shape.
set -e
/bin/mkdir -p "$out/nix-support" "$out/share/doc/$name"
for d in $deps; do echo "$d"; done > "$out/nix-support/runtime-dependencies"
echo "$name (nixdeck lab build $rev)" > "$out/share/doc/$name/BUILD"
/usr/bin/head -c "$((kb * 1024))" /dev/zero > "$out/share/doc/$name/payload"
if [ -n "$bins" ]; then
  /bin/mkdir -p "$out/bin"
  for b in $bins; do
    # The machine's own tool when it has one (lab hosts share /usr), else
    # a stand-in that names the package.
    printf '#!/bin/sh\nfor d in /usr/bin /usr/sbin; do [ -x "$d/%s" ] && exec "$d/%s" "$@"; done\necho "%s (%s)"\n' "$b" "$b" "$b" "$name" > "$out/bin/$b"
    /bin/chmod +x "$out/bin/$b"
  done
fi
if [ -n "${journalctl:-}" ]; then
  /bin/mkdir -p "$out/bin"
  printf '%s' "$journalctl" > "$out/bin/journalctl"
  printf '%s' "$systemctl" > "$out/bin/systemctl"
  /bin/chmod +x "$out/bin/journalctl" "$out/bin/systemctl"
fi
for f in $files; do
  /bin/mkdir -p "$(/usr/bin/dirname "$out/$f")"
  echo "$name: $f" > "$out/$f"
done
