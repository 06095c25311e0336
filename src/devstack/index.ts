/**
 * The embedded dev stack: a Kafka-protocol broker and a Confluent-compatible schema registry for
 * development, tests and demos. Production code never imports this folder.
 */
export { startDevStack, type DevStackBroker, type DevStackHandle, type DevStackOptions } from './dev-stack.js';
export { startSchemaRegistry, type SchemaRegistryHandle, type SchemaRegistryOptions } from './registry/index.js';
export { startBroker } from './broker/index.js';
