"""Kafka for EVCharging: topics, event values, partitioning, producer, consumer, admin.

Apps import from here (or the submodules); nobody builds confluent-kafka clients by hand.
"""

from wire.kafka.admin import broker_reachable, ensure_topics, topic_config
from wire.kafka.consumer import EventConsumer, Handler, Received
from wire.kafka.partitioner import partition_for
from wire.kafka.producer import EventProducer
from wire.kafka.security import KafkaSecurity, load_security
from wire.kafka.tail import TopicTail
from wire.kafka.topics import Topics, TopicSpec

__all__ = [
    "EventConsumer",
    "EventProducer",
    "KafkaSecurity",
    "Handler",
    "Received",
    "TopicSpec",
    "TopicTail",
    "Topics",
    "broker_reachable",
    "ensure_topics",
    "load_security",
    "partition_for",
    "topic_config",
]
