#!/usr/bin/env bash
# The full test suite from a clean clone: installs Lumen with its test extra, the system tools the tests
# drive (Debian's chromium for the UI test, poppler-utils to render PDFs, Go for the sumdb check), then runs pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --disable-pip-version-check -e ".[test]"
bash scripts/system-deps.sh
exec python -m pytest "$@"
