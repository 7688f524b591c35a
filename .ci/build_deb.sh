#!/usr/bin/env bash
# Package the onedir build as a .deb, install it, start the app from the installed menu
# entry's Exec line under Xvfb, and remove it again.
#
# Called by .ci/build_frozen.sh (inside its virtualenv, after the frozen tests) once
# dist/bcdesktop/ is built. Needs dpkg-deb; installing needs root and xvfb-run (without
# root the package is built and checked, not installed). Prints how long each step took.
#
#   build/deb/bcdesktop_VERSION_ARCH.deb
#     /opt/bcdesktop/                       the onedir bundle, as built
#     /usr/bin/bcdesktop                    -> /opt/bcdesktop/bcdesktop
#     /usr/share/applications/bcdesktop.desktop    Exec=/opt/bcdesktop/bcdesktop gui %f
#     /usr/share/icons/hicolor/NxN/apps/bcdesktop.png
#
# Depends: libc6 (>= the build machine's glibc: the bundle carries this machine's
# libstdc++ and libexpat, which need it), the packages of every other library the
# bundle's binaries load from the system (ldd; libxcb1 today), and fontconfig-config
# (the bundled fontconfig reads /etc/fonts, and it pulls in a font for Tk's text).
# dpkg's and gtk's triggers refresh the menu and icon caches; no maintainer scripts.
set -euo pipefail
cd "$(dirname "$0")/.."

now() { date +%s.%N; }
since() { python -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f} s')" "$1" "$(now)"; }

DIST=dist/bcdesktop
[ -x "$DIST/bcdesktop" ] || { echo "build_deb.sh: no $DIST/bcdesktop; build it first (pyinstaller build.spec)" >&2; exit 1; }
t0=$(now)
version=$(python -c 'import bcdesktop; print(bcdesktop.__version__)')
arch=$(dpkg --print-architecture)
glibc=$(getconf GNU_LIBC_VERSION | awk '{print $2}')
name="bcdesktop_${version}_${arch}"
root="build/deb/$name"
deb="build/deb/$name.deb"

echo "--- packaging $DIST as $deb"
rm -rf "$root" "$deb"
mkdir -p "$root/DEBIAN" "$root/opt" "$root/usr/bin"
cp -a "$DIST" "$root/opt/bcdesktop"
ln -s /opt/bcdesktop/bcdesktop "$root/usr/bin/bcdesktop"
# the app's own installer writes the menu entry and icons, with the installed path in Exec
"$DIST/bcdesktop" install-desktop-entry --prefix "$root/usr" --exec /opt/bcdesktop/bcdesktop \
  --no-cache-update >/dev/null

# Depends: the package of each library a bundled binary loads from outside the bundle
depends=$(python - "$root/opt/bcdesktop" "$glibc" <<'EOF'
import os, subprocess, sys

bundle, glibc = sys.argv[1], sys.argv[2]
env = {**os.environ, "LD_LIBRARY_PATH": os.path.join(bundle, "_internal")}  # as the bootloader sets it
outside, missing = set(), set()
for dirpath, _, filenames in os.walk(bundle):
    for name in filenames:
        path = os.path.join(dirpath, name)
        if os.path.islink(path):
            continue
        with open(path, "rb") as fh:
            if fh.read(4) != b"\x7fELF":
                continue
        out = subprocess.run(["ldd", path], env=env, capture_output=True, text=True).stdout
        for line in out.splitlines():
            words = line.split()
            if "=>" in words:
                target = words[words.index("=>") + 1]
                if target == "not":
                    missing.add(f"{words[0]} (needed by {os.path.relpath(path, bundle)})")
                elif not os.path.realpath(target).startswith(os.path.realpath(bundle) + os.sep):
                    outside.add(target)
if missing:
    sys.exit("build_deb.sh: libraries found neither in the bundle nor on this system: "
             + ", ".join(sorted(missing)))
packages = set()
for lib in sorted(outside):
    for candidate in dict.fromkeys([lib, os.path.realpath(lib), "/usr" + lib if lib.startswith("/lib") else lib]):
        done = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if done.returncode == 0:
            packages.add(done.stdout.split(":")[0])
            break
    else:
        sys.exit(f"build_deb.sh: {lib} (loaded by the bundle) belongs to no package")
packages.discard("libc6")
print(", ".join([f"libc6 (>= {glibc})", *sorted(packages), "fontconfig-config"]))
EOF
)
installed_kb=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<EOF
Package: bcdesktop
Version: $version
Architecture: $arch
Maintainer: ${DEB_MAINTAINER:-the bcdesktop developers <bcdesktop@example.invalid>}
Installed-Size: $installed_kb
Depends: $depends
Section: science
Priority: optional
Description: breast tumour malignancy estimates from nine cytology scores
 A desktop app and command line (bcdesktop) that estimate the malignancy of a
 breast tumour from the nine Wisconsin cytology scores with a small neural
 network, with the UCI Wisconsin Breast Cancer (Original) data set and a
 trained default model included. Standalone: Python, Tcl/Tk and the libraries
 are bundled under /opt/bcdesktop.
 .
 For research and education use only. Not a medical device.
