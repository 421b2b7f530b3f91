#!/usr/bin/env bash
# An init script that never finishes, for the readiness-timeout test.
echo ">> starting slowly"
exec sleep 600
