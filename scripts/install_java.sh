#!/usr/bin/env bash
# Make sure a Java runtime is on PATH for the Spark equivalence test
# (tests/spark, docs/spark.md): pyspark starts a JVM.
#
# Idempotent: does nothing when `java` runs. Unlike Chromium, Java is not
# optional for `make test`: the Spark test runs there (ALLOCATOR_SPARK_TESTS=1)
# and fails without it, so a machine that cannot install it stops here with
# what to do.
set -euo pipefail

if command -v java >/dev/null 2>&1; then
    echo "java already installed: $(java -version 2>&1 | head -n 1)"
    exit 0
fi

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "no java on PATH: install a JDK 17 (e.g. sudo apt-get install -y default-jdk-headless);" >&2
    echo "make test runs the Spark equivalence test (tests/spark), which needs it" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq default-jdk-headless >/dev/null
echo "java installed: $(java -version 2>&1 | head -n 1)"
