# Sourced by scripts/test: sets up what the tests need that a package manager installs in
# the project (axe-core, pinned in package.json), and names in one line each tool the
# machine lacks, with the command that installs it. A test whose tool is missing is skipped
# on a developer's machine and fails under CI=true.
note_missing() { echo "scripts/test: $1 missing, $2 skipped; install: $3" >&2; }

if [ ! -f node_modules/axe-core/axe.min.js ]; then
  if command -v npm >/dev/null; then
    npm ci --no-audit --no-fund --silent
  else
    note_missing "npm" "accessibility checks (axe-core)" "apt-get install npm, then npm ci"
  fi
fi
[ -x /usr/bin/chromium ] || note_missing "chromium" "browser tests" "apt-get install chromium"
/usr/bin/python3 -c "import gi; gi.require_version('GstRtspServer', '1.0')" 2>/dev/null \
  || note_missing "GStreamer's RTSP server" "RTSP camera tests" \
    "apt-get install gir1.2-gst-rtsp-server-1.0 python3-gi gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly"
command -v pdftotext >/dev/null && command -v pdftoppm >/dev/null \
  || note_missing "poppler-utils" "PDF page checks (WAD, review)" "apt-get install poppler-utils"
