/**
 * The embedded dev stack: a Kafka-protocol broker and a Confluent-compatible schema registry for
 * development, tests and demos. A workspace package of its own so pyramid's production build and
 * image never contain it: pyramid's tests and `pyramid demo` load it, production code does not.
 */
export { startDevStack, type DevStackBroker, type DevStackHandle, type DevStackOptions } from './dev-stack.js';
export { startSchemaRegistry, type SchemaRegistryHandle, type SchemaRegistryOptions } from './registry/index.js';
export { startBroker, type BrokerHandle, type StartBrokerOptions } from './broker/index.js';
export { groupCoordinatorPlugin, type GroupCoordinatorPluginOptions } from './broker/group/plugin.js';
export { DevStackError } from './errors.js';
