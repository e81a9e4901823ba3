#!/usr/bin/env bash
# tools/install-deps.sh takes the Ubuntu 18.04 / JetPack 4.6 route on a
# bionic os-release with an old cmake, and the Debian route otherwise
# (--dry-run: nothing is installed). The CTest InstallDeps.ChoosesTheRouteForTheSystem.
set -euo pipefail
cd "$(dirname "$0")/../.."
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
printf 'ID=ubuntu\nVERSION_ID="18.04"\nPRETTY_NAME="Ubuntu 18.04.6 LTS"\n' >"$d/bionic"
printf 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n' >"$d/bookworm"
mkdir "$d/old" "$d/new"
printf '#!/bin/sh\necho "cmake version 3.10.2"\n' >"$d/old/cmake"
printf '#!/bin/sh\necho "cmake version 3.25.1"\n' >"$d/new/cmake"
chmod +x "$d/old/cmake" "$d/new/cmake"
fail=0
expect() {  # expect OUTPUT (present|absent) TEXT
  if printf '%s' "$1" | grep -qF -- "$3"; then found=present; else found=absent; fi
  if [ "$found" != "$2" ]; then echo "FAIL: '$3' is $found, expected $2, in:"; printf '%s\n' "$1"; fail=1; fi
}
out=$(PATH="$d/old:$PATH" TX2YOLO_OS_RELEASE="$d/bionic" tools/install-deps.sh --dry-run 2>&1)
expect "$out" present "Ubuntu 18.04.6 LTS: packages:"
expect "$out" present "libgtest-dev"
expect "$out" present "python3-venv"
expect "$out" absent "libcli11-dev"
expect "$out" absent "nlohmann-json3-dev"
expect "$out" present "would install cmake==3.18.4.post1 from PyPI"
out=$(PATH="$d/new:$PATH" TX2YOLO_OS_RELEASE="$d/bionic" tools/install-deps.sh --dry-run 2>&1)
expect "$out" present "cmake 3.25.1 is new enough"
out=$(PATH="$d/new:$PATH" TX2YOLO_OS_RELEASE="$d/bookworm" tools/install-deps.sh --dry-run 2>&1)
expect "$out" present "libcli11-dev"
expect "$out" present "nlohmann-json3-dev"
expect "$out" present "qemu-user"
expect "$out" absent "python3-venv"
expect "$out" absent "PyPI"
[ $fail = 0 ] && echo "install-deps: the bionic and Debian routes are chosen as documented"
exit $fail
