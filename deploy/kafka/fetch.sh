#!/usr/bin/env bash
# Fetches the official Apache Kafka broker jars (and a log4j2 backend) from Maven Central into a
# cache directory, once. Prints the directory holding the jars.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")"
# The cache is keyed by the pom's content: any change to the dependencies fetches afresh.
pom_hash="$(sha1sum "$here/pom.xml" | cut -c1-10)"
cache="${GOALPOST_KAFKA_CACHE:-$HOME/.cache/goalpost}/kafka-$version-$pom_hash/libs"
if [ ! -f "$cache/kafka_2.13-$version.jar" ]; then
  command -v mvn >/dev/null || { echo "maven (mvn) is needed to fetch the Kafka jars" >&2; exit 1; }
  echo "fetching Apache Kafka $version jars with Maven into $cache ..." >&2
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$cache" -DincludeScope=runtime >&2
fi
echo "$cache"