EOF
chmod -R u=rwX,go=rX "$root"  # readable by every user whatever this shell's umask was
(cd "$root" && find opt usr -type f -print0 | sort -z | xargs -0 md5sum > DEBIAN/md5sums)
# zstd: 2 s here (gzip -6 took 47 s, and is larger); every dpkg that can run the bundle
# (glibc >= 2.36: Debian 12, Ubuntu 22.10 and later) reads it (dpkg >= 1.21.18)
dpkg-deb --root-owner-group -Zzstd --build "$root" "$deb" >/dev/null
rm -rf "$root"
echo "--- $(du -h "$deb" | cut -f1) $deb, Depends: $depends"
dpkg-deb --field "$deb" Package Version Architecture Installed-Size
echo "--- packaging took $(since "$t0")"

if [ "$(id -u)" != 0 ]; then
  echo "--- not root: the package was built but not installed and started"
  exit 0
fi
if dpkg -s bcdesktop >/dev/null 2>&1; then
  echo "build_deb.sh: a bcdesktop package is installed already; not replacing it" >&2
  exit 1
fi
t1=$(now)
cleanup() { dpkg -r bcdesktop >/dev/null 2>&1 || true; }
trap cleanup EXIT
echo "--- installing $deb"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "./$deb" >/dev/null
entry=/usr/share/applications/bcdesktop.desktop
for path in /opt/bcdesktop/bcdesktop /usr/bin/bcdesktop "$entry" /usr/share/icons/hicolor/256x256/apps/bcdesktop.png; do
  [ -e "$path" ] || { echo "build_deb.sh: the package did not install $path" >&2; exit 1; }
done
if command -v desktop-file-validate >/dev/null; then desktop-file-validate "$entry"; fi
got=$(/usr/bin/bcdesktop --version)  # through the /usr/bin link
[ "$got" = "bcdesktop $version" ] || { echo "build_deb.sh: /usr/bin/bcdesktop --version said '$got'" >&2; exit 1; }

echo "--- starting the installed menu entry's Exec line under Xvfb (gui --self-test)"
python - "$entry" <<'EOF'
import json, os, subprocess, sys, tempfile

from bcdesktop.desktop_entry import exec_argv, read_entry

entry = read_entry(sys.argv[1])
argv = exec_argv(entry["Exec"])  # as the menu runs it with no file: the program, then "gui"
assert argv == ["/opt/bcdesktop/bcdesktop", "gui"] and entry["TryExec"] == argv[0], (argv, entry)
with tempfile.TemporaryDirectory() as home:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "BCDESKTOP_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "MPLCONFIGDIR")}
    env["HOME"] = home
    done = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x1024x24 -dpi 96", *argv, "--self-test"],
                          env=env, cwd=home, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["self_test"] == "ok" and result["prediction"] == "malignant", result
    assert os.path.isfile(os.path.join(home, ".config", "bcdesktop", "settings.json"))
print(f"self-test from the menu entry: {result}")
EOF
dpkg --verify bcdesktop  # nothing in /opt/bcdesktop was changed by running it

echo "--- removing the package"
dpkg -r bcdesktop 2>&1 >/dev/null | { grep -v "directory '/opt' not empty so not removed" || true; } >&2
trap - EXIT
for path in /opt/bcdesktop /usr/bin/bcdesktop "$entry" /usr/share/icons/hicolor/256x256/apps/bcdesktop.png; do
  if [ -e "$path" ] || [ -L "$path" ]; then
    echo "build_deb.sh: $path is still there after dpkg -r" >&2
    exit 1
  fi
done
echo "--- install, start from the menu entry and removal took $(since "$t1")"
