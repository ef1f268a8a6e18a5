#!/bin/sh
# The Java server launched as a single source file (java Main.java).
exec java "$(dirname "$0")/Main.java" "$@"
