#!/bin/sh
# setup.sh: install what policy-search needs and this machine lacks.
# Debian packages through apt-get (as root, or with sudo), the browser
# test's npm package through npm ci from the committed lock file.
# Quiet and quick when everything is already there.
set -e
need=""
add() { need="$need $*"; }

command -v cc >/dev/null 2>&1 && command -v c++ >/dev/null 2>&1 || add build-essential
command -v pkg-config >/dev/null 2>&1 || add pkg-config
for pair in xapian-core:libxapian-dev icu-uc:libicu-dev icu-i18n:libicu-dev \
            libmicrohttpd:libmicrohttpd-dev jansson:libjansson-dev zlib:zlib1g-dev \
            libxml-2.0:libxml2-dev libarchive:libarchive-dev poppler-glib:libpoppler-glib-dev \
            cairo:libcairo2-dev tesseract:libtesseract-dev freexl:libfreexl-dev; do
  pc=${pair%%:*}; deb=${pair#*:}
  pkg-config --exists "$pc" 2>/dev/null || add "$deb"
done
[ -x /usr/bin/chromium ] || add chromium
ls /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc >/dev/null 2>&1 || add fonts-noto-cjk
command -v wrk >/dev/null 2>&1 || add wrk
command -v rg >/dev/null 2>&1 || add ripgrep      # make bench's yardstick
command -v node >/dev/null 2>&1 || add nodejs
command -v npm >/dev/null 2>&1 || add npm
command -v python3 >/dev/null 2>&1 || add python3
command -v curl >/dev/null 2>&1 || add curl
# Documents: CJK character maps for PDF, Chinese OCR data, the Word
# binary readers, and pdftoppm for the scanned-PDF fixture.
[ -d /usr/share/poppler/cMap ] || add poppler-data
ls /usr/share/tesseract-ocr/*/tessdata/chi_sim.traineddata >/dev/null 2>&1 || add tesseract-ocr-chi-sim
command -v antiword >/dev/null 2>&1 || add antiword
command -v catdoc >/dev/null 2>&1 || add catdoc
command -v pdftoppm >/dev/null 2>&1 || add poppler-utils
# libFuzzer (make fuzz, and the seed replay in make test)
command -v clang >/dev/null 2>&1 || add clang
ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 || add libclang-rt-dev
command -v xapian-check >/dev/null 2>&1 || add xapian-tools

if [ -n "$need" ]; then
  echo "setup: installing$need"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $need
fi

if [ ! -f tests/browser/node_modules/playwright-core/package.json ]; then
  echo "setup: installing playwright-core for the browser test"
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi
