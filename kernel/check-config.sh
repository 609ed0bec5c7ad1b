#!/usr/bin/env bash
# Usage: check-config.sh FRAGMENT DOTCONFIG
#
# Kconfig silently drops fragment lines whose dependencies are not met (and
# olddefconfig silently re-enables defaults), so a typo or a missing
# dependency would otherwise ship a kernel without a feature nobody notices
# until a guest fails. Every assignment in FRAGMENT (`CONFIG_X=...` or
# `# CONFIG_X is not set`) must appear exactly so in DOTCONFIG; each mismatch
# is reported with the symbol named and the value Kconfig chose instead.
set -euo pipefail

fragment=${1:?usage: check-config.sh FRAGMENT DOTCONFIG}
dotconfig=${2:?usage: check-config.sh FRAGMENT DOTCONFIG}

# awk reads the final .config first (symbol -> line), then checks each
# fragment line against it. Comments that are not "is not set" lines are prose.
awk '
  FNR == NR {
    if (match($0, /^CONFIG_[A-Za-z0-9_]+=/)) final[substr($0, 1, RLENGTH - 1)] = $0
    else if ($0 ~ /^# CONFIG_[A-Za-z0-9_]+ is not set$/) final[$2] = $0
    next
  }
  {
    sym = ""
    if (match($0, /^CONFIG_[A-Za-z0-9_]+=/)) sym = substr($0, 1, RLENGTH - 1)
    else if ($0 ~ /^# CONFIG_[A-Za-z0-9_]+ is not set$/) sym = $2
    if (sym == "") next
    checked++
    got = (sym in final) ? final[sym] : "(absent: dependencies not met or no such symbol)"
    # "is not set" also holds when the symbol is invisible and absent.
    if (got == $0) next
    if ($0 ~ /is not set$/ && !(sym in final)) next
    printf "check-config: %s: wanted \"%s\", got \"%s\" (%s:%d)\n", sym, $0, got, FILENAME, FNR > "/dev/stderr"
    bad++
  }
  END {
    if (bad) { printf "check-config: %d of %d fragment lines did not survive Kconfig\n", bad, checked > "/dev/stderr"; exit 1 }
    printf "check-config: all %d fragment lines present in the final .config\n", checked
  }
' "$dotconfig" "$fragment"
