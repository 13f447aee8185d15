#!/usr/bin/env bash
# System packages the tests need, installed once from Debian's archive when missing (root or sudo).
# No Korean font is installed on purpose: the PDF report must embed its own.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# Go and Debian's golang.org/x/mod source: tests/tlog/test_go_verifier.py builds a verifier on Go's own sumdb
# note/tlog packages offline (GOPATH mode under /usr/share/gocode) and runs it on a Lumen log
command -v go >/dev/null 2>&1 || need+=(golang-go)
[ -d /usr/share/gocode/src/golang.org/x/mod/sumdb/tlog ] || need+=(golang-golang-x-mod-dev)
# PostgreSQL server binaries for tests/deploy (the tests initdb their own cluster on 127.0.0.1)
command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || need+=(postgresql)
[ ${#need[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "[system-deps] installing ${need[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
