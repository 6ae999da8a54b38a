#!/usr/bin/env bash
# Puts the `llava-med` command on PATH: publishes src/LlavaMed.Cli (Release, this machine's runtime, framework-
# dependent; the libLibTorchSharp.so fix-up runs on the publish output, see Directory.Build.targets) into
# ~/.local/share/llava-med/cli and links it as /usr/local/bin/llava-med (root) or ~/.local/bin/llava-med.
# Run it again after pulling: it republishes. mpirun and scripts need an executable, not `dotnet run`.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
target="${LLAVAMED_CLI_DIR:-$HOME/.local/share/llava-med/cli}"
if [ "$(id -u)" = 0 ]; then bin_dir=/usr/local/bin; else bin_dir="$HOME/.local/bin"; fi
rid="$(dotnet --info | sed -n 's/^ *RID: *//p' | head -n 1)"
echo "publishing llava-med ($rid) to $target"
dotnet publish "$repo/src/LlavaMed.Cli/LlavaMed.Cli.csproj" -c Release -r "$rid" --self-contained false \
  -o "$target" -nologo -v quiet
mkdir -p "$bin_dir"
ln -sf "$target/llava-med" "$bin_dir/llava-med"
echo "llava-med -> $bin_dir/llava-med"
case ":$PATH:" in *":$bin_dir:"*) ;; *) echo "add $bin_dir to PATH to call it as llava-med" ;; esac
