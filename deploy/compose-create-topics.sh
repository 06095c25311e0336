#!/bin/bash
# One-shot topic set-up for docker-compose.yml, run in the Kafka image once the broker is healthy.
# Topics are created explicitly (auto-creation is off): the transactions topic's partition count is
# part of pyramid's Redis layout, so it must be chosen, never defaulted by a first producer.
set -euo pipefail

BOOTSTRAP="${BOOTSTRAP:-kafka:9092}"
KAFKA_TOPICS=/opt/kafka/bin/kafka-topics.sh

create() {
  local topic="$1" partitions="$2" config="$3"
  "$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists \
    --topic "$topic" --partitions "$partitions" --replication-factor 1 --config "$config"
}

create "${PYRAMID_TOPIC_TRANSACTIONS:-transactions}" "${TRANSACTIONS_PARTITIONS:-6}" retention.ms=604800000
# Tier changes are keyed by customer; compaction would drop history marketing may replay, so delete.
create "${PYRAMID_TOPIC_TIER_CHANGES:-customer-tier-changes}" "${TIER_CHANGES_PARTITIONS:-6}" retention.ms=2592000000
# Signals (NEAR_UPGRADE, DOWNGRADE_PENDING, ...) are keyed by customer too, kept like tier changes.
create "${PYRAMID_TOPIC_SIGNALS:-customer-signals}" "${SIGNALS_PARTITIONS:-6}" retention.ms=2592000000
create "${PYRAMID_TOPIC_DLQ:-transactions-dlq}" 1 retention.ms=2592000000
"$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP" --list
